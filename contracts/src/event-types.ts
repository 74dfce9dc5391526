/**
 * Every event type, by aggregate, as plain data: what a reader needs that
 * bundles no schema (the board). events.ts builds its unions from schemas and
 * checks at compile time that they hold exactly these types.
 */
export const taskEventTypes = [
  'TaskCreated',
  'TaskDetailsChanged',
  'TaskStatusChanged',
  'TaskAssigned',
  'CommentAdded',
  'TaskDeleted',
  'TaskMoved',
] as const;
export const userEventTypes = ['UserRegistered', 'UserRoleChanged'] as const;
export const projectEventTypes = [
  'ProjectCreated',
  'ProjectDetailsChanged',
  'ProjectVisibilityChanged',
  'ProjectArchived',
  'ProjectRestored',
  'MemberAdded',
  'MemberRoleChanged',
  'MemberRemoved',
] as const;
