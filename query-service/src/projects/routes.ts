import { parseWith, problems } from '@tasksync/contracts';
import { authOf, uuidParam } from '@tasksync/platform';
import { Router } from 'express';
import { callerIn, NO_PROJECT, projectAccessIn } from '../access';
import { answerRead } from '../answer-read';
import type { ReadModelAccess } from '../read-model';
import { refuseUnknownQuery } from '../strict-query';
import { findProject, ListProjectsQuery, listMembers, listProjects } from './read-projects';

/**
 * Projects as the caller sees them (design §10). A project they may not see
 * answers 404 exactly as one that does not exist. Not cached: each answer is
 * the caller's own and reads a few rows per project.
 */
export const projectRoutes = (deps: { readModel: ReadModelAccess }) => {
  const router = Router();

  router.get('/projects', (req, res) => {
    const query = parseWith(ListProjectsQuery, req.query, '(query)');
    const auth = authOf(req);
    answerRead(req, res, deps.readModel, (db) => ({
      body: listProjects(db, callerIn(db, auth), query),
    }));
  });

  router.get('/projects/:id', (req, res) => {
    const id = uuidParam(req, 'id', NO_PROJECT);
    refuseUnknownQuery(req);
    const auth = authOf(req);
    answerRead(req, res, deps.readModel, (db) => {
      const project = findProject(db, callerIn(db, auth), id);
      if (!project) throw problems.notFound(NO_PROJECT);
      return { body: project };
    });
  });

  router.get('/projects/:id/members', (req, res) => {
    const id = uuidParam(req, 'id', NO_PROJECT);
    refuseUnknownQuery(req);
    const auth = authOf(req);
    answerRead(req, res, deps.readModel, (db) => {
      // Whoever sees the project may see who works in it.
      if (projectAccessIn(db, callerIn(db, auth), id) === 'none')
        throw problems.notFound(NO_PROJECT);
      return { body: { items: listMembers(db, id) } };
    });
  });

  return router;
};
