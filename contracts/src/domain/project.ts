import type { AuthContext } from '../auth';
import type { ProjectEvent, StoredEvent } from '../events';
import type { ProjectRole, Visibility } from './fields';

export interface Project {
  id: string;
  name: string;
  description: string;
  visibility: Visibility;
  /** The creator, or `system` for the General project. */
  ownerId: string;
  archived: boolean;
  /** Members by user id, with their role in the project. */
  members: Record<string, ProjectRole>;
  createdAt: string;
  updatedAt: string;
  revision: number;
}

/** A project's state before its first event. */
export type ProjectState = Project | null;

/** Pure fold of one project event into the project's state. */
export const evolveProject = (
  state: ProjectState,
  event: StoredEvent<ProjectEvent>,
): ProjectState => {
  if (event.type === 'ProjectCreated') {
    const { ownerId, ...data } = event.data;
    return {
      id: event.agg,
      ...data,
      ownerId,
      archived: false,
      // The creator is the first owner; the General project (owner `system`) starts with no members.
      members: ownerId === 'system' ? {} : { [ownerId]: 'owner' },
      createdAt: event.at,
      updatedAt: event.at,
      revision: event.rev,
    };
  }
  if (!state) return state;
  const next: Project = { ...state, updatedAt: event.at, revision: event.rev };
  switch (event.type) {
    case 'ProjectDetailsChanged':
      if (event.data.name !== undefined) next.name = event.data.name;
      if (event.data.description !== undefined) next.description = event.data.description;
      return next;
    case 'ProjectVisibilityChanged':
      return { ...next, visibility: event.data.to };
    case 'ProjectArchived':
      return { ...next, archived: true };
    case 'ProjectRestored':
      return { ...next, archived: false };
    case 'MemberAdded':
      return { ...next, members: { ...state.members, [event.data.userId]: event.data.role } };
    case 'MemberRoleChanged':
      return { ...next, members: { ...state.members, [event.data.userId]: event.data.to } };
    case 'MemberRemoved': {
      const { [event.data.userId]: _removed, ...members } = state.members;
      return { ...next, members };
    }
  }
};

export const foldProject = (
  events: Iterable<StoredEvent<ProjectEvent>>,
  initial: ProjectState = null,
) => {
  let state = initial;
  for (const event of events) state = evolveProject(state, event);
  return state;
};

/**
 * What a person may do in a project (design §10), strongest first:
 * `admin` (a site admin, every project), a member's role, or, in an `open`
 * project, `editor` for anyone (a viewer member of an open project is an
 * editor too); `none` sees nothing, and the project answers 404.
 */
export type ProjectAccess = 'admin' | ProjectRole | 'none';

/** What the rules read of a project: the write side has its state, the read side its rows. */
export interface ProjectMembership {
  visibility: Visibility;
  /** The person's role as a member, if they are one. */
  memberRole: ProjectRole | undefined;
}

export const accessFrom = (
  siteRole: AuthContext['role'],
  project: ProjectMembership,
): ProjectAccess => {
  if (siteRole === 'admin') return 'admin';
  const { memberRole, visibility } = project;
  if (memberRole === 'owner' || memberRole === 'editor') return memberRole;
  if (visibility === 'open') return 'editor';
  return memberRole ?? 'none';
};

/** The person's access to a project whose state the write side folded. */
export const projectAccess = (project: Project, who: AuthContext): ProjectAccess =>
  accessFrom(who.role, { visibility: project.visibility, memberRole: project.members[who.userId] });

/** The task fields the rules read. */
export interface TaskOwnership {
  createdBy: string;
  assigneeId: string | null;
}

/** §10's table, one function per column. */
export const may = {
  see: (access: ProjectAccess) => access !== 'none',
  comment: (access: ProjectAccess) => access !== 'none',
  createTasks: (access: ProjectAccess) =>
    access === 'admin' || access === 'owner' || access === 'editor',
  /** Change a task's fields, status or assignee. */
  changeTask: (access: ProjectAccess, task: TaskOwnership, userId: string) =>
    access === 'admin' ||
    access === 'owner' ||
    (access === 'editor' && (task.createdBy === userId || task.assigneeId === userId)),
  /** Delete a task, or move it out of the project. */
  deleteTask: (access: ProjectAccess, task: TaskOwnership, userId: string) =>
    access === 'admin' || access === 'owner' || (access === 'editor' && task.createdBy === userId),
  manage: (access: ProjectAccess) => access === 'admin' || access === 'owner',
};

/** The owners a project has; it must keep at least one (unless `system` owns it). */
export const ownerCount = (project: Project) =>
  Object.values(project.members).filter((role) => role === 'owner').length;
