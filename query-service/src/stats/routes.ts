import { Router } from 'express';
import { answerRead } from '../answer-read';
import type { ReadModelAccess } from '../read-model';
import { refuseUnknownQuery } from '../strict-query';
import { taskCounts } from './task-counts';

export const statsRoutes = (deps: { readModel: ReadModelAccess }) => {
  const router = Router();

  // Not cached: the counters are a few rows, and the bench found a Redis round
  // trip slower than reading them (design §6: a cache that does not pay goes).
  router.get('/stats', (req, res) => {
    refuseUnknownQuery(req);
    answerRead(req, res, deps.readModel, (db) => ({ body: taskCounts(db) }));
  });

  return router;
};
