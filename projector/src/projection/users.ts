import type { StoredEvent, UserEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';

/** `users`: one row per registered user. Repeats are ignored by the statements themselves. */
export const createUsersProjection = (db: ReadModelDb) => {
  const register = db.prepare(`
    INSERT INTO users (id, email, name, role, created_at, revision)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  const changeRole = db.prepare(
    'UPDATE users SET role = ?, revision = ? WHERE id = ? AND revision < ?',
  );

  return {
    /** Applies a user event; a role change only for a higher revision. */
    fold: (event: StoredEvent<UserEvent>) => {
      switch (event.type) {
        case 'UserRegistered': {
          const { data } = event;
          register.run(event.agg, data.email, data.name, data.role, event.at, event.rev);
          return;
        }
        case 'UserRoleChanged':
          changeRole.run(event.data.to, event.rev, event.agg, event.rev);
          return;
        default:
          return unhandledEvent(event);
      }
    },
  };
};
