import {
  AddCommentRequest,
  CreateTaskRequest,
  idFromIdempotencyKey,
  isUuid,
  parseWith,
  problems,
  UpdateTaskRequest,
} from '@tasksync/contracts';
import { authOf } from '@tasksync/platform';
import { type Request, type Response, Router } from 'express';
import { type CommandDeps, type CommandOutcome, executeTaskCommand, requestHash } from './execute';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const IF_MATCH = /^(?:W\/)?"?(\d{1,15})"?$/;

const idempotencyOf = (req: Request) => {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw problems.badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters.');
  }
  return { key, requestHash: requestHash(req.method, req.originalUrl.split('?')[0]!, req.body) };
};

const ifMatchOf = (req: Request) => {
  const value = req.get('If-Match')?.trim();
  if (value === undefined || value === '*') return undefined;
  const match = IF_MATCH.exec(value);
  if (!match) throw problems.badRequest('If-Match must be an ETag this API sent, like "3".');
  return Number(match[1]);
};

const taskIdOf = (req: Request) => {
  const id = String(req.params.id);
  if (!isUuid(id)) throw problems.notFound('No task with this id.');
  return id;
};

const send = (res: Response, outcome: CommandOutcome) => {
  res.setHeader('ETag', `"${outcome.revision}"`);
  res.setHeader('X-Event-Position', outcome.position);
  if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
  if (outcome.body === null) return res.status(outcome.status).end();
  res.status(outcome.status).json(outcome.body);
};

/** Thin routes: parse with the contract's schema, run the command, map the outcome (design §3). */
export const taskRoutes = (deps: CommandDeps) => {
  const router = Router();

  router.post('/', async (req, res) => {
    const fields = parseWith(CreateTaskRequest, req.body);
    const actor = authOf(req);
    const idempotency = idempotencyOf(req);
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
    send(res, outcome);
  });

  const update = async (req: Request, res: Response) => {
    const taskId = taskIdOf(req);
    const changes = parseWith(UpdateTaskRequest, req.body);
    send(
      res,
      await executeTaskCommand(deps, {
        taskId,
        command: { type: 'UpdateTask', changes },
        actor: authOf(req),
        correlationId: req.id,
        ifMatch: ifMatchOf(req),
        idempotency: idempotencyOf(req),
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
    send(
      res,
      await executeTaskCommand(deps, {
        taskId,
        command: { type: 'AddComment', commentId, text },
        actor: authOf(req),
        correlationId: req.id,
        ifMatch: ifMatchOf(req),
        idempotency: idempotencyOf(req),
        success: { status: 201, body: { id: taskId, commentId } },
      }),
    );
  });

  router.delete('/:id', async (req, res) => {
    const taskId = taskIdOf(req);
    send(
      res,
      await executeTaskCommand(deps, {
        taskId,
        command: { type: 'DeleteTask' },
        actor: authOf(req),
        correlationId: req.id,
        ifMatch: ifMatchOf(req),
        idempotency: idempotencyOf(req),
        success: { status: 204, body: null },
      }),
    );
  });

  return router;
};
