import { parseWith, problems } from '@tasksync/contracts';
import { authOf, uuidParam, withCurrentRole } from '@tasksync/platform';
import { type Request, Router } from 'express';
import { answerRead } from '../answer-read';
import type { ReadModelAccess } from '../read-model';
import { refuseUnknownQuery } from '../strict-query';
import { findProfile, ListUsersQuery, listProfiles, roleInReadModel } from './profiles';

const NO_USER = 'No user with this id.';

/** Public profiles; the e-mail only for admins and oneself (design §6). */
export const userRoutes = (deps: { readModel: ReadModelAccess }) => {
  const router = Router();
  // A token signed before its admin was demoted still says admin, and must not show e-mails.
  const viewerOf = (req: Request) =>
    withCurrentRole(authOf(req), (userId) => roleInReadModel(deps.readModel.db(), userId));

  router.get('/users', async (req, res) => {
    const page = parseWith(ListUsersQuery, req.query, '(query)');
    const viewer = await viewerOf(req);
    answerRead(req, res, deps.readModel, (db) => ({ body: listProfiles(db, viewer, page) }));
  });

  router.get('/users/:id', async (req, res) => {
    const id = uuidParam(req, 'id', NO_USER);
    refuseUnknownQuery(req);
    const viewer = await viewerOf(req);
    answerRead(req, res, deps.readModel, (db) => {
      const found = findProfile(db, viewer, id);
      if (!found) throw problems.notFound(NO_USER);
      return { body: { user: found.user }, etag: `"${found.revision}"` };
    });
  });

  return router;
};
