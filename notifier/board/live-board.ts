import type { Priority, Task, TaskStatus } from '@tasksync/contracts';
import {
  ApiError,
  type BoardUser,
  type Comment,
  createBoardClient,
  fetchAllPages,
  readTask,
  type TaskView,
} from './api';
import { control, errorMessage, sleep } from './dom';
import { connectFeed, type Feed, type MembershipNotice, SESSION_ENDED } from './feed';
import {
  type AssignedNotice,
  type FeedEvent,
  foldTaskMessage,
  fromView,
  isProjectMessage,
  isTaskMessage,
  isUserMessage,
  type TaskMessage,
  type UserMessage,
} from './fold';
import { notify, setConnection, showBoardView } from './page';
import { createPositionTracker, readAfter } from './positions';
import { createProjectSync } from './project-sync';
import type { ProjectView } from './projects';
import { type BoardState, createBoardView, flashCard, updateCounts } from './render';
import { type Session, saveSession } from './session';

const DELETE_CONFIRM_MS = 4_000;

interface Snapshot {
  tasks: Map<string, Task>;
  users: Map<string, BoardUser>;
  projects: Map<string, ProjectView>;
  position: string | null;
}

/** What the feed sends, in the order it sends it, for holding while a resync reloads. */
type FeedMessage =
  | { kind: 'event'; event: FeedEvent }
  | { kind: 'joined' | 'left'; notice: MembershipNotice };

/**
 * One signed-in session's board: it reads the board from the query-service,
 * sends commands to the command-service and follows the notifier's feed, so
 * changes by anyone appear without a reload.
 *
 * Writes never touch the board directly: every change, one's own included,
 * arrives as an event, so there is one path that updates what is shown.
 */
export const startLiveBoard = (
  session: Session,
  { signOut }: { signOut(message: string): void },
) => {
  /** False once the session has ended: async work of this board then drops its result. */
  let current = true;
  const isCurrent = () => current;
  const endSession = (message: string) => {
    if (current) signOut(message);
  };
  const client = createBoardClient({
    baseUrl: location.origin,
    token: session.token,
    onUnauthorized: () => endSession(SESSION_ENDED),
  });
  const me = () => session.user;
  const positions = createPositionTracker();
  const state: BoardState = {
    tasks: new Map(),
    users: new Map(),
    usersVersion: 0,
    comments: new Map(),
    cards: new Map(),
    projects: new Map(),
    projectsVersion: 0,
    currentProjectId: null,
    members: null,
  };
  /** Tasks known to be deleted, so a late event for one does not fetch it again. */
  const deleted = new Set<string>();
  /** taskId → events that arrived while that unknown task was being fetched. */
  const fetching = new Map<string, TaskMessage[]>();
  /** Feed messages held while a resync reloads everything; null when none runs. */
  let backlog: FeedMessage[] | null = null;
  /** The position a running resync must still reach; null when it has reached them all. */
  let resyncTo: string | null = null;
  let feed: Feed | null = null;

  /* ---- Commands ---- */

  /** Sends a command with its control disabled meanwhile; failures become a notice. */
  const sendCommand = async (
    control: HTMLButtonElement | HTMLSelectElement,
    command: () => Promise<unknown>,
  ) => {
    control.disabled = true;
    try {
      await command();
      return true;
    } catch (error) {
      notify(errorMessage(error), 'error');
      return false;
    } finally {
      control.disabled = false;
    }
  };

  const task = (id: string) => ({ params: { path: { id } } });

  const actions = {
    move: (id: string, to: TaskStatus, button: HTMLButtonElement) =>
      void sendCommand(button, () =>
        client.PATCH('/tasks/{id}', { ...task(id), body: { status: to } }),
      ),

    assign: async (id: string, select: HTMLSelectElement) => {
      const assigneeId = select.value || null;
      const done = await sendCommand(select, () =>
        client.PATCH('/tasks/{id}', { ...task(id), body: { assigneeId } }),
      );
      // Put the select back to what the board knows; a success will arrive as an event.
      if (!done) select.value = state.tasks.get(id)?.assigneeId ?? '';
    },

    /** Deleting cannot be undone, so the first click only arms the button (no blocking dialog). */
    remove: (id: string, button: HTMLButtonElement) => {
      if (button.dataset.armed !== 'true') {
        button.dataset.armed = 'true';
        button.textContent = 'Confirm delete';
        setTimeout(() => {
          button.dataset.armed = 'false';
          button.textContent = 'Delete';
        }, DELETE_CONFIRM_MS);
        return;
      }
      void sendCommand(button, () => client.DELETE('/tasks/{id}', task(id)));
    },

    comment: async (id: string, form: HTMLFormElement) => {
      const text = control<HTMLTextAreaElement>(form, 'text').value.trim();
      if (!text) return;
      const submit = form.querySelector<HTMLButtonElement>('[type=submit]');
      if (!submit) return;
      if (
        await sendCommand(submit, () =>
          client.POST('/tasks/{id}/comments', { ...task(id), body: { text } }),
        )
      ) {
        form.reset();
      }
    },

    moveToProject: async (id: string, select: HTMLSelectElement) => {
      const projectId = select.value;
      if (!projectId) return;
      // One TaskMoved; the card leaves this project's columns when it arrives.
      await sendCommand(select, () =>
        client.PATCH('/tasks/{id}', { ...task(id), body: { projectId } }),
      );
      select.value = '';
    },

    toggleDetails: async (id: string) => {
      if (!view.toggleDetails(id)) {
        state.comments.delete(id);
        return;
      }
      // Created before the fetch, so comments arriving live meanwhile are kept.
      state.comments.set(id, new Map());
      view.renderComments(id);
      try {
        const { comments, ...fields } = await readTask(client, id);
        if (!isCurrent()) return;
        showIfNewer(fromView(fields));
        addComments(id, comments);
      } catch (error) {
        if (isCurrent()) notify(`Could not load the comments: ${errorMessage(error)}`, 'error');
      }
    },
  };

  const view = createBoardView(state, me, actions);
  const projects = createProjectSync({
    client,
    state,
    view,
    positions,
    me,
    isCurrent,
    sendCommand,
    showFetchedTask: (task) => {
      if (!deleted.has(task.id)) showIfNewer(fromView(task));
    },
    dropTask: (id) => dropTask(id),
  });

  const createTask = async (form: HTMLFormElement) => {
    const fields = new FormData(form);
    const field = (name: string) => String(fields.get(name) ?? '');
    const description = field('description').trim();
    const labels = field('labels')
      .split(',')
      .map((label) => label.trim())
      .filter(Boolean);
    await client.POST('/tasks', {
      body: {
        title: field('title').trim(),
        // The form's select offers exactly the priorities there are.
        priority: field('priority') as Priority,
        // Into the project shown (without one, the API puts it in General).
        ...(state.currentProjectId && { projectId: state.currentProjectId }),
        ...(description && { description }),
        ...(field('assigneeId') && { assigneeId: field('assigneeId') }),
        ...(field('dueDate') && { dueDate: field('dueDate') }),
        ...(labels.length > 0 && { labels }),
      },
    });
    form.reset();
    control<HTMLInputElement>(form, 'title').focus();
  };

  /* ---- What the board shows ---- */

  /**
   * Holds and shows a task (its card only when its project is the one shown). A task
   * of a project the page does not hold (moved to one the person cannot see, or a late
   * answer about a project left) is dropped: should the page come to hold that project,
   * it reads the project's tasks after every position seen, this task's event included.
   */
  const showTask = (task: Task, { flash = false } = {}) => {
    if (!projects.holds(task.projectId)) return dropTask(task.id);
    const projectBefore = state.tasks.get(task.id)?.projectId;
    state.tasks.set(task.id, task);
    const card = view.syncCard(task);
    updateCounts();
    if (projectBefore !== task.projectId) projects.tasksChanged();
    if (flash && card) flashCard(card.root);
  };

  /** For tasks read from the query-service, which may lag behind what the feed already showed. */
  const showIfNewer = (task: Task, options: { flash?: boolean } = {}) => {
    if (task.revision > (state.tasks.get(task.id)?.revision ?? -1)) showTask(task, options);
  };

  /** Takes a task off the board (its project left the page); it may come back with the project. */
  const dropTask = (id: string) => {
    state.tasks.delete(id);
    state.comments.delete(id);
    view.removeCard(id);
    updateCounts();
    projects.tasksChanged();
  };

  const forgetTask = (id: string) => {
    dropTask(id);
    deleted.add(id);
  };

  /** Adds comments to an open card; the map by id makes a comment seen twice appear once. */
  const addComments = (taskId: string, comments: Comment[]) => {
    const known = state.comments.get(taskId);
    if (!known) return;
    for (const comment of comments) known.set(comment.id, comment);
    view.renderComments(taskId);
  };

  /* ---- Loading ---- */

  /**
   * Reads every task (of every project the person sees), then the projects, then every
   * user. The first task page is the oldest read, so its position is where the feed must
   * resume: anything later that a following read already shows comes again as an event
   * and is skipped (tasks and projects by revision; users are upserts), and a project
   * joined or left in between comes again as `project-joined` or `project-left`.
   * Tasks sort by creation time, which never changes, so no task moves between pages.
   */
  const loadSnapshot = async (minPosition: string | null): Promise<Snapshot> => {
    const tasks = await fetchAllPages(
      client,
      '/tasks',
      { sort: 'createdAt' },
      readAfter(minPosition),
    );
    const visible = await projects.readProjects({});
    const users = await fetchAllPages(client, '/users', {}, {});
    return {
      // A task of a project not listed a moment later: the person left it in between.
      tasks: new Map(
        tasks.items
          .filter((task) => visible.has(task.projectId))
          .map((task) => [task.id, fromView(task)]),
      ),
      users: new Map(users.items.map((user) => [user.id, user])),
      projects: visible,
      position: tasks.position,
    };
  };

  /** Loads until it works: the board is useless without a snapshot to resume the feed from. */
  const loadSnapshotWithRetry = async (minPosition: string | null) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await loadSnapshot(minPosition);
      } catch (error) {
        if (!isCurrent() || (error instanceof ApiError && error.status === 401)) throw error;
        notify(`Could not load the board: ${errorMessage(error)} Retrying…`, 'error');
        await sleep(Math.min(30_000, 1_000 * 2 ** attempt));
      }
    }
  };

  const applySnapshot = (snapshot: Snapshot) => {
    state.tasks = snapshot.tasks;
    state.users = snapshot.users;
    state.usersVersion++;
    state.projects = snapshot.projects;
    state.projectsVersion++;
    projects.snapshotApplied();
  };

  const start = async () => {
    showBoardView(me());
    setConnection('connecting', 'Loading…');
    try {
      const snapshot = await loadSnapshotWithRetry(null);
      if (!isCurrent()) return;
      applySnapshot(snapshot);
      positions.record(snapshot.position);
      connect();
    } catch (error) {
      if (isCurrent()) notify(errorMessage(error), 'error');
    }
  };

  /**
   * The notifier could not replay what this page missed: reload everything at least as
   * new as the position it resumes from, holding the events that arrive meanwhile. A
   * second resync during the reload only raises the position the reload must reach.
   */
  const resync = async (position: string | undefined) => {
    resyncTo = position ?? '';
    if (backlog) return;
    backlog = [];
    setConnection('connecting', 'Refreshing…');
    while (resyncTo !== null) {
      const target: string = resyncTo;
      resyncTo = null;
      try {
        const snapshot = await loadSnapshotWithRetry(target);
        if (!isCurrent()) return;
        applySnapshot(snapshot);
        positions.record(target);
      } catch (error) {
        if (isCurrent()) notify(errorMessage(error), 'error');
        return;
      }
    }
    const held = backlog;
    backlog = null;
    for (const message of held) handleMessage(message);
    // After a resync the server sends on live without a `live` message of its own.
    if (feed?.connected) setConnection('live', 'Live');
  };

  /* ---- Events ---- */

  const handleMessage = (message: FeedMessage) => {
    if (backlog) {
      backlog.push(message);
      return;
    }
    if (message.kind === 'event') {
      const { event } = message;
      positions.record(event.position);
      if (isUserMessage(event)) applyUserEvent(event);
      else if (isTaskMessage(event)) applyTaskEvent(event);
      else if (isProjectMessage(event)) projects.applyProjectEvent(event);
      return;
    }
    positions.record(message.notice.position);
    if (message.kind === 'joined') projects.joined(message.notice);
    else projects.left(message.notice);
  };

  const applyUserEvent = (event: UserMessage) => {
    const id = event.aggregateId;
    if (event.type === 'UserRegistered') {
      state.users.set(id, { id, name: event.data.name, role: event.data.role });
    } else {
      const user = state.users.get(id);
      if (user) user.role = event.data.to;
      // The signed-in user's role decides what they may do in every project.
      if (id === me().id) {
        me().role = event.data.to;
        saveSession(session);
        void projects.reloadProjects(event.position);
      }
    }
    state.usersVersion++;
    view.refreshUserViews();
  };

  const applyTaskEvent = (event: TaskMessage) => {
    const id = event.aggregateId;
    if (deleted.has(id)) return;
    const waiting = fetching.get(id);
    if (waiting) {
      waiting.push(event);
      return;
    }
    const change = foldTaskMessage(state.tasks.get(id), event);
    switch (change.kind) {
      case 'seen':
        return;
      case 'deleted':
        return forgetTask(id);
      case 'unknown':
        return void fetchUnknownTask(event);
      case 'changed':
        showTask(change.task, { flash: true });
        if (change.comment) addComments(id, [change.comment]);
    }
  };

  /**
   * An event for a task this page never saw (its creation was before a resync, say):
   * fetch the task as of at least that event, then apply what arrived meanwhile.
   */
  const fetchUnknownTask = async (event: TaskMessage) => {
    const id = event.aggregateId;
    fetching.set(id, [event]);
    let task: TaskView | null = null;
    try {
      const { comments: _comments, ...fields } = await readTask(
        client,
        id,
        readAfter(event.position),
      );
      task = fields;
    } catch (error) {
      if (!isCurrent()) return;
      // 404 may also be a project the person no longer sees: not deleted, it may come back.
      if (error instanceof ApiError && error.status === 410) {
        deleted.add(id);
      } else if (!(error instanceof ApiError && error.status === 404)) {
        notify(`A changed task could not be loaded: ${errorMessage(error)}`, 'error');
      }
    }
    if (!isCurrent()) return;
    const waiting = fetching.get(id) ?? [];
    fetching.delete(id);
    if (!task) return;
    showIfNewer(fromView(task), { flash: true });
    for (const held of waiting) applyTaskEvent(held);
  };

  const noticeAssignment = ({ taskId, actor }: AssignedNotice) => {
    if (actor === me().id) return;
    const title = state.tasks.get(taskId)?.title;
    const by = view.userName(actor);
    notify(title ? `${by} assigned “${title}” to you.` : `${by} assigned a task to you.`);
  };

  /* ---- Live feed ---- */

  const connect = () => {
    feed = connectFeed({
      token: () => session.token,
      since: () => positions.since(),
      onEvent: (event) => handleMessage({ kind: 'event', event }),
      onLive: (position) => {
        positions.record(position);
        setConnection('live', 'Live');
      },
      onResync: (position) => void resync(position),
      onAssigned: noticeAssignment,
      onProjectJoined: (notice) => handleMessage({ kind: 'joined', notice }),
      onProjectLeft: (notice) => handleMessage({ kind: 'left', notice }),
      onSessionEnded: endSession,
      onConnection: setConnection,
    });
  };

  void start();

  return {
    createTask,
    ...projects.actions,
    /** Ends this board: no more feed, and async work still running drops its result. */
    stop() {
      current = false;
      feed?.close();
      feed = null;
    },
  };
};

export type LiveBoard = ReturnType<typeof startLiveBoard>;
