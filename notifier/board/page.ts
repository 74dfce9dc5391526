import { $, el, errorMessage } from './dom';
import type { ConnectionState } from './feed';
import type { SessionUser } from './session';

/** The parts of the page outside the columns: views, the connection badge, notices, forms. */

const TOAST_MS = 6_000;

export const notify = (message: string, kind: 'info' | 'error' = 'info') => {
  const close = el(
    'button',
    { type: 'button', className: 'toast-close', attributes: { 'aria-label': 'Dismiss' } },
    '×',
  );
  const toast = el('div', { className: `toast ${kind}` }, el('p', {}, message), close);
  close.addEventListener('click', () => toast.remove());
  $('#toasts').append(toast);
  setTimeout(() => toast.remove(), TOAST_MS);
};

export const setConnection = (state: ConnectionState, text: string) => {
  const badge = $('#connection');
  badge.dataset.state = state;
  badge.textContent = text;
};

export const showBoardView = (me: SessionUser) => {
  $('#auth-view').hidden = true;
  $('#board-view').hidden = false;
  $('#session').hidden = false;
  $('#me').textContent = me.name || me.email || '';
};

export const showAuthView = (message?: string) => {
  $('#board-view').hidden = true;
  $('#session').hidden = true;
  $('#auth-view').hidden = false;
  showFormError($<HTMLFormElement>('#login'), message);
  $<HTMLInputElement>('#login input[name=email]').focus();
};

const showFormError = (form: HTMLFormElement, message: string | null | undefined) => {
  const error = $('.form-error', form);
  error.textContent = message ?? '';
  error.hidden = !message;
};

/** Runs a form's action with its submit button disabled; errors show in the form or as a notice. */
export const onSubmit = (
  form: HTMLFormElement,
  action: (form: HTMLFormElement) => Promise<void>,
) => {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = $<HTMLButtonElement>('[type=submit]', form);
    const hasErrorSlot = Boolean(form.querySelector('.form-error'));
    if (hasErrorSlot) showFormError(form, null);
    submit.disabled = true;
    try {
      await action(form);
    } catch (error) {
      if (hasErrorSlot) showFormError(form, errorMessage(error));
      else notify(errorMessage(error), 'error');
    } finally {
      submit.disabled = false;
    }
  });
};
