import {
  type AuthContext,
  MAX_PROJECT_MEMBERS,
  may,
  ownerCount,
  type Project,
  type ProjectCommand,
  type ProjectEvent,
  type ProjectState,
  projectAccess,
} from '@tasksync/contracts';
import { projectErrors } from './errors';

/** The user a SetMember names, as the caller looked them up: by id, or by e-mail. */
export interface MemberLookup {
  by: 'id' | 'email';
  registered: boolean;
}

export interface ProjectDecideContext {
  /** The actor, with their site role now (design §3, withCurrentRole). */
  actor: AuthContext;
  /** For SetMember: whether the user it names is registered. */
  member?: MemberLookup | undefined;
}

/** The project and the actor's access to it; a project the actor cannot see is 404 as an unknown one. */
const requireVisible = (state: ProjectState, actor: AuthContext) => {
  const access = state ? projectAccess(state, actor) : 'none';
  if (!state || !may.see(access)) throw projectErrors.notFound();
  return { project: state, access };
};

const requireManager = (project: Project, actor: AuthContext) => {
  if (!may.manage(projectAccess(project, actor)))
    throw projectErrors.notAllowed('manage', 'its owners or an admin');
};

const requireWritable = (project: Project) => {
  if (project.archived) throw projectErrors.archived();
};

/** Whether this member is the project's only owner; the General project (owned by `system`) has none to keep. */
const isLastOwner = (project: Project, userId: string) =>
  project.ownerId !== 'system' && project.members[userId] === 'owner' && ownerCount(project) <= 1;

/**
 * The project's business rules (design §10): given its state and a command,
 * the events to append, or a domain error, refused in the team's order:
 * a project the actor cannot see 404, not allowed 403, archived 409.
 * Pure: no I/O, no clock, no ids of its own.
 */
export const decideProject = (
  state: ProjectState,
  command: ProjectCommand,
  ctx: ProjectDecideContext,
): ProjectEvent[] => {
  const { actor } = ctx;
  switch (command.type) {
    case 'CreateProject': {
      if (state) throw projectErrors.alreadyExists();
      const { fields } = command;
      return [
        {
          type: 'ProjectCreated',
          data: {
            name: fields.name,
            description: fields.description ?? '',
            visibility: fields.visibility ?? 'private',
            ownerId: actor.userId,
          },
        },
      ];
    }
    case 'UpdateProject': {
      const { project } = requireVisible(state, actor);
      requireManager(project, actor);
      const { changes } = command;
      // An archived project takes only a restore, with whatever changes come with it (after it).
      const restoring = project.archived && changes.archived === false;
      if (!restoring) requireWritable(project);
      const events: ProjectEvent[] = [];
      if (restoring) events.push({ type: 'ProjectRestored', data: {} });
      const details: Extract<ProjectEvent, { type: 'ProjectDetailsChanged' }>['data'] = {};
      if (changes.name !== undefined && changes.name !== project.name) details.name = changes.name;
      if (changes.description !== undefined && changes.description !== project.description)
        details.description = changes.description;
      if (Object.keys(details).length)
        events.push({ type: 'ProjectDetailsChanged', data: details });
      if (changes.visibility !== undefined && changes.visibility !== project.visibility) {
        events.push({
          type: 'ProjectVisibilityChanged',
          data: { from: project.visibility, to: changes.visibility },
        });
      }
      // Archiving comes last: the other changes are made to a project that is not read-only yet.
      if (!project.archived && changes.archived === true)
        events.push({ type: 'ProjectArchived', data: {} });
      return events;
    }
    case 'SetMember': {
      const { project } = requireVisible(state, actor);
      requireManager(project, actor);
      requireWritable(project);
      if (!ctx.member?.registered)
        throw ctx.member?.by === 'email'
          ? projectErrors.unknownEmail()
          : projectErrors.unknownUser();
      const { userId, role } = command;
      const current = project.members[userId];
      if (current === role) return [];
      if (current === undefined) {
        if (Object.keys(project.members).length >= MAX_PROJECT_MEMBERS)
          throw projectErrors.memberLimit();
        return [{ type: 'MemberAdded', data: { userId, role } }];
      }
      if (role !== 'owner' && isLastOwner(project, userId)) throw projectErrors.lastOwner();
      return [{ type: 'MemberRoleChanged', data: { userId, from: current, to: role } }];
    }
    case 'RemoveMember': {
      const { project } = requireVisible(state, actor);
      const { userId } = command;
      // A member may leave; removing someone else is managing.
      if (userId !== actor.userId) requireManager(project, actor);
      requireWritable(project);
      if (project.members[userId] === undefined) throw projectErrors.notMember();
      if (isLastOwner(project, userId)) throw projectErrors.lastOwner();
      return [{ type: 'MemberRemoved', data: { userId, by: actor.userId } }];
    }
  }
};
