import { allowedStatusMoves, type Priority, type Task, type TaskStatus } from '@tasksync/contracts';
import type { BoardUser, Comment } from './api';
import { $, el } from './dom';
import {
  assignableIn,
  type MemberView,
  moveTargets,
  type ProjectView,
  taskPermissions,
} from './projects';
import type { SessionUser } from './session';

/** What the board shows, and the cards it shows it with. */
export interface BoardState {
  tasks: Map<string, Task>;
  users: Map<string, BoardUser>;
  /** Bumped when the user list changes, so assignee selects know to rebuild their options. */
  usersVersion: number;
  /** taskId → (commentId → comment), for the cards that are open. */
  comments: Map<string, Map<string, Comment>>;
  /** The cards of the project shown; tasks of other projects have none. */
  cards: Map<string, Card>;
  /** The projects the person sees, archived ones included. */
  projects: Map<string, ProjectView>;
  /** Bumped when the projects change, so the cards' "move to project" selects rebuild. */
  projectsVersion: number;
  /** The project whose tasks the columns show. */
  currentProjectId: string | null;
  /** The members of the project shown, once read (null until then, or if they cannot be read). */
  members: Map<string, MemberView> | null;
}

/** What a card's controls do; the board sends the commands. */
export interface CardActions {
  move(taskId: string, to: TaskStatus, button: HTMLButtonElement): void;
  assign(taskId: string, select: HTMLSelectElement): void;
  remove(taskId: string, button: HTMLButtonElement): void;
  comment(taskId: string, form: HTMLFormElement): void;
  toggleDetails(taskId: string): void;
  moveToProject(taskId: string, select: HTMLSelectElement): void;
}

export interface Card {
  root: HTMLElement;
  priority: HTMLElement;
  due: HTMLElement;
  title: HTMLElement;
  labels: HTMLElement;
  avatar: HTMLElement;
  assignee: HTMLElement;
  commentCount: HTMLElement;
  moves: HTMLElement;
  assign: HTMLSelectElement;
  toggle: HTMLButtonElement;
  remove: HTMLButtonElement;
  /** "Move to project": the projects the task may go to. */
  moveProject: HTMLSelectElement;
  commentForm: HTMLFormElement;
  description: HTMLElement;
  comments: HTMLElement;
  details: HTMLElement;
  actions: HTMLElement;
  /** The status the move buttons were made for. */
  status: TaskStatus | null;
}

const PRIORITY_LABELS: Record<Priority, string> = {
  low: 'Low',
  medium: 'Medium',
  high: 'High',
  urgent: 'Urgent',
};

/** A move's button text; which moves exist is the contracts' `allowedStatusMoves`. */
const moveLabel = (from: TaskStatus, to: TaskStatus) => {
  if (to === 'in-progress') return from === 'completed' ? 'Reopen' : 'Start';
  return to === 'completed' ? 'Complete' : 'Back to pending';
};

const localToday = () => {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
};

const formatDate = (isoDate: string) =>
  new Date(`${isoDate}T00:00:00`).toLocaleDateString(undefined, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  });

const formatDateTime = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A stable hue per user, so the same person has the same avatar colour everywhere. */
const hueOf = (id: string) =>
  [...id].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) % 360, 7);

const initialsOf = (name: string) =>
  name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word.charAt(0).toUpperCase())
    .join('');

/** Newest first; creation time never changes, so a card only moves when its status does. */
const byNewest = (a: Task, b: Task) =>
  b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

const columnOf = (status: TaskStatus) => $(`.column[data-status="${status}"] .cards`);

export const createAssigneeSelect = () =>
  $<HTMLSelectElement>('#create-task select[name=assigneeId]');

export const updateCounts = () => {
  for (const column of document.querySelectorAll('.column')) {
    $('[data-count]', column).textContent = String($('.cards', column).children.length);
  }
};

/** Empties the columns (signing out). */
export const clearColumns = () => {
  for (const column of document.querySelectorAll('.column .cards')) column.replaceChildren();
  updateCounts();
};

/** Runs an element's highlight animation again, even when it is still running. */
export const flashCard = (root: HTMLElement) => {
  root.classList.remove('flash');
  // Reading layout restarts the animation when a card changes twice in a row.
  void root.offsetWidth;
  root.classList.add('flash');
};

/** The columns and cards of one session's board. */
export const createBoardView = (state: BoardState, me: () => SessionUser, actions: CardActions) => {
  const userName = (id: string | null) => {
    if (!id) return 'Unassigned';
    return state.users.get(id)?.name || 'Unknown user';
  };

  const currentProject = () =>
    state.currentProjectId ? state.projects.get(state.currentProjectId) : undefined;

  /**
   * Rebuilds the options only when the user list changed; keeps or sets the selection.
   * In a private project only its members may be assigned (422 otherwise).
   */
  const fillAssigneeSelect = (
    select: HTMLSelectElement,
    selectedId: string | null = select.value || null,
  ) => {
    const hasOption = [...select.options].some((option) => option.value === (selectedId ?? ''));
    if (select.dataset.usersVersion !== String(state.usersVersion) || !hasOption) {
      const assignable = assignableIn(currentProject(), state.members);
      const users = [...state.users.values()]
        .filter((user) => !assignable || assignable.has(user.id))
        .sort((a, b) => a.name.localeCompare(b.name));
      const options = users.map((user) => el('option', { value: user.id }, user.name || user.id));
      if (selectedId && !users.some((user) => user.id === selectedId)) {
        options.push(el('option', { value: selectedId }, userName(selectedId)));
      }
      select.replaceChildren(el('option', { value: '' }, 'Unassigned'), ...options);
      select.dataset.usersVersion = String(state.usersVersion);
    }
    select.value = selectedId ?? '';
  };

  const createCard = (id: string): Card => {
    const details = el('div', { className: 'card-details', id: `details-${id}`, hidden: true });
    const moves = el('div', { className: 'moves' });
    const assign = el('select', { name: 'assigneeId' });
    const moveProject = el('select', { name: 'projectId' });
    const card: Card = {
      root: el('article', { className: 'card', dataset: { taskId: id } }),
      priority: el('span', { className: 'badge' }),
      due: el('span', { className: 'due' }),
      title: el('h3', { className: 'card-title' }),
      labels: el('ul', { className: 'labels', attributes: { 'aria-label': 'Labels' } }),
      avatar: el('span', { className: 'avatar', attributes: { 'aria-hidden': 'true' } }),
      assignee: el('span', { className: 'card-assignee' }),
      commentCount: el('span', { className: 'comment-count' }),
      moves,
      assign,
      toggle: el('button', { type: 'button', className: 'button small ghost' }, 'Details'),
      remove: el('button', { type: 'button', className: 'button small danger' }, 'Delete'),
      moveProject,
      commentForm: el(
        'form',
        { className: 'comment-form' },
        el(
          'label',
          {},
          'Add a comment',
          el('textarea', { name: 'text', rows: 2, maxLength: 5000, required: true }),
        ),
        el('button', { type: 'submit', className: 'button small primary' }, 'Comment'),
      ),
      description: el('p', { className: 'description' }),
      comments: el('ol', { className: 'comments' }),
      details,
      actions: el(
        'div',
        { className: 'card-actions' },
        moves,
        el(
          'label',
          { className: 'assign' },
          el('span', { className: 'sr-only' }, 'Assignee'),
          assign,
        ),
      ),
      status: null,
    };
    card.toggle.setAttribute('aria-expanded', 'false');
    card.toggle.setAttribute('aria-controls', card.details.id);
    card.assign.addEventListener('change', () => actions.assign(id, card.assign));
    card.toggle.addEventListener('click', () => actions.toggleDetails(id));
    card.remove.addEventListener('click', () => actions.remove(id, card.remove));
    card.moveProject.addEventListener('change', () => actions.moveToProject(id, card.moveProject));
    // Dropped when done, or moving the card to another column would replay the highlight.
    card.root.addEventListener('animationend', () => card.root.classList.remove('flash'));

    card.commentForm.addEventListener('submit', (event) => {
      event.preventDefault();
      actions.comment(id, card.commentForm);
    });
    card.details.append(
      el('h4', {}, 'Description'),
      card.description,
      el('h4', {}, 'Comments'),
      card.comments,
      card.commentForm,
    );
    card.root.append(
      el('div', { className: 'card-top' }, card.priority, card.due),
      card.title,
      card.labels,
      el('div', { className: 'card-people' }, card.avatar, card.assignee, card.commentCount),
      card.actions,
      el(
        'div',
        { className: 'card-tools' },
        card.toggle,
        el(
          'label',
          { className: 'move-project' },
          el('span', { className: 'sr-only' }, 'Move to project'),
          card.moveProject,
        ),
        card.remove,
      ),
      card.details,
    );
    state.cards.set(id, card);
    return card;
  };

  /**
   * Brings a card in line with its task, touching only what changed so focus and typing
   * survive. A task of another project has no card: null, and a card it had goes.
   */
  const syncCard = (task: Task, { placed = false } = {}) => {
    if (task.projectId !== state.currentProjectId) {
      removeCard(task.id);
      return null;
    }
    const card = state.cards.get(task.id) ?? createCard(task.id);
    card.root.dataset.status = task.status;
    card.priority.className = `badge priority-${task.priority}`;
    card.priority.textContent = PRIORITY_LABELS[task.priority] ?? task.priority;
    syncDue(card.due, task);
    card.title.textContent = task.title;
    card.labels.replaceChildren(...(task.labels ?? []).map((label) => el('li', {}, label)));
    card.labels.hidden = !task.labels?.length;
    const name = userName(task.assigneeId);
    card.assignee.textContent = name;
    card.assignee.classList.toggle('muted', !task.assigneeId);
    card.avatar.textContent = task.assigneeId ? initialsOf(name) : '–';
    card.avatar.style.setProperty('--hue', String(task.assigneeId ? hueOf(task.assigneeId) : 220));
    card.commentCount.textContent =
      task.commentCount === 1 ? '1 comment' : `${task.commentCount} comments`;
    fillAssigneeSelect(card.assign, task.assigneeId);
    // Only what the API would allow (§10's table): anything else would answer 403 or 409.
    const allowed = taskPermissions(state.projects.get(task.projectId), task, me().id);
    card.actions.hidden = !allowed.change;
    card.remove.hidden = !allowed.remove;
    card.commentForm.hidden = !allowed.comment;
    syncMoveProject(card, task);
    card.description.textContent = task.description || 'No description.';
    card.description.classList.toggle('muted', !task.description);
    if (card.status !== task.status) {
      const hadFocus = card.root.contains(document.activeElement);
      syncMoves(card, task);
      if (!placed) placeCard(card, task);
      // Moving a card takes the focus with it out of the document; give it back.
      if (hadFocus) card.moves.querySelector('button')?.focus();
    }
    return card;
  };

  /** Rebuilds the "move to project" options when the projects changed; hidden with no target. */
  const syncMoveProject = (card: Card, task: Task) => {
    const select = card.moveProject;
    const version = `${state.projectsVersion}:${task.projectId}:${task.createdBy}:${task.assigneeId}`;
    if (select.dataset.version === version) return;
    select.dataset.version = version;
    const targets = moveTargets(state.projects, task, me().id);
    select.replaceChildren(
      el('option', { value: '' }, 'Move to…'),
      ...targets.map((project) => el('option', { value: project.id }, project.name)),
    );
    select.value = '';
    (select.parentElement ?? select).hidden = targets.length === 0;
  };

  const syncDue = (due: HTMLElement, task: Task) => {
    const overdue = task.dueDate && task.dueDate < localToday() && task.status !== 'completed';
    due.hidden = !task.dueDate;
    due.textContent = task.dueDate
      ? `${overdue ? 'Overdue' : 'Due'} ${formatDate(task.dueDate)}`
      : '';
    due.classList.toggle('overdue', Boolean(overdue));
  };

  const syncMoves = (card: Card, task: Task) => {
    card.status = task.status;
    card.moves.replaceChildren(
      ...(allowedStatusMoves[task.status] ?? []).map((to) => {
        const button = el(
          'button',
          { type: 'button', className: 'button small', dataset: { moveTo: to } },
          moveLabel(task.status, to),
        );
        button.addEventListener('click', () => actions.move(task.id, to, button));
        return button;
      }),
    );
  };

  /** Inserts the card into its status column, before the first older card. */
  const placeCard = (card: Card, task: Task) => {
    const column = columnOf(task.status);
    const next = [...column.children].find((other) => {
      const otherTask =
        other !== card.root && state.tasks.get((other as HTMLElement).dataset.taskId ?? '');
      return otherTask && byNewest(task, otherTask) < 0;
    });
    column.insertBefore(card.root, next ?? null);
  };

  const removeCard = (taskId: string) => {
    state.cards.get(taskId)?.root.remove();
    state.cards.delete(taskId);
  };

  const renderComments = (taskId: string) => {
    const list = state.cards.get(taskId)?.comments;
    if (!list) return;
    const comments = [...(state.comments.get(taskId)?.values() ?? [])].sort((a, b) =>
      a.createdAt.localeCompare(b.createdAt),
    );
    if (comments.length === 0) {
      list.replaceChildren(el('li', { className: 'muted empty' }, 'No comments yet.'));
      return;
    }
    list.replaceChildren(
      ...comments.map((comment) =>
        el(
          'li',
          { className: 'comment', dataset: { commentId: comment.id } },
          el(
            'div',
            { className: 'comment-head' },
            el('strong', {}, userName(comment.authorId)),
            el('time', { dateTime: comment.createdAt }, formatDateTime(comment.createdAt)),
          ),
          el('p', {}, comment.text),
        ),
      ),
    );
  };

  return {
    userName,
    syncCard,
    renderComments,

    /**
     * Lays out every card of the project shown anew, after a snapshot replaced what the
     * board shows or another project was chosen.
     */
    renderBoard() {
      for (const [id, card] of state.cards) {
        if (state.tasks.get(id)?.projectId !== state.currentProjectId) {
          card.root.remove();
          state.cards.delete(id);
          state.comments.delete(id);
        }
      }
      const shown = [...state.tasks.values()].filter(
        (task) => task.projectId === state.currentProjectId,
      );
      for (const task of shown.sort(byNewest)) {
        const card = syncCard(task, { placed: true });
        if (card) columnOf(task.status).append(card.root);
      }
      fillAssigneeSelect(createAssigneeSelect());
      updateCounts();
    },

    /** After the projects or the members changed: permissions, move targets, assignees. */
    refreshProjectViews() {
      for (const task of state.tasks.values()) {
        if (task.projectId === state.currentProjectId) syncCard(task);
      }
      fillAssigneeSelect(createAssigneeSelect());
    },

    refreshUserViews() {
      for (const task of state.tasks.values()) {
        if (task.projectId === state.currentProjectId) syncCard(task);
      }
      for (const taskId of state.comments.keys()) renderComments(taskId);
      fillAssigneeSelect(createAssigneeSelect());
    },

    /** Opens or closes a card's details; true when it is now open. */
    toggleDetails(taskId: string) {
      const card = state.cards.get(taskId);
      if (!card) return false;
      const open = card.details.hidden;
      card.details.hidden = !open;
      card.toggle.setAttribute('aria-expanded', String(open));
      card.toggle.textContent = open ? 'Hide details' : 'Details';
      return open;
    },

    removeCard,
  };
};

export type BoardView = ReturnType<typeof createBoardView>;
