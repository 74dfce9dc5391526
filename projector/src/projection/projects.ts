import type { ProjectEvent, StoredEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';

/**
 * `projects` and `project_members` (design §10). A project takes an event only
 * for a higher revision (ProjectCreated only if it does not exist yet), and a
 * member change only when its project took the event, so a repeat changes
 * nothing. Project events are rare: each is written at once, in the batch's
 * transaction, where the next event of the batch reads it.
 */
export const createProjectsProjection = (db: ReadModelDb) => {
  const create = db.prepare(`
    INSERT INTO projects (id, name, description, visibility, owner_id, archived, created_at, updated_at, revision, position)
    VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  /** Every event moves the project's revision, time and position: the gate for all else. */
  const advance = db.prepare(
    'UPDATE projects SET revision = ?, updated_at = ?, position = ? WHERE id = ? AND revision < ?',
  );
  const rename = db.prepare(
    'UPDATE projects SET name = coalesce(?, name), description = coalesce(?, description) WHERE id = ?',
  );
  const setVisibility = db.prepare('UPDATE projects SET visibility = ? WHERE id = ?');
  const setArchived = db.prepare('UPDATE projects SET archived = ? WHERE id = ?');
  const addMember = db.prepare(`
    INSERT INTO project_members (project_id, user_id, role, added_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role`);
  const changeRole = db.prepare(
    'UPDATE project_members SET role = ? WHERE project_id = ? AND user_id = ?',
  );
  const removeMember = db.prepare(
    'DELETE FROM project_members WHERE project_id = ? AND user_id = ?',
  );

  /** Whether the project takes the event (it exists and is behind it). */
  const took = (event: StoredEvent<ProjectEvent>, position: string) =>
    advance.run(event.rev, event.at, position, event.agg, event.rev).changes > 0;

  return {
    fold: (event: StoredEvent<ProjectEvent>, position: string) => {
      switch (event.type) {
        case 'ProjectCreated': {
          const { data } = event;
          const created = create.run(
            event.agg,
            data.name,
            data.description,
            data.visibility,
            data.ownerId,
            event.at,
            event.at,
            event.rev,
            position,
          );
          // The creator is the first owner; the General project (owner `system`) has no members.
          if (created.changes > 0 && data.ownerId !== 'system')
            addMember.run(event.agg, data.ownerId, 'owner', event.at);
          return;
        }
        case 'ProjectDetailsChanged':
          if (took(event, position))
            rename.run(event.data.name ?? null, event.data.description ?? null, event.agg);
          return;
        case 'ProjectVisibilityChanged':
          if (took(event, position)) setVisibility.run(event.data.to, event.agg);
          return;
        case 'ProjectArchived':
          if (took(event, position)) setArchived.run(1, event.agg);
          return;
        case 'ProjectRestored':
          if (took(event, position)) setArchived.run(0, event.agg);
          return;
        case 'MemberAdded':
          if (took(event, position))
            addMember.run(event.agg, event.data.userId, event.data.role, event.at);
          return;
        case 'MemberRoleChanged':
          if (took(event, position)) changeRole.run(event.data.to, event.agg, event.data.userId);
          return;
        case 'MemberRemoved':
          if (took(event, position)) removeMember.run(event.agg, event.data.userId);
          return;
        default:
          return unhandledEvent(event);
      }
    },
  };
};
