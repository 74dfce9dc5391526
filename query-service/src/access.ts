import {
  type AuthContext,
  accessFrom,
  type ProjectAccess,
  type ProjectRole,
  type Visibility,
} from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { prepared } from './read-model';
import { roleInReadModel } from './users/profiles';

/**
 * Who reads, as the read model knows them now (design §10: the read side checks
 * against the read model). `admin` is withCurrentRole's rule read in the same
 * snapshot as the answer: a token's admin claim holds only while the model
 * agrees, so a demotion applied at a position is applied to every answer at it.
 */
export interface Caller {
  userId: string;
  admin: boolean;
}

export const callerIn = (db: ReadModelDb, auth: AuthContext): Caller => ({
  userId: auth.userId,
  admin: auth.role === 'admin' && roleInReadModel(db, auth.userId) === 'admin',
});

/**
 * The ids (`project_id`) of the projects a caller who is not a site admin sees:
 * every open project and those they are a member of, whatever their role
 * (design §10; `accessFrom` is 'none' for nothing else). Parameter `@me`.
 */
export const VISIBLE_PROJECTS_SQL = `SELECT id AS project_id FROM projects WHERE visibility = 'open'
  UNION SELECT project_id FROM project_members WHERE user_id = @me`;

/**
 * Whether the caller sees the project `column` names, for reads that answer in
 * one statement: the same rule, with the admin check (withCurrentRole's) in the
 * statement's own snapshot. Parameters `@me` and `@adminClaim` (1 when the token
 * says admin).
 */
export const seesProjectSql = (column: string) => `(
  (@adminClaim = 1 AND EXISTS (SELECT 1 FROM users u WHERE u.id = @me AND u.role = 'admin'))
  OR EXISTS (SELECT 1 FROM projects p WHERE p.id = ${column} AND p.visibility = 'open')
  OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = ${column} AND m.user_id = @me))`;

/** `seesProjectSql`'s parameters for a token. */
export const seesParams = (auth: AuthContext) => ({
  me: auth.userId,
  adminClaim: auth.role === 'admin' ? 1 : 0,
});

/** The caller's access to one project: 'none' for one they may not see, or that does not exist. */
export const projectAccessIn = (
  db: ReadModelDb,
  caller: Caller,
  projectId: string,
): ProjectAccess => {
  const row = prepared(
    db,
    `SELECT p.visibility, m.role FROM projects p
     LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = @me WHERE p.id = @projectId`,
  ).get({ me: caller.userId, projectId }) as
    | { visibility: Visibility; role: ProjectRole | null }
    | undefined;
  if (!row) return 'none';
  return accessFrom(caller.admin ? 'admin' : 'member', {
    visibility: row.visibility,
    memberRole: row.role ?? undefined,
  });
};

export const NO_PROJECT = 'No project with this id.';
