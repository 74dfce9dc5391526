/**
 * The TaskSync live board: the page's entry module, bundled for the browser by
 * the notifier (notifier/src/board/bundle.ts). It signs people in and out; a
 * signed-in session's board is live-board.ts.
 */
import { answer, createBoardClient } from './api';
import { $, control } from './dom';
import { type LiveBoard, startLiveBoard } from './live-board';
import { onSubmit, setConnection, showAuthView } from './page';
import { bindProjectControls, clearProjects } from './projects-view';
import { clearColumns } from './render';
import { forgetSession, loadSession, type Session, saveSession } from './session';

/** Calls made signed out (login, register): no token, so a 401 is a bad login. */
const anonymous = createBoardClient({ baseUrl: location.origin });
let board: LiveBoard | null = null;

const startBoard = (session: Session) => {
  board?.stop();
  board = startLiveBoard(session, { signOut });
};

const signIn = async (email: string, password: string) => {
  const { data } = await answer(anonymous.POST('/auth/login', { body: { email, password } }));
  const session = { token: data.token, user: data.user };
  saveSession(session);
  startBoard(session);
};

const register = async (form: HTMLFormElement) => {
  const name = control(form, 'name').value.trim();
  const email = control(form, 'email').value.trim();
  const password = control(form, 'password').value;
  await anonymous.POST('/auth/register', { body: { email, password, ...(name && { name }) } });
  form.reset();
  await signIn(email, password);
};

function signOut(message?: string) {
  board?.stop();
  board = null;
  forgetSession();
  clearColumns();
  clearProjects();
  setConnection('offline', 'Offline');
  showAuthView(message);
}

onSubmit($<HTMLFormElement>('#login'), async (form) => {
  await signIn(control(form, 'email').value.trim(), control(form, 'password').value);
  form.reset();
});
onSubmit($<HTMLFormElement>('#register'), register);
onSubmit($<HTMLFormElement>('#create-task'), async (form) => {
  await board?.createTask(form);
});
bindProjectControls(() => board);
$('#sign-out').addEventListener('click', () => signOut());

const session = loadSession();
if (session?.token) startBoard(session);
else showAuthView();
