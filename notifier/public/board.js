/**
 * The TaskSync live board. It signs in through the identity-service, reads the
 * board from the query-service, sends commands to the command-service (all
 * through the notifier's same-origin proxy) and follows the notifier's
 * Socket.IO feed, so changes by anyone appear without a reload.
 *
 * Writes never touch the board directly: every change, one's own included,
 * arrives as an event, so there is one path that updates what is shown.
 */

const IDENTITY = '/api/identity';
const COMMAND = '/api/command';
const QUERY = '/api/query';
const PAGE_SIZE = 200;
const SESSION_KEY = 'tasksync.session';
const TOAST_MS = 6_000;
const DELETE_CONFIRM_MS = 4_000;

/** The status moves the command-service allows (design §3), as buttons. */
const MOVES = {
  pending: [{ to: 'in-progress', label: 'Start' }],
  'in-progress': [
    { to: 'completed', label: 'Complete' },
    { to: 'pending', label: 'Back to pending' },
  ],
  completed: [{ to: 'in-progress', label: 'Reopen' }],
};
const PRIORITY_LABELS = { low: 'Low', medium: 'Medium', high: 'High', urgent: 'Urgent' };
const USER_EVENTS = new Set(['UserRegistered', 'UserRoleChanged']);

const emptyState = () => ({
  tasks: new Map(),
  users: new Map(),
  /** Bumped when the user list changes, so assignee selects know to rebuild their options. */
  usersVersion: 0,
  /** log → last entry id seen; sent back as `since` so a reconnect resumes without a gap. */
  positions: new Map(),
  /** Tasks known to be deleted, so a late event for one does not fetch it again. */
  deleted: new Set(),
  /** taskId → events that arrived while that unknown task was being fetched. */
  fetching: new Map(),
  /** Events held while a resync reloads everything; null when none runs. */
  backlog: null,
  /** The position a running resync must still reach; null when it has reached them all. */
  resyncTo: null,
  /** taskId → (commentId → comment), for the cards that are open. */
  comments: new Map(),
  cards: new Map(),
});

const board = {
  session: null,
  socket: null,
  /** Bumped on sign-in and sign-out: async work of an older session drops its result. */
  generation: 0,
  ...emptyState(),
};

const $ = (selector) => document.querySelector(selector);

/** Builds an element; string children become text nodes, so user text is never parsed as HTML. */
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* ---- Session ---- */

const loadSession = () => {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
};

const saveSession = () => sessionStorage.setItem(SESSION_KEY, JSON.stringify(board.session));

const me = () => board.session.user;

/** Returns a check that is true while the session that called it is still the current one. */
const sessionGuard = () => {
  const generation = board.generation;
  return () => generation === board.generation;
};

/* ---- HTTP ---- */

class ApiError extends Error {
  constructor(status, problem) {
    super(describeProblem(status, problem));
    this.status = status;
  }
}

/** A problem+json answer as one line: the field errors when there are any, else the detail. */
const describeProblem = (status, problem) => {
  if (Array.isArray(problem?.errors) && problem.errors.length > 0) {
    return problem.errors
      .map(({ path, message }) => (path ? `${path}: ${message}` : message))
      .join('; ');
  }
  return problem?.detail || problem?.title || `The request failed (HTTP ${status}).`;
};

const parseJson = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};

/** One JSON call through the proxy; resolves to the body and the read position it reflects. */
const api = async (path, { method = 'GET', body, headers = {} } = {}) => {
  let response;
  try {
    response = await fetch(path, {
      method,
      // Never a cached answer: the feed resumes from the read position the answer reports.
      cache: 'no-store',
      headers: {
        Accept: 'application/json',
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
        ...(board.session && { Authorization: `Bearer ${board.session.token}` }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: 'The server cannot be reached.' });
  }
  const text = await response.text();
  const data = text ? parseJson(text) : null;
  if (!response.ok) {
    // A 401 with a token means the token expired or was revoked; without one it is a bad login.
    if (response.status === 401 && board.session) {
      signOut('Your session has ended. Please sign in again.');
    }
    throw new ApiError(response.status, data);
  }
  return { data, readPosition: response.headers.get('X-Read-Position') ?? '' };
};

/** Asks the query-service to answer only once its read model has applied these positions. */
const readAfter = (positions) =>
  positions ? { 'X-Min-Position': positions, 'X-Max-Wait-Ms': '10000' } : {};

/* ---- Positions ---- */

const ENTRY_ID = /^\d+-\d+$/;

/** Entry ids are `ms-seq`; compared as numbers, since string order breaks when a part grows a digit. */
const isAfter = (entryId, other) => {
  const [ms, seq] = entryId.split('-').map(BigInt);
  const [otherMs, otherSeq] = other.split('-').map(BigInt);
  return ms === otherMs ? seq > otherSeq : ms > otherMs;
};

/** Records a comma-separated position list, keeping the latest entry per log. */
const recordPositions = (list) => {
  for (const position of (list ?? '').split(',')) {
    const colon = position.indexOf(':');
    const log = position.slice(0, colon).trim();
    const entryId = position.slice(colon + 1).trim();
    if (colon < 1 || !ENTRY_ID.test(entryId)) continue;
    const known = board.positions.get(log);
    if (!known || isAfter(entryId, known)) board.positions.set(log, entryId);
  }
};

const since = () => [...board.positions].map(([log, entryId]) => `${log}:${entryId}`).join(',');

/* ---- Loading ---- */

/** Follows nextCursor to the end; `headers` go with the first page, the read that sets the position. */
const fetchAllPages = async (path, params, headers) => {
  const items = [];
  let cursor = null;
  let firstPosition = null;
  do {
    const query = new URLSearchParams({ ...params, limit: String(PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    const { data, readPosition } = await api(`${path}?${query}`, {
      headers: firstPosition === null ? headers : {},
    });
    firstPosition ??= readPosition;
    items.push(...data.items);
    cursor = data.nextCursor ?? null;
  } while (cursor);
  return { items, position: firstPosition };
};

/**
 * Reads every task, then every user. The first task page is the oldest read, so its
 * position is where the feed must resume: anything later that a following read already
 * shows comes again as an event and is skipped (tasks by revision; users are upserts).
 * Tasks sort by creation time, which never changes, so no task moves between pages.
 */
const loadSnapshot = async (minPosition) => {
  const tasks = await fetchAllPages(
    `${QUERY}/tasks`,
    { sort: 'createdAt' },
    readAfter(minPosition),
  );
  const users = await fetchAllPages(`${QUERY}/users`, {}, {});
  return {
    tasks: new Map(tasks.items.map((task) => [task.id, task])),
    users: new Map(users.items.map((user) => [user.id, user])),
    position: tasks.position,
  };
};

/** Loads until it works: the board is useless without a snapshot to resume the feed from. */
const loadSnapshotWithRetry = async (minPosition, isCurrent) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadSnapshot(minPosition);
    } catch (error) {
      if (!isCurrent() || error.status === 401) throw error;
      notify(`Could not load the board: ${error.message} Retrying…`, 'error');
      await sleep(Math.min(30_000, 1_000 * 2 ** attempt));
    }
  }
};

const applySnapshot = (snapshot) => {
  board.tasks = snapshot.tasks;
  board.users = snapshot.users;
  board.usersVersion++;
  renderBoard();
};

const startBoard = async () => {
  const isCurrent = sessionGuard();
  showBoardView();
  setConnection('connecting', 'Loading…');
  try {
    const snapshot = await loadSnapshotWithRetry(null, isCurrent);
    if (!isCurrent()) return;
    applySnapshot(snapshot);
    recordPositions(snapshot.position);
    connectFeed();
  } catch (error) {
    if (isCurrent()) notify(error.message, 'error');
  }
};

/**
 * The notifier could not replay what this page missed: reload everything at least as
 * new as the position it resumes from, holding the events that arrive meanwhile. A
 * second resync during the reload only raises the position the reload must reach.
 */
const resync = async ({ position }) => {
  board.resyncTo = position ?? '';
  if (board.backlog) return;
  const isCurrent = sessionGuard();
  board.backlog = [];
  setConnection('connecting', 'Refreshing…');
  while (board.resyncTo !== null) {
    const target = board.resyncTo;
    board.resyncTo = null;
    try {
      const snapshot = await loadSnapshotWithRetry(target, isCurrent);
      if (!isCurrent()) return;
      applySnapshot(snapshot);
      recordPositions(target);
    } catch (error) {
      if (isCurrent()) notify(error.message, 'error');
      return;
    }
  }
  const held = board.backlog;
  board.backlog = null;
  for (const event of held) handleEvent(event);
  // After a resync the server sends on live without a `live` message of its own.
  if (board.socket?.connected) setConnection('live', 'Live');
};

/* ---- Events ---- */

const handleEvent = (event) => {
  if (board.backlog) {
    board.backlog.push(event);
    return;
  }
  recordPositions(event.position);
  if (USER_EVENTS.has(event.type)) applyUserEvent(event);
  else applyTaskEvent(event);
};

const applyUserEvent = ({ type, aggregateId, data }) => {
  if (type === 'UserRegistered') {
    board.users.set(aggregateId, { id: aggregateId, name: data.name, role: data.role });
  } else {
    const user = board.users.get(aggregateId);
    if (user) user.role = data.to;
    // The signed-in user's role decides which delete buttons show.
    if (aggregateId === me().id) {
      me().role = data.to;
      saveSession();
    }
  }
  board.usersVersion++;
  refreshUserViews();
};

const taskFromCreated = ({ aggregateId, revision, at, data }) => ({
  id: aggregateId,
  ...data,
  createdAt: at,
  updatedAt: at,
  revision,
  commentCount: 0,
});

/** Folds one event into a task, as the projector does. */
const evolveTask = (task, { type, revision, at, data }) => {
  const next = { ...task, revision, updatedAt: at };
  switch (type) {
    case 'TaskDetailsChanged':
      return { ...next, ...data };
    case 'TaskStatusChanged':
      return { ...next, status: data.to };
    case 'TaskAssigned':
      return { ...next, assigneeId: data.assigneeId };
    case 'CommentAdded':
      return { ...next, commentCount: task.commentCount + 1 };
    default:
      return next;
  }
};

const applyTaskEvent = (event) => {
  const id = event.aggregateId;
  if (board.deleted.has(id)) return;
  const waiting = board.fetching.get(id);
  if (waiting) {
    waiting.push(event);
    return;
  }
  const task = board.tasks.get(id);
  if (!task) {
    if (event.type === 'TaskCreated') showTask(taskFromCreated(event), { flash: true });
    else if (event.type === 'TaskDeleted') board.deleted.add(id);
    else fetchUnknownTask(event);
    return;
  }
  // Replays overlap what the snapshot already shows; the revision tells them apart.
  if (event.revision <= task.revision) return;
  if (event.type === 'TaskDeleted') {
    forgetTask(id);
    return;
  }
  showTask(evolveTask(task, event), { flash: true });
  if (event.type === 'CommentAdded') {
    const { commentId, authorId, text } = event.data;
    addComments(id, [{ id: commentId, authorId, text, createdAt: event.at }]);
  }
};

/**
 * An event for a task this page never saw (its creation was before a resync, say):
 * fetch the task as of at least that event, then apply what arrived meanwhile.
 */
const fetchUnknownTask = async (event) => {
  const id = event.aggregateId;
  const isCurrent = sessionGuard();
  board.fetching.set(id, [event]);
  let task = null;
  try {
    ({ data: task } = await api(`${QUERY}/tasks/${encodeURIComponent(id)}`, {
      headers: readAfter(event.position),
    }));
  } catch (error) {
    if (!isCurrent()) return;
    if (error.status === 404 || error.status === 410) board.deleted.add(id);
    else notify(`A changed task could not be loaded: ${error.message}`, 'error');
  }
  if (!isCurrent()) return;
  const waiting = board.fetching.get(id);
  board.fetching.delete(id);
  if (!task) return;
  const { comments: _comments, ...fields } = task;
  showIfNewer(fields, { flash: true });
  for (const held of waiting) applyTaskEvent(held);
};

const showTask = (task, { flash = false } = {}) => {
  board.tasks.set(task.id, task);
  const card = syncCard(task);
  updateCounts();
  if (flash) flashCard(card.root);
};

/** For tasks read from the query-service, which may lag behind what the feed already showed. */
const showIfNewer = (task, options) => {
  if (task.revision > (board.tasks.get(task.id)?.revision ?? -1)) showTask(task, options);
};

const forgetTask = (id) => {
  board.tasks.delete(id);
  board.deleted.add(id);
  board.comments.delete(id);
  board.cards.get(id)?.root.remove();
  board.cards.delete(id);
  updateCounts();
};

/* ---- Live feed ---- */

const connectFeed = () => {
  // `auth` as a function: every reconnect sends the positions seen by then.
  const socket = io({
    auth: (send) => {
      const positions = since();
      // Always a `since`, even empty: a log it does not name replays from its start.
      send({ token: board.session?.token, since: positions });
    },
    transports: ['websocket'],
  });
  board.socket = socket;
  socket.on('connect', () => setConnection('connecting', 'Catching up…'));
  socket.on('event', handleEvent);
  socket.on('live', ({ position }) => {
    recordPositions(position);
    setConnection('live', 'Live');
  });
  socket.on('resync', resync);
  socket.on('assigned', noticeAssignment);
  socket.on('expired', () => signOut('Your session has ended. Please sign in again.'));
  socket.on('disconnect', (reason) => {
    if (socket.active) {
      setConnection('connecting', 'Reconnecting…');
      return;
    }
    setConnection('offline', 'Offline');
    // The server let go of us on purpose (a notifier shutting down, say), so Socket.IO
    // will not retry: reconnect after a moment, spread out so clients do not come back
    // at once. A refusal then ends in connect_error, which signs out.
    if (reason === 'io server disconnect') {
      setTimeout(() => board.socket === socket && socket.connect(), 1_000 + Math.random() * 2_000);
    }
  });
  socket.on('connect_error', (error) => {
    // Socket.IO keeps retrying network failures by itself; a refusal by the server stops it.
    if (socket.active) setConnection('connecting', 'Reconnecting…');
    else signOut(`Live updates were refused: ${error.data?.detail ?? error.message}`);
  });
};

const noticeAssignment = ({ taskId, actor }) => {
  if (actor === me().id) return;
  const title = board.tasks.get(taskId)?.title;
  const by = userName(actor);
  notify(title ? `${by} assigned “${title}” to you.` : `${by} assigned a task to you.`);
};

const setConnection = (state, text) => {
  const badge = $('#connection');
  badge.dataset.state = state;
  badge.textContent = text;
};

/* ---- Commands ---- */

/** Sends a command with its control disabled meanwhile; failures become a notice. */
const sendCommand = async (control, path, options) => {
  control.disabled = true;
  try {
    await api(path, options);
    return true;
  } catch (error) {
    notify(error.message, 'error');
    return false;
  } finally {
    control.disabled = false;
  }
};

const taskPath = (id) => `${COMMAND}/tasks/${encodeURIComponent(id)}`;

const moveTask = (id, to, button) =>
  sendCommand(button, taskPath(id), { method: 'PATCH', body: { status: to } });

const assignTask = async (id, select) => {
  const assigneeId = select.value || null;
  const done = await sendCommand(select, taskPath(id), { method: 'PATCH', body: { assigneeId } });
  // Put the select back to what the board knows; a success will arrive as an event.
  if (!done) select.value = board.tasks.get(id)?.assigneeId ?? '';
};

/** Deleting cannot be undone, so the first click only arms the button (no blocking dialog). */
const deleteTask = (id, button) => {
  if (button.dataset.armed !== 'true') {
    button.dataset.armed = 'true';
    button.textContent = 'Confirm delete';
    setTimeout(() => {
      button.dataset.armed = 'false';
      button.textContent = 'Delete';
    }, DELETE_CONFIRM_MS);
    return;
  }
  sendCommand(button, taskPath(id), { method: 'DELETE' });
};

const addComment = async (id, form) => {
  const text = form.elements.text.value.trim();
  if (!text) return;
  const submit = form.querySelector('[type=submit]');
  if (await sendCommand(submit, `${taskPath(id)}/comments`, { method: 'POST', body: { text } })) {
    form.reset();
  }
};

const createTask = async (form) => {
  const fields = new FormData(form);
  const body = { title: fields.get('title').trim(), priority: fields.get('priority') };
  const description = fields.get('description').trim();
  const labels = fields
    .get('labels')
    .split(',')
    .map((label) => label.trim())
    .filter(Boolean);
  if (description) body.description = description;
  if (fields.get('assigneeId')) body.assigneeId = fields.get('assigneeId');
  if (fields.get('dueDate')) body.dueDate = fields.get('dueDate');
  if (labels.length > 0) body.labels = labels;
  await api(`${COMMAND}/tasks`, { method: 'POST', body });
  form.reset();
  form.elements.title.focus();
};

/* ---- Rendering: the board ---- */

const columnOf = (status) => $(`.column[data-status="${status}"] .cards`);

const userName = (id) => {
  if (!id) return 'Unassigned';
  return board.users.get(id)?.name || 'Unknown user';
};

const localToday = () => {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
};

const formatDate = (isoDate) =>
  new Date(`${isoDate}T00:00:00`).toLocaleDateString(undefined, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  });

const formatDateTime = (iso) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A stable hue per user, so the same person has the same avatar colour everywhere. */
const hueOf = (id) => [...id].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) % 360, 7);

const initialsOf = (name) =>
  name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join('');

/** Newest first; creation time never changes, so a card only moves when its status does. */
const byNewest = (a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

const renderBoard = () => {
  for (const [id, card] of board.cards) {
    if (!board.tasks.has(id)) {
      card.root.remove();
      board.cards.delete(id);
      board.comments.delete(id);
    }
  }
  for (const task of [...board.tasks.values()].sort(byNewest)) {
    const card = syncCard(task, { placed: true });
    columnOf(task.status).append(card.root);
  }
  fillAssigneeSelect($('#create-task select[name=assigneeId]'));
  updateCounts();
};

const updateCounts = () => {
  for (const column of document.querySelectorAll('.column')) {
    column.querySelector('[data-count]').textContent =
      column.querySelector('.cards').children.length;
  }
};

/** Rebuilds the options only when the user list changed; keeps or sets the selection. */
const fillAssigneeSelect = (select, selectedId = select.value || null) => {
  const hasOption = [...select.options].some((option) => option.value === (selectedId ?? ''));
  if (select.dataset.usersVersion !== String(board.usersVersion) || !hasOption) {
    const users = [...board.users.values()].sort((a, b) => a.name.localeCompare(b.name));
    const options = users.map((user) => el('option', { value: user.id }, user.name || user.id));
    if (selectedId && !board.users.has(selectedId)) {
      options.push(el('option', { value: selectedId }, 'Unknown user'));
    }
    select.replaceChildren(el('option', { value: '' }, 'Unassigned'), ...options);
    select.dataset.usersVersion = String(board.usersVersion);
  }
  select.value = selectedId ?? '';
};

const refreshUserViews = () => {
  for (const task of board.tasks.values()) syncCard(task);
  for (const taskId of board.comments.keys()) renderComments(taskId);
  fillAssigneeSelect($('#create-task select[name=assigneeId]'));
};

const flashCard = (root) => {
  root.classList.remove('flash');
  // Reading layout restarts the animation when a card changes twice in a row.
  void root.offsetWidth;
  root.classList.add('flash');
};

/* ---- Rendering: one card ---- */

const createCard = (id) => {
  const card = {
    root: el('article', { className: 'card', dataset: { taskId: id } }),
    priority: el('span', { className: 'badge' }),
    due: el('span', { className: 'due' }),
    title: el('h3', { className: 'card-title' }),
    labels: el('ul', { className: 'labels', 'aria-label': 'Labels' }),
    avatar: el('span', { className: 'avatar', 'aria-hidden': 'true' }),
    assignee: el('span', { className: 'card-assignee' }),
    commentCount: el('span', { className: 'comment-count' }),
    moves: el('div', { className: 'moves' }),
    assign: el('select', { name: 'assigneeId' }),
    toggle: el('button', { type: 'button', className: 'button small ghost' }, 'Details'),
    remove: el('button', { type: 'button', className: 'button small danger' }, 'Delete'),
    description: el('p', { className: 'description' }),
    comments: el('ol', { className: 'comments' }),
    details: el('div', { className: 'card-details', id: `details-${id}`, hidden: true }),
    status: null,
  };
  card.toggle.setAttribute('aria-expanded', 'false');
  card.toggle.setAttribute('aria-controls', card.details.id);
  card.assign.addEventListener('change', () => assignTask(id, card.assign));
  card.toggle.addEventListener('click', () => toggleDetails(id));
  card.remove.addEventListener('click', () => deleteTask(id, card.remove));
  // Dropped when done, or moving the card to another column would replay the highlight.
  card.root.addEventListener('animationend', () => card.root.classList.remove('flash'));

  const commentForm = el(
    'form',
    { className: 'comment-form' },
    el(
      'label',
      {},
      'Add a comment',
      el('textarea', { name: 'text', rows: 2, maxLength: 5000, required: true }),
    ),
    el('button', { type: 'submit', className: 'button small primary' }, 'Comment'),
  );
  commentForm.addEventListener('submit', (event) => {
    event.preventDefault();
    addComment(id, commentForm);
  });
  card.details.append(
    el('h4', {}, 'Description'),
    card.description,
    el('h4', {}, 'Comments'),
    card.comments,
    commentForm,
  );
  card.actions = el(
    'div',
    { className: 'card-actions' },
    card.moves,
    el(
      'label',
      { className: 'assign' },
      el('span', { className: 'sr-only' }, 'Assignee'),
      card.assign,
    ),
  );
  card.root.append(
    el('div', { className: 'card-top' }, card.priority, card.due),
    card.title,
    card.labels,
    el('div', { className: 'card-people' }, card.avatar, card.assignee, card.commentCount),
    card.actions,
    el('div', { className: 'card-tools' }, card.toggle, card.remove),
    card.details,
  );
  board.cards.set(id, card);
  return card;
};

/** Brings a card in line with its task, touching only what changed so focus and typing survive. */
const syncCard = (task, { placed = false } = {}) => {
  const card = board.cards.get(task.id) ?? createCard(task.id);
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
  card.avatar.style.setProperty('--hue', task.assigneeId ? hueOf(task.assigneeId) : 220);
  card.commentCount.textContent =
    task.commentCount === 1 ? '1 comment' : `${task.commentCount} comments`;
  fillAssigneeSelect(card.assign, task.assigneeId);
  card.remove.hidden = !(task.createdBy === me().id || me().role === 'admin');
  // The API lets the creator, the assignee and admins change a task (403 for others).
  card.actions.hidden = !(
    task.createdBy === me().id ||
    task.assigneeId === me().id ||
    me().role === 'admin'
  );
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

const syncDue = (due, task) => {
  const overdue = task.dueDate && task.dueDate < localToday() && task.status !== 'completed';
  due.hidden = !task.dueDate;
  due.textContent = task.dueDate
    ? `${overdue ? 'Overdue' : 'Due'} ${formatDate(task.dueDate)}`
    : '';
  due.classList.toggle('overdue', Boolean(overdue));
};

const syncMoves = (card, task) => {
  card.status = task.status;
  card.moves.replaceChildren(
    ...(MOVES[task.status] ?? []).map(({ to, label }) => {
      const button = el(
        'button',
        { type: 'button', className: 'button small', dataset: { moveTo: to } },
        label,
      );
      button.addEventListener('click', () => moveTask(task.id, to, button));
      return button;
    }),
  );
};

/** Inserts the card into its status column, before the first older card. */
const placeCard = (card, task) => {
  const column = columnOf(task.status);
  const next = [...column.children].find((other) => {
    const otherTask = other !== card.root && board.tasks.get(other.dataset.taskId);
    return otherTask && byNewest(task, otherTask) < 0;
  });
  column.insertBefore(card.root, next ?? null);
};

/* ---- Rendering: details and comments ---- */

const toggleDetails = async (id) => {
  const card = board.cards.get(id);
  const open = card.details.hidden;
  card.details.hidden = !open;
  card.toggle.setAttribute('aria-expanded', String(open));
  card.toggle.textContent = open ? 'Hide details' : 'Details';
  if (!open) {
    board.comments.delete(id);
    return;
  }
  // Created before the fetch, so comments arriving live meanwhile are kept.
  board.comments.set(id, new Map());
  renderComments(id);
  const isCurrent = sessionGuard();
  try {
    const { data } = await api(`${QUERY}/tasks/${encodeURIComponent(id)}`);
    if (!isCurrent()) return;
    const { comments, ...task } = data;
    showIfNewer(task);
    addComments(id, comments);
  } catch (error) {
    if (isCurrent()) notify(`Could not load the comments: ${error.message}`, 'error');
  }
};

/** Adds comments to an open card; the map by id makes a comment seen twice appear once. */
const addComments = (taskId, comments) => {
  const known = board.comments.get(taskId);
  if (!known) return;
  for (const comment of comments) known.set(comment.id, comment);
  renderComments(taskId);
};

const renderComments = (taskId) => {
  const list = board.cards.get(taskId)?.comments;
  if (!list) return;
  const comments = [...(board.comments.get(taskId)?.values() ?? [])].sort((a, b) =>
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

/* ---- Notices ---- */

const notify = (message, kind = 'info') => {
  const close = el(
    'button',
    { type: 'button', className: 'toast-close', 'aria-label': 'Dismiss' },
    '×',
  );
  const toast = el('div', { className: `toast ${kind}` }, el('p', {}, message), close);
  close.addEventListener('click', () => toast.remove());
  $('#toasts').append(toast);
  setTimeout(() => toast.remove(), TOAST_MS);
};

/* ---- Views and forms ---- */

const showBoardView = () => {
  $('#auth-view').hidden = true;
  $('#board-view').hidden = false;
  $('#session').hidden = false;
  $('#me').textContent = me().name || me().email;
};

const showAuthView = (message) => {
  $('#board-view').hidden = true;
  $('#session').hidden = true;
  $('#auth-view').hidden = false;
  showFormError($('#login'), message);
  $('#login input[name=email]').focus();
};

const showFormError = (form, message) => {
  const error = form.querySelector('.form-error');
  error.textContent = message ?? '';
  error.hidden = !message;
};

/** Runs a form's action with its submit button disabled; errors show in the form or as a notice. */
const onSubmit = (form, action) => {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = form.querySelector('[type=submit]');
    const hasErrorSlot = Boolean(form.querySelector('.form-error'));
    if (hasErrorSlot) showFormError(form, null);
    submit.disabled = true;
    try {
      await action(form);
    } catch (error) {
      if (hasErrorSlot) showFormError(form, error.message);
      else notify(error.message, 'error');
    } finally {
      submit.disabled = false;
    }
  });
};

const signIn = async (email, password) => {
  const { data } = await api(`${IDENTITY}/auth/login`, {
    method: 'POST',
    body: { email, password },
  });
  board.generation++;
  board.session = { token: data.token, user: data.user };
  saveSession();
  startBoard();
};

const register = async (form) => {
  const name = form.elements.name.value.trim();
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  await api(`${IDENTITY}/auth/register`, {
    method: 'POST',
    body: { email, password, ...(name && { name }) },
  });
  form.reset();
  await signIn(email, password);
};

const signOut = (message) => {
  board.generation++;
  board.socket?.close();
  board.socket = null;
  board.session = null;
  sessionStorage.removeItem(SESSION_KEY);
  Object.assign(board, emptyState());
  for (const column of document.querySelectorAll('.column .cards')) column.replaceChildren();
  updateCounts();
  setConnection('offline', 'Offline');
  showAuthView(message);
};

onSubmit($('#login'), async (form) => {
  await signIn(form.elements.email.value.trim(), form.elements.password.value);
  form.reset();
});
onSubmit($('#register'), register);
onSubmit($('#create-task'), createTask);
$('#sign-out').addEventListener('click', () => signOut());

board.session = loadSession();
if (board.session?.token) startBoard();
else showAuthView();
