import { type AuthContext, publicProfile, type Role } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { z } from 'zod';
import { prepared } from '../read-model';

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  created_at: string;
  revision: number;
}

/** GET /users: pages in id order, the cursor is the last id of the page before. */
export const ListUsersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.uuid().optional(),
});
export type ListUsersQuery = z.output<typeof ListUsersQuery>;

/** The role the read model holds for a user now (withCurrentRole's `roleNow`). */
export const roleInReadModel = (db: ReadModelDb, userId: string) =>
  (prepared(db, 'SELECT role FROM users WHERE id = ?').get(userId) as { role: Role } | undefined)
    ?.role;

/** The e-mail only for admins and oneself (design §6). */
const profileOf = (row: UserRow, viewer: AuthContext) =>
  publicProfile(
    {
      id: row.id,
      email: row.email,
      name: row.name,
      role: row.role,
      createdAt: row.created_at,
      revision: row.revision,
    },
    viewer,
  );

/** A page of profiles in id order. */
export const listProfiles = (
  db: ReadModelDb,
  viewer: AuthContext,
  { limit, cursor }: ListUsersQuery,
) => {
  const rows = prepared(db, 'SELECT * FROM users WHERE id > @after ORDER BY id LIMIT @limit').all({
    after: cursor ?? '',
    limit: limit + 1,
  }) as UserRow[];
  const page = rows.slice(0, limit);
  return {
    items: page.map((row) => profileOf(row, viewer)),
    nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
  };
};

/** One profile with the revision for its ETag, or undefined for an unknown user. */
export const findProfile = (db: ReadModelDb, viewer: AuthContext, id: string) => {
  const row = prepared(db, 'SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
  return row && { user: profileOf(row, viewer), revision: row.revision };
};
