import { type KeyLayout, parseWith, problems } from '@tasksync/contracts';
import { authOf, type RedisClient, uuidParam } from '@tasksync/platform';
import { Router } from 'express';
import { type AnswerCache, answerCachedRead } from '../answer-cache';
import { answerRead, sendRead } from '../answer-read';
import type { ReadModelAccess } from '../read-model';
import { refuseUnknownQuery } from '../strict-query';
import { taskReader } from './get-task';
import { ListTasksQuery, listTasks, taskListStatement } from './list-tasks';
import { taskAsOf } from './task-as-of';
import { TaskHistoryQuery, taskHistory } from './task-history';

const NO_TASK = 'No task with this id.';

export const taskRoutes = (deps: {
  readModel: ReadModelAccess;
  redis: RedisClient;
  keys: KeyLayout;
  cache?: AnswerCache | undefined;
}) => {
  const router = Router();
  const readTask = taskReader(deps.readModel.positionSql);

  router.get('/tasks', async (req, res) => {
    const query = parseWith(ListTasksQuery, req.query, '(query)');
    const me = authOf(req).userId;
    const statement = taskListStatement(query, me);
    // `me` makes the answer the caller's own; everything else is in the URL.
    const scope = `${req.originalUrl}\n${statement.mine ? me : ''}`;
    await answerCachedRead(req, res, deps.readModel, deps.cache, scope, (db) => ({
      json: listTasks(db, statement),
    }));
  });

  router.get('/tasks/:id', async (req, res) => {
    const id = uuidParam(req, 'id', NO_TASK);
    refuseUnknownQuery(req, 'asOf');
    if (req.query.asOf !== undefined) {
      const asOf = String(req.query.asOf);
      const { deleted, ...task } = await taskAsOf(deps.redis, deps.keys, id, asOf);
      res.setHeader('ETag', `"${task.revision}"`);
      res.setHeader('X-Read-Position', deps.readModel.readPosition(deps.readModel.db()));
      res.json({ ...task, deleted, asOf });
      return;
    }
    const task = readTask(deps.readModel.db(), id);
    if (task.found !== 'task') {
      // Decided at this position: a client may wait for more with X-Min-Position.
      res.setHeader('X-Read-Position', task.position);
      throw task.found === 'none'
        ? problems.notFound(NO_TASK)
        : problems.gone('The task was deleted.');
    }
    sendRead(req, res, task.position, `"${task.revision}"`, task.json);
  });

  router.get('/tasks/:id/history', (req, res) => {
    const id = uuidParam(req, 'id', NO_TASK);
    const page = parseWith(TaskHistoryQuery, req.query, '(query)');
    answerRead(req, res, deps.readModel, (db) => ({ body: taskHistory(db, id, page) }));
  });

  return router;
};
