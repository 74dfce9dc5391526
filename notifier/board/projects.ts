import {
  accessFrom,
  may,
  type ProjectAnswer,
  type ProjectMember,
  type Role,
  type Task,
} from '@tasksync/contracts';
import type { z } from 'zod';
import type { ProjectMessage } from './fold';

/** A project as the query-service answers it (design §10), with the caller's access. */
export type ProjectView = z.output<typeof ProjectAnswer>;
export type ProjectAccessName = ProjectView['access'];
/** A row of GET /projects/:id/members. */
export type MemberView = z.output<typeof ProjectMember>;

/** Who is looking: the rules read the site role and the user id. */
export interface Viewer {
  id: string;
  role: Role;
}

/**
 * The General project is the one `system` owns (design §10). Told by its owner, not
 * by GENERAL_PROJECT_ID: computing that uuid v5 would bundle the uuid package into the page.
 */
export const isGeneral = (project: Pick<ProjectView, 'ownerId'>) => project.ownerId === 'system';

/** General first, then by name: the switcher's order. */
export const sortProjects = (projects: Iterable<ProjectView>) =>
  [...projects].sort(
    (a, b) =>
      Number(isGeneral(b)) - Number(isGeneral(a)) ||
      a.name.localeCompare(b.name) ||
      a.id.localeCompare(b.id),
  );

/** The project to show: the one remembered, else General, else the first there is. */
export const chooseProject = (
  projects: ReadonlyMap<string, ProjectView>,
  remembered: string | null,
): string | null => {
  if (remembered && projects.has(remembered)) return remembered;
  // General, when there is one, sorts first.
  return sortProjects(projects.values())[0]?.id ?? null;
};

const ROLE_LABELS: Record<ProjectAccessName, string> = {
  admin: 'Admin',
  owner: 'Owner',
  editor: 'Editor',
  viewer: 'Viewer',
};

export const accessLabel = (access: ProjectAccessName) => ROLE_LABELS[access] ?? access;

/** What the caller may do with a project, as the §10 table says; an archived project is read-only. */
export const projectPermissions = (project: ProjectView | undefined) => {
  if (!project) {
    return {
      manage: false,
      archive: false,
      members: false,
      editMembers: false,
      createTasks: false,
      leave: false,
    };
  }
  const { access, archived, visibility } = project;
  const general = isGeneral(project);
  const manage = may.manage(access);
  return {
    /** Rename, describe, change visibility. */
    manage: manage && !archived,
    /** General holds every task without a project: it is never archived. */
    archive: manage && !general,
    /** The members panel; read-only while archived. */
    members: manage && !general,
    editMembers: manage && !archived && !general,
    createTasks: !archived && may.createTasks(access),
    // In a private project any role is a membership; in an open one only owners are
    // surely members (everyone else there is an editor), and a site admin needs none.
    leave:
      !archived &&
      !general &&
      access !== 'admin' &&
      (visibility === 'private' || access === 'owner'),
  };
};

/** What the caller may do with a task of `project`; nothing when the project is unknown or archived. */
export const taskPermissions = (
  project: ProjectView | undefined,
  task: Pick<Task, 'createdBy' | 'assigneeId'>,
  userId: string,
) => {
  if (!project || project.archived) {
    return { change: false, remove: false, comment: false, moveOut: false };
  }
  const { access } = project;
  const remove = may.deleteTask(access, task, userId);
  return {
    change: may.changeTask(access, task, userId),
    remove,
    comment: may.comment(access),
    moveOut: remove,
  };
};

/** Where a task may be moved: out of its project by who may, into a project where they may create. */
export const moveTargets = (
  projects: ReadonlyMap<string, ProjectView>,
  task: Pick<Task, 'projectId' | 'createdBy' | 'assigneeId'>,
  userId: string,
) => {
  if (!taskPermissions(projects.get(task.projectId), task, userId).moveOut) return [];
  return sortProjects(projects.values()).filter(
    (project) => project.id !== task.projectId && projectPermissions(project).createTasks,
  );
};

/** Tasks per project, for the switcher: counted from what the board holds, so they stay live. */
export const countTasks = (tasks: Iterable<Pick<Task, 'projectId'>>) => {
  const counts = new Map<string, number>();
  for (const { projectId } of tasks) counts.set(projectId, (counts.get(projectId) ?? 0) + 1);
  return counts;
};

/** What one project event does to the project the board shows. */
export type ProjectChange =
  /** Already shown: replays overlap what the snapshot shows, and the revision tells them apart. */
  | { kind: 'seen' }
  /**
   * An event of a project this page does not hold: the feed sends a project's events
   * only after its `project-joined`, so this is one the page has just left.
   */
  | { kind: 'unknown' }
  /**
   * `reload`: the caller's access may have changed in a way the event alone does not
   * tell (a project turned private, where an open project's editor may be a viewer
   * member or no member at all), so the project is read again.
   */
  | { kind: 'changed'; project: ProjectView; reload: boolean };

/**
 * Folds one project event into the project's answer, as far as the event tells:
 * the fields, the member count and the caller's own access when the event is
 * about them. A removal that takes the project away is the feed's `project-left`.
 */
export const foldProjectMessage = (
  known: ProjectView | undefined,
  message: ProjectMessage,
  viewer: Viewer,
): ProjectChange => {
  if (!known) return { kind: 'unknown' };
  if (message.revision <= known.revision) return { kind: 'seen' };
  const project: ProjectView = { ...known, revision: message.revision, updatedAt: message.at };
  const accessAs = (memberRole: MemberView['role'] | undefined) => {
    const access = accessFrom(viewer.role, { visibility: project.visibility, memberRole });
    // No access left: the feed's project-left removes the project; until then it stays as it was.
    return access === 'none' ? known.access : access;
  };
  let reload = false;
  switch (message.type) {
    case 'ProjectCreated':
      return { kind: 'seen' };
    case 'ProjectDetailsChanged':
      if (message.data.name !== undefined) project.name = message.data.name;
      if (message.data.description !== undefined) project.description = message.data.description;
      break;
    case 'ProjectVisibilityChanged':
      project.visibility = message.data.to;
      reload = viewer.role !== 'admin';
      break;
    case 'ProjectArchived':
      project.archived = true;
      break;
    case 'ProjectRestored':
      project.archived = false;
      break;
    case 'MemberAdded':
      project.memberCount = known.memberCount + 1;
      if (message.data.userId === viewer.id) project.access = accessAs(message.data.role);
      break;
    case 'MemberRoleChanged':
      if (message.data.userId === viewer.id) project.access = accessAs(message.data.to);
      break;
    case 'MemberRemoved':
      project.memberCount = Math.max(0, known.memberCount - 1);
      if (message.data.userId === viewer.id) project.access = accessAs(undefined);
      break;
  }
  return { kind: 'changed', project, reload };
};

/** Owners first, then by name: the members panel's order. */
const ROLE_ORDER: Record<MemberView['role'], number> = { owner: 0, editor: 1, viewer: 2 };
export const sortMembers = (members: Iterable<MemberView>) =>
  [...members].sort(
    (a, b) =>
      ROLE_ORDER[a.role] - ROLE_ORDER[b.role] ||
      a.name.localeCompare(b.name) ||
      a.userId.localeCompare(b.userId),
  );

/**
 * Folds a membership event into a project's member list (userId → member);
 * `nameOf` names a member the event adds. Other project events leave it as is.
 * Every change is a set or a delete, so an event applied twice changes nothing more.
 */
export const foldMembers = (
  members: ReadonlyMap<string, MemberView>,
  message: ProjectMessage,
  nameOf: (userId: string) => string,
): Map<string, MemberView> => {
  const next = new Map(members);
  switch (message.type) {
    case 'MemberAdded': {
      const { userId, role } = message.data;
      next.set(userId, {
        userId,
        role,
        name: members.get(userId)?.name ?? nameOf(userId),
        addedAt: message.at,
      });
      break;
    }
    case 'MemberRoleChanged': {
      const member = members.get(message.data.userId);
      if (member) next.set(member.userId, { ...member, role: message.data.to });
      break;
    }
    case 'MemberRemoved':
      next.delete(message.data.userId);
      break;
    case 'ProjectCreated':
      // The creator is the first owner (the General project, owned by `system`, has none).
      if (message.data.ownerId !== 'system') {
        next.set(message.data.ownerId, {
          userId: message.data.ownerId,
          role: 'owner',
          name: nameOf(message.data.ownerId),
          addedAt: message.at,
        });
      }
      break;
  }
  return next;
};

/** Who may be assigned a task of the project: in a private one its members, in an open one anyone. */
export const assignableIn = (
  project: ProjectView | undefined,
  members: ReadonlyMap<string, MemberView> | null,
) => (project?.visibility === 'private' && members ? new Set(members.keys()) : null);
