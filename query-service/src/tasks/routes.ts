import { type KeyLayout, parseWith, problems } from '@tasksync/contracts';
import { type ArchivedEntries, authOf, type RedisClient, uuidParam } from '@tasksync/platform';
import { Router } from 'express';
import { callerIn, NO_PROJECT, projectAccessIn, seesParams, seesProjectSql } from '../access';
import { type AnswerCache, answerCachedRead } from '../answer-cache';
import { answerRead, sendRead } from '../answer-read';
import { modelShape, prepared, type ReadModelAccess } from '../read-model';
import { refuseUnknownQuery } from '../strict-query';
import { taskReader } from './get-task';
import { type ListReach, ListTasksQuery, listTasks, taskListStatement } from './list-tasks';
import { taskAsOf } from './task-as-of';
import { TaskHistoryQuery, taskHistory } from './task-history';

const NO_TASK = 'No task with this id.';

export const taskRoutes = (deps: {
  readModel: ReadModelAccess;
  redis: RedisClient;
  keys: KeyLayout;
  cache?: AnswerCache | undefined;
  logReader?: ArchivedEntries | undefined;
}) => {
  const router = Router();
  const readTask = taskReader(deps.readModel.positionSql);
  const seesProject = `SELECT ${seesProjectSql('@projectId')} AS visible`;

  router.get('/tasks', async (req, res) => {
    const query = parseWith(ListTasksQuery, req.query, '(query)');
    const auth = authOf(req);
    // What the caller sees is part of every answer (design §10): the caller is
    // in the scope, so an answer is never served to anyone else.
    const scope = `${req.originalUrl}\n${auth.userId}\n${auth.role}`;
    await answerCachedRead(req, res, deps.readModel, deps.cache, scope, (db) => {
      const caller = callerIn(db, auth);
      let reach: ListReach = caller.admin ? { all: true } : { visibleTo: caller.userId };
      if (query.projectId) {
        if (projectAccessIn(db, caller, query.projectId) === 'none')
          throw problems.notFound(NO_PROJECT);
        reach = { projectId: query.projectId };
      }
      const statement = taskListStatement(
        query,
        caller.userId,
        reach,
        modelShape(db).projectOrdered,
      );
      return { json: listTasks(db, statement) };
    });
  });

  router.get('/tasks/:id', async (req, res) => {
    const id = uuidParam(req, 'id', NO_TASK);
    refuseUnknownQuery(req, 'asOf');
    const auth = authOf(req);
    if (req.query.asOf !== undefined) {
      const asOf = String(req.query.asOf);
      const { deleted, ...task } = await taskAsOf(deps, id, asOf, (projectId) =>
        deps.readModel.snapshot(() => {
          const db = deps.readModel.db();
          res.setHeader('X-Read-Position', deps.readModel.readPosition(db));
          if (projectId === undefined) return false;
          const { visible } = prepared(db, seesProject).get({ projectId, ...seesParams(auth) }) as {
            visible: number;
          };
          return visible === 1;
        }),
      );
      res.setHeader('ETag', `"${task.revision}"`);
      res.json({ ...task, deleted, asOf });
      return;
    }
    const task = readTask(deps.readModel.db(), id, auth);
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
    const auth = authOf(req);
    answerRead(req, res, deps.readModel, (db) => ({ body: taskHistory(db, id, auth, page) }));
  });

  return router;
};
