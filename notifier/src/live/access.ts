import {
  accessFrom,
  compareEntryIds,
  GENERAL_PROJECT_ID,
  isProjectEvent,
  may,
  type ProjectRole,
  type Role,
  type StoredEvent,
  type Visibility,
} from '@tasksync/contracts';

/**
 * Who is looking. A token's role claim is what it was when the token was
 * signed, so admin rights also need the identity log to say admin now (as
 * `withCurrentRole` does for the other services): a demoted admin loses every
 * project it is not a member of at once, and a promoted member gains them
 * with its next token.
 */
export interface Viewer {
  userId: string;
  claimsAdmin: boolean;
}

interface ProjectAudience {
  visibility: Visibility;
  members: Map<string, ProjectRole>;
}

interface AccessSource {
  projects: ReadonlyMap<string, ProjectAudience>;
  roles: ReadonlyMap<string, Role>;
}

/** The events that change who sees what: project shape and membership, site roles. */
export const changesAccess = (event: StoredEvent): boolean => {
  switch (event.type) {
    case 'ProjectCreated':
    case 'ProjectVisibilityChanged':
    case 'MemberAdded':
    case 'MemberRoleChanged':
    case 'MemberRemoved':
    case 'UserRoleChanged':
      return true;
    case 'UserRegistered':
      // Everyone starts as a member; only an admin's registration changes anything.
      return event.data.role !== 'member';
    default:
      return false;
  }
};

/**
 * Who may see which project (design §10), folded from the project log and the
 * identity log. `only` folds for one user: the access of a client as of the
 * positions it has been sent, other users' memberships and roles left out.
 */
export const createAccessState = (only?: string, from?: AccessSource) => {
  // General is open from the start: every task created before projects is in
  // it (the TaskCreated upcaster), whether or not its ProjectCreated was read.
  const projects = new Map<string, ProjectAudience>([
    [GENERAL_PROJECT_ID, { visibility: 'open', members: new Map() }],
  ]);
  const roles = new Map<string, Role>();
  const memberships = new Map<string, Set<string>>();
  const source = { projects, roles };

  const setMember = (projectId: string, userId: string, role: ProjectRole | undefined) => {
    if (only !== undefined && userId !== only) return;
    const project = projects.get(projectId);
    if (!project) return;
    const joined = memberships.get(userId) ?? new Set();
    if (role) {
      project.members.set(userId, role);
      joined.add(projectId);
      memberships.set(userId, joined);
    } else {
      project.members.delete(userId);
      joined.delete(projectId);
      if (joined.size === 0) memberships.delete(userId);
    }
  };

  const apply = (event: StoredEvent) => {
    if (event.type === 'UserRegistered' || event.type === 'UserRoleChanged') {
      if (only !== undefined && event.agg !== only) return;
      roles.set(event.agg, event.type === 'UserRegistered' ? event.data.role : event.data.to);
      return;
    }
    if (!isProjectEvent(event)) return;
    const projectId = event.agg;
    switch (event.type) {
      case 'ProjectCreated':
        projects.set(projectId, {
          visibility: event.data.visibility,
          members: projects.get(projectId)?.members ?? new Map(),
        });
        if (event.data.ownerId !== 'system') setMember(projectId, event.data.ownerId, 'owner');
        return;
      case 'ProjectVisibilityChanged': {
        const project = projects.get(projectId);
        if (project) project.visibility = event.data.to;
        return;
      }
      case 'MemberAdded':
        return setMember(projectId, event.data.userId, event.data.role);
      case 'MemberRoleChanged':
        return setMember(projectId, event.data.userId, event.data.to);
      case 'MemberRemoved':
        return setMember(projectId, event.data.userId, undefined);
    }
  };

  if (from && only !== undefined) {
    for (const [projectId, project] of from.projects) {
      projects.set(projectId, { visibility: project.visibility, members: new Map() });
      setMember(projectId, only, project.members.get(only));
    }
    const role = from.roles.get(only);
    if (role) roles.set(only, role);
  }

  const isAdmin = (viewer: Viewer) => viewer.claimsAdmin && roles.get(viewer.userId) === 'admin';

  return {
    apply,
    isAdmin,
    /** The §10 rule: a site admin sees every project, others an open one or one they are a member of. */
    sees: (viewer: Viewer, projectId: string): boolean => {
      const siteRole = isAdmin(viewer) ? 'admin' : 'member';
      const project = projects.get(projectId);
      if (!project) return siteRole === 'admin';
      const memberRole = project.members.get(viewer.userId);
      return may.see(accessFrom(siteRole, { visibility: project.visibility, memberRole }));
    },
    isOpen: (projectId: string) => projects.get(projectId)?.visibility === 'open',
    exists: (projectId: string) => projects.has(projectId),
    isMember: (userId: string, projectId: string) =>
      projects.get(projectId)?.members.has(userId) === true,
    /** The projects a user is a member of, in any role. */
    membershipsOf: (userId: string): ReadonlySet<string> => memberships.get(userId) ?? new Set(),
    projectIds: () => projects.keys(),
    /** This state as one user's view of it, to follow on its own. */
    viewOf: (userId: string) => createAccessState(userId, source),
  };
};

export type AccessState = ReturnType<typeof createAccessState>;

/**
 * Every access change so far, in log order, to fold one user's view as of any
 * positions: project shapes (creation, visibility) for everyone, memberships
 * and roles by user, so a view costs the number of projects plus that user's
 * own changes rather than the whole history.
 */
export const createAccessHistory = () => {
  const shapes: StoredEvent[] = [];
  const memberships = new Map<string, StoredEvent[]>();
  const roles = new Map<string, StoredEvent[]>();
  const add = (index: Map<string, StoredEvent[]>, userId: string, event: StoredEvent) => {
    const list = index.get(userId);
    if (list) list.push(event);
    else index.set(userId, [event]);
  };

  const upTo = (events: readonly StoredEvent[] | undefined, entryId: string) =>
    (events ?? []).filter((event) => compareEntryIds(event.entryId, entryId) <= 0);

  return {
    /** Keeps an event that `changesAccess`; called in each log's order. */
    record: (event: StoredEvent) => {
      switch (event.type) {
        case 'ProjectCreated':
          shapes.push(event);
          // The owner's membership comes with the creation; it is applied with the shape.
          return;
        case 'ProjectVisibilityChanged':
          return shapes.push(event);
        case 'MemberAdded':
        case 'MemberRoleChanged':
        case 'MemberRemoved':
          return add(memberships, event.data.userId, event);
        case 'UserRegistered':
        case 'UserRoleChanged':
          return add(roles, event.agg, event);
      }
    },
    /** One user's view after the project log up to `project` and the identity log up to `identity`. */
    viewAt: (userId: string, positions: { project: string; identity: string }) => {
      const view = createAccessState(userId);
      // Shapes and the user's memberships interleave in the project log: merge them back.
      const shaped = upTo(shapes, positions.project);
      const joined = upTo(memberships.get(userId), positions.project);
      let [s, j] = [0, 0];
      while (s < shaped.length || j < joined.length) {
        const takeShape =
          j === joined.length ||
          (s < shaped.length && compareEntryIds(shaped[s]!.entryId, joined[j]!.entryId) < 0);
        view.apply(takeShape ? shaped[s++]! : joined[j++]!);
      }
      for (const event of upTo(roles.get(userId), positions.identity)) view.apply(event);
      return view;
    },
  };
};

export type AccessHistory = ReturnType<typeof createAccessHistory>;
