import {
  AddCommentRequest,
  CreateTaskRequest,
  idFromIdempotencyKey,
  parseWith,
  UpdateTaskRequest,
} from '@tasksync/contracts';
import { authOf, idempotencyKeyOf, ifMatchOf, sendOutcome, uuidParam } from '@tasksync/platform';
import { type Request, type Response, Router } from 'express';
import { executeTaskCommand, type TaskCommandDeps } from './execute';

const taskIdOf = (req: Request) => uuidParam(req, 'id', 'No task with this id.');

/** Thin routes: parse with the contract's schema, run the command, map the outcome (design §3). */
export const taskRoutes = (deps: TaskCommandDeps) => {
  const router = Router();

  router.post('/', async (req, res) => {
    const fields = parseWith(CreateTaskRequest, req.body);
    const actor = authOf(req);
    const idempotency = idempotencyKeyOf(req);
    // With a key, the id comes from (user, key): a retried create lands on the same task and partition.
    const taskId = idempotency ? idFromIdempotencyKey(actor.userId, idempotency.key) : deps.newId();
    const outcome = await executeTaskCommand(deps, {
      taskId,
      command: { type: 'CreateTask', fields },
      actor,
      correlationId: req.id,
      idempotency,
      success: { status: 201, body: { id: taskId } },
    });
    res.setHeader('Location', `/tasks/${taskId}`);
    sendOutcome(res, outcome);
  });

  const update = async (req: Request, res: Response) => {
    const taskId = taskIdOf(req);
    const changes = parseWith(UpdateTaskRequest, req.body);
    sendOutcome(
      res,
      await executeTaskCommand(deps, {
        taskId,
        command: { type: 'UpdateTask', changes },
        actor: authOf(req),
        correlationId: req.id,
        ifMatch: ifMatchOf(req),
        idempotency: idempotencyKeyOf(req),
        success: { status: 200, body: { id: taskId } },
      }),
    );
  };
  router.patch('/:id', update);
  // PUT is kept from the original TaskSync and means the same partial update.
  router.put('/:id', update);

  router.post('/:id/comments', async (req, res) => {
    const taskId = taskIdOf(req);
    const { text } = parseWith(AddCommentRequest, req.body);
    const commentId = deps.newId();
    sendOutcome(
      res,
      await executeTaskCommand(deps, {
        taskId,
        command: { type: 'AddComment', commentId, text },
        actor: authOf(req),
        correlationId: req.id,
        ifMatch: ifMatchOf(req),
        idempotency: idempotencyKeyOf(req),
        success: { status: 201, body: { id: taskId, commentId } },
      }),
    );
  });

  router.delete('/:id', async (req, res) => {
    const taskId = taskIdOf(req);
    sendOutcome(
      res,
      await executeTaskCommand(deps, {
        taskId,
        command: { type: 'DeleteTask' },
        actor: authOf(req),
        correlationId: req.id,
        ifMatch: ifMatchOf(req),
        idempotency: idempotencyKeyOf(req),
        success: { status: 204, body: null },
      }),
    );
  });

  return router;
};
