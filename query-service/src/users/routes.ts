import {
  type AuthContext,
  isUuid,
  parseWith,
  problems,
  publicProfile,
  type Role,
} from '@tasksync/contracts';
import { authOf } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { Router } from 'express';
import { z } from 'zod';
import { answerRead, refuseUnknownQuery } from '../http';
import { prepared, type ReadModelAccess } from '../read-model';

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  created_at: string;
  revision: number;
}

const profileOf = (row: UserRow, viewer: { userId: string; role: Role }) =>
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

/**
 * The viewer with the role the read model holds for it now: a token signed
 * before its admin was demoted still says admin, and must not show e-mails.
 */
const viewerIn = (db: ReadModelDb, auth: AuthContext): AuthContext => {
  if (auth.role !== 'admin') return auth;
  const row = prepared(db, 'SELECT role FROM users WHERE id = ?').get(auth.userId) as
    | { role: Role }
    | undefined;
  return row?.role === 'admin' ? auth : { ...auth, role: 'member' };
};

/** Public profiles; the e-mail only for admins and oneself (design §6). */
export const userRoutes = (deps: { readModel: ReadModelAccess }) => {
  const router = Router();

  router.get('/users', (req, res) => {
    const { limit, cursor } = parseWith(
      z.strictObject({
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.uuid().optional(),
      }),
      req.query,
      '(query)',
    );
    const auth = authOf(req);
    answerRead(req, res, deps.readModel, (db) => {
      const viewer = viewerIn(db, auth);
      const rows = prepared(
        db,
        'SELECT * FROM users WHERE id > @after ORDER BY id LIMIT @limit',
      ).all({ after: cursor ?? '', limit: limit + 1 }) as UserRow[];
      const page = rows.slice(0, limit);
      return {
        body: {
          items: page.map((row) => profileOf(row, viewer)),
          nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
        },
      };
    });
  });

  router.get('/users/:id', (req, res) => {
    const id = String(req.params.id);
    if (!isUuid(id)) throw problems.notFound('No user with this id.');
    refuseUnknownQuery(req);
    const auth = authOf(req);
    answerRead(req, res, deps.readModel, (db) => {
      const viewer = viewerIn(db, auth);
      const row = prepared(db, 'SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
      if (!row) throw problems.notFound('No user with this id.');
      return { body: { user: profileOf(row, viewer) }, etag: `"${row.revision}"` };
    });
  });

  return router;
};
