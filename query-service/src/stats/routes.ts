import { parseWith, problems } from '@tasksync/contracts';
import { authOf } from '@tasksync/platform';
import { Router } from 'express';
import { callerIn, NO_PROJECT, projectAccessIn } from '../access';
import { answerRead } from '../answer-read';
import type { ReadModelAccess } from '../read-model';
import { type CountsReach, StatsQuery, taskCounts } from './task-counts';

export const statsRoutes = (deps: { readModel: ReadModelAccess }) => {
  const router = Router();

  // Not cached: the counters are a few rows, and the bench found a Redis round
  // trip slower than reading them (design §6: a cache that does not pay goes).
  router.get('/stats', (req, res) => {
    const query = parseWith(StatsQuery, req.query, '(query)');
    const auth = authOf(req);
    answerRead(req, res, deps.readModel, (db) => {
      const caller = callerIn(db, auth);
      let reach: CountsReach = caller.admin ? { all: true } : { visibleTo: caller.userId };
      if (query.projectId) {
        if (projectAccessIn(db, caller, query.projectId) === 'none')
          throw problems.notFound(NO_PROJECT);
        reach = { projectId: query.projectId };
      }
      return { body: taskCounts(db, reach) };
    });
  });

  return router;
};
