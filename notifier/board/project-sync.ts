import { ApiError, answer, fetchAllPages, type TaskSyncClient, type TaskView } from './api';
import { control, errorMessage, sleep } from './dom';
import type { MembershipNotice } from './feed';
import type { ProjectMessage } from './fold';
import { notify } from './page';
import { isAfterRead, latestOf, type PositionTracker, readAfter } from './positions';
import {
  chooseProject,
  foldMembers,
  foldProjectMessage,
  isGeneral,
  type MemberView,
  type ProjectView,
} from './projects';
import { createProjectsView, type ProjectActions } from './projects-view';
import type { BoardState, BoardView } from './render';
import { loadCurrentProject, type SessionUser, saveCurrentProject } from './session';

const LEAVE_CONFIRM_MS = 4_000;

/** What the project side needs of the board that holds it. */
export interface ProjectSyncDeps {
  client: TaskSyncClient;
  state: BoardState;
  view: BoardView;
  positions: PositionTracker;
  me(): SessionUser;
  isCurrent(): boolean;
  /** Shows a task read from the query-service, unless the board already shows it newer or deleted. */
  showFetchedTask(task: TaskView): void;
  /** Takes a task off the board without marking it deleted: it may come back with its project. */
  dropTask(taskId: string): void;
  /** Sends a command with its control disabled meanwhile; false (and a notice) when it failed. */
  sendCommand(
    control: HTMLButtonElement | HTMLSelectElement,
    command: () => Promise<unknown>,
  ): Promise<boolean>;
}

const projectPath = (id: string) => ({ params: { path: { id } } });
const memberPath = (id: string, userId: string) => ({ params: { path: { id, userId } } });

/** A failure that may pass: the network, the service, or the read side behind (503). */
const isTransient = (error: unknown) =>
  error instanceof ApiError &&
  (error.status === 0 || error.status >= 500 || error.status === 408 || error.status === 429);

interface ProjectLoad {
  /** Project events that arrived while the project was being read. */
  held: ProjectMessage[];
  /** Whether the page holds the project once this read (or the one replacing it) is done. */
  outcome: Promise<boolean>;
}

/**
 * The projects of one signed-in board (design §10): the switcher, the project shown,
 * its members, and joining and leaving as the feed reports them. Like tasks, project
 * changes reach the page as events only; commands never touch what is shown.
 */
export const createProjectSync = (deps: ProjectSyncDeps) => {
  const { client, state, view, positions, me, isCurrent } = deps;

  /**
   * Projects being read (joined, or made here), with the project events that arrived
   * meanwhile and the read's outcome; a newer read, or leaving, replaces the entry, and
   * the older read then drops its result.
   */
  const loading = new Map<string, ProjectLoad>();
  /** The members read running for the project shown, with the membership events held meanwhile. */
  let membersRead: { projectId: string; held: ProjectMessage[] } | null = null;

  const current = () =>
    state.currentProjectId ? state.projects.get(state.currentProjectId) : undefined;

  const nameOf = (userId: string) => state.users.get(userId)?.name || 'Unknown user';

  /* ---- What is shown ---- */

  const render = () => {
    view.refreshProjectViews();
    projectsView.render();
  };

  /** Shows another project's tasks; it is remembered for this tab. */
  const showProject = (projectId: string | null) => {
    if (state.currentProjectId !== projectId) {
      state.currentProjectId = projectId;
      state.members = null;
      membersRead = null;
      // The assignee options depend on the project's members.
      state.usersVersion++;
      projectsView.projectSwitched();
      if (projectId) void loadMembers(projectId);
    }
    if (projectId) saveCurrentProject(projectId);
    view.renderBoard();
    projectsView.render();
  };

  const putProject = (project: ProjectView) => {
    state.projects.set(project.id, project);
    state.projectsVersion++;
  };

  /** The project is gone from this page: its tasks go too; if it was shown, General is. */
  const forgetProject = (projectId: string) => {
    loading.delete(projectId);
    const project = state.projects.get(projectId);
    state.projects.delete(projectId);
    state.projectsVersion++;
    for (const task of [...state.tasks.values()]) {
      if (task.projectId === projectId) deps.dropTask(task.id);
    }
    if (state.currentProjectId === projectId) {
      showProject(chooseProject(state.projects, null));
      const now = current();
      notify(
        `You no longer have access to “${project?.name ?? 'that project'}”.` +
          (now ? ` Showing ${now.name}.` : ''),
      );
    }
    render();
  };

  /* ---- Reading ---- */

  /** Every page of GET /projects, the active ones and the archived ones (a second list). */
  const readProjects = async (headers: Record<string, string>) => {
    const [active, archived] = await Promise.all([
      fetchAllPages(client, '/projects', {}, headers),
      fetchAllPages(client, '/projects', { archived: 'true' }, headers),
    ]);
    return new Map([...active.items, ...archived.items].map((project) => [project.id, project]));
  };

  /**
   * Reads a project and its tasks: on `project-joined`, or for a project made here.
   * The reads reflect at least `position` (where the page met it) and every position
   * the page has seen, so they include the tasks whose events came before the project
   * was held (and were dropped then). Project events arriving meanwhile are held and
   * applied after; task events are applied as they come (by revision). 404: the person
   * cannot see it (any more).
   */
  const loadProject = (projectId: string, position: string | null): Promise<boolean> => {
    const load: ProjectLoad = { held: [], outcome: Promise.resolve(false) };
    loading.set(projectId, load);
    load.outcome = readProject(projectId, position, load);
    return load.outcome;
  };

  /** True once the page holds the project, whichever read got it there. */
  const readProject = async (projectId: string, position: string | null, load: ProjectLoad) => {
    const stillWanted = () => isCurrent() && loading.get(projectId) === load;
    // Replaced by a newer read: its outcome is this one's. Left meanwhile: not held.
    const superseded = (): Promise<boolean> | boolean =>
      isCurrent() && (loading.get(projectId)?.outcome ?? state.projects.has(projectId));
    const after = readAfter(latestOf(position, positions.since()));
    for (let attempt = 1; ; attempt++) {
      try {
        const { data: project } = await answer(
          client.GET('/projects/{id}', { ...projectPath(projectId), headers: after }),
        );
        if (!stillWanted()) return superseded();
        const tasks = await fetchAllPages(
          client,
          '/tasks',
          { projectId, sort: 'createdAt' },
          after,
        );
        if (!stillWanted()) return superseded();
        loading.delete(projectId);
        const known = state.projects.get(projectId);
        if (!known || project.revision >= known.revision) putProject(project);
        for (const event of load.held) applyProjectEvent(event);
        for (const task of tasks.items) deps.showFetchedTask(task);
        render();
        return true;
      } catch (error) {
        if (!stillWanted()) return superseded();
        // A join must not be lost to a passing failure (the read side behind, a restart).
        if (!isTransient(error)) {
          loading.delete(projectId);
          if (error instanceof ApiError && error.status === 404) forgetProject(projectId);
          else notify(`A project could not be loaded: ${errorMessage(error)}`, 'error');
          return false;
        }
        if (attempt === 1) {
          notify(`A project could not be loaded: ${errorMessage(error)} Retrying…`, 'error');
        }
        await sleep(Math.min(30_000, 1_000 * 2 ** attempt));
        if (!stillWanted()) return superseded();
      }
    }
  };

  /** Reads a project again, when an event leaves the person's access to it unclear. */
  const reloadProject = async (projectId: string, position: string) => {
    try {
      const { data } = await answer(
        client.GET('/projects/{id}', { ...projectPath(projectId), headers: readAfter(position) }),
      );
      const known = state.projects.get(projectId);
      if (!isCurrent() || !known || loading.has(projectId)) return;
      putProject(data.revision >= known.revision ? data : { ...known, access: data.access });
      render();
    } catch (error) {
      // 404: the project is no longer visible; the feed's project-left says so too.
      if (!isCurrent() || (error instanceof ApiError && error.status === 404)) return;
      notify(`A project could not be loaded: ${errorMessage(error)}`, 'error');
    }
  };

  /** The members of the project shown (owners manage them; in a private project they are the assignees). */
  const loadMembers = async (projectId: string) => {
    const project = state.projects.get(projectId);
    if (!project || isGeneral(project)) return;
    const read = { projectId, held: [] as ProjectMessage[] };
    membersRead = read;
    try {
      const { data, readPosition } = await answer(
        client.GET('/projects/{id}/members', {
          ...projectPath(projectId),
          headers: readAfter(positions.since()),
        }),
      );
      if (!isCurrent() || membersRead !== read) return;
      let members = new Map(data.items.map((member) => [member.userId, member]));
      for (const event of read.held) {
        if (isAfterRead(event.position, readPosition))
          members = foldMembers(members, event, nameOf);
      }
      membersRead = null;
      state.members = members;
      state.usersVersion++;
      render();
    } catch (error) {
      if (!isCurrent() || membersRead !== read) return;
      membersRead = null;
      // 404: the project is no longer visible, and project-left takes it away.
      if (!(error instanceof ApiError && error.status === 404)) {
        notify(`The members could not be loaded: ${errorMessage(error)}`, 'error');
      }
    }
  };

  /* ---- Events ---- */

  const MEMBERSHIP_EVENTS = new Set(['MemberAdded', 'MemberRoleChanged', 'MemberRemoved']);

  /** A membership event of the project shown changes its member list (and so its assignees). */
  const applyToMembers = (event: ProjectMessage) => {
    if (event.aggregateId !== state.currentProjectId || !MEMBERSHIP_EVENTS.has(event.type)) return;
    if (membersRead?.projectId === event.aggregateId) {
      membersRead.held.push(event);
      return;
    }
    if (!state.members) return;
    state.members = foldMembers(state.members, event, nameOf);
    state.usersVersion++;
  };

  const applyProjectEvent = (event: ProjectMessage) => {
    const id = event.aggregateId;
    const load = loading.get(id);
    if (load) {
      load.held.push(event);
      return;
    }
    const change = foldProjectMessage(state.projects.get(id), event, me());
    // Joining is project-joined's alone; an event of a project not held is one just left.
    if (change.kind === 'seen' || change.kind === 'unknown') return;
    applyToMembers(event);
    putProject(change.project);
    if (change.reload) void reloadProject(id, event.position);
    render();
  };

  /* ---- Commands ---- */

  const actions: ProjectActions = {
    select: (projectId) => showProject(projectId),

    createProject: async (form) => {
      const name = control(form, 'name').value.trim();
      const description = control(form, 'description').value.trim();
      // The form's select offers exactly the visibilities there are.
      const visibility = control<HTMLSelectElement>(form, 'visibility')
        .value as ProjectView['visibility'];
      const { data } = await answer(
        client.POST('/projects', {
          body: { name, visibility, ...(description && { description }) },
        }),
      );
      form.reset();
      // Shown as soon as the read side has it; the feed's project-joined may come first.
      if ((await loadProject(data.id, data.position)) && isCurrent()) showProject(data.id);
    },

    saveProject: async (form) => {
      const project = current();
      if (!project) return;
      const changes: Partial<Pick<ProjectView, 'name' | 'description' | 'visibility'>> = {};
      const name = control(form, 'name').value.trim();
      const description = control(form, 'description').value.trim();
      const visibility = control<HTMLSelectElement>(form, 'visibility')
        .value as ProjectView['visibility'];
      if (name !== project.name) changes.name = name;
      if (description !== project.description) changes.description = description;
      if (visibility !== project.visibility) changes.visibility = visibility;
      if (Object.keys(changes).length > 0) {
        await client.PATCH('/projects/{id}', { ...projectPath(project.id), body: changes });
      }
      projectsView.closeSettings();
    },

    toggleArchived: (button) => {
      const project = current();
      if (!project) return;
      void deps.sendCommand(button, () =>
        client.PATCH('/projects/{id}', {
          ...projectPath(project.id),
          body: { archived: !project.archived },
        }),
      );
    },

    /** Leaving may not be undone by oneself, so the first click only arms the button. */
    leave: (button) => {
      const project = current();
      if (!project) return;
      if (button.dataset.armed !== 'true') {
        button.dataset.armed = 'true';
        button.textContent = 'Confirm leaving';
        setTimeout(() => {
          button.dataset.armed = 'false';
          button.textContent = 'Leave project';
        }, LEAVE_CONFIRM_MS);
        return;
      }
      void deps.sendCommand(button, () =>
        client.DELETE('/projects/{id}/members/{userId}', memberPath(project.id, me().id)),
      );
    },

    toggleMembers: () => {
      const projectId = state.currentProjectId;
      if (!projectId) return;
      const shown = projectsView.showMembersPanel(!projectsView.membersShown());
      if (shown && !state.members && !membersRead) void loadMembers(projectId);
    },

    addMember: async (form) => {
      const project = current();
      if (!project) return;
      const email = control(form, 'email').value.trim();
      // The form's select offers exactly the project roles there are.
      const role = control<HTMLSelectElement>(form, 'role').value as MemberView['role'];
      await client.POST('/projects/{id}/members', {
        ...projectPath(project.id),
        body: { email, role },
      });
      form.reset();
      control(form, 'email').focus();
    },

    setMemberRole: async (userId, select) => {
      const project = current();
      if (!project) return;
      const done = await deps.sendCommand(select, () =>
        client.PUT('/projects/{id}/members/{userId}', {
          ...memberPath(project.id, userId),
          body: { role: select.value as MemberView['role'] },
        }),
      );
      // Back to what the board knows; a success arrives as an event.
      if (!done) select.value = state.members?.get(userId)?.role ?? select.value;
    },

    removeMember: (userId, button) => {
      const project = current();
      if (!project) return;
      void deps.sendCommand(button, () =>
        client.DELETE('/projects/{id}/members/{userId}', memberPath(project.id, userId)),
      );
    },
  };

  const projectsView = createProjectsView(state, me, actions);

  return {
    actions,
    readProjects,

    /** Whether a task of this project may be held: the page sees it, or is reading it. */
    holds: (projectId: string) => state.projects.has(projectId) || loading.has(projectId),

    /** After a snapshot: the project remembered for this tab, else General. */
    snapshotApplied() {
      const previous = state.currentProjectId;
      const chosen = chooseProject(state.projects, previous ?? loadCurrentProject());
      // Another project is shown after a resync only when the one shown was lost meanwhile.
      if (previous && chosen !== previous) {
        notify(
          `You no longer have access to the project you were in. Showing ${state.projects.get(chosen ?? '')?.name ?? 'no project'}.`,
        );
      }
      // The same project again: its members may have changed while the feed was behind.
      if (chosen && chosen === previous) void loadMembers(chosen);
      showProject(chosen);
    },

    /** The projects changed in a way events do not tell (the site role): read them again. */
    async reloadProjects(position: string) {
      try {
        const fresh = await readProjects(readAfter(position));
        if (!isCurrent()) return;
        for (const project of fresh.values()) {
          const known = state.projects.get(project.id);
          putProject(
            !known || project.revision >= known.revision
              ? project
              : { ...known, access: project.access },
          );
        }
        render();
      } catch (error) {
        if (isCurrent())
          notify(`The projects could not be loaded: ${errorMessage(error)}`, 'error');
      }
    },

    applyProjectEvent,

    /** `project-joined`: the project's events follow; read it and its tasks. */
    joined({ projectId, position }: MembershipNotice) {
      void loadProject(projectId, position);
    },

    /** `project-left`: no more of its events come; it leaves the page with its tasks. */
    left({ projectId }: MembershipNotice) {
      forgetProject(projectId);
    },

    /** Task counts in the switcher follow the tasks. */
    tasksChanged: () => projectsView.renderSwitcher(),
    render,
  };
};

export type ProjectSync = ReturnType<typeof createProjectSync>;
