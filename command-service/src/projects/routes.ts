import {
  AddMemberRequest,
  CreateProjectRequest,
  idFromIdempotencyKey,
  isUuid,
  normalizeEmail,
  type ProjectCommand,
  parseWith,
  SetMemberRequest,
  UpdateProjectRequest,
} from '@tasksync/contracts';
import { authOf, idempotencyKeyOf, ifMatchOf, sendOutcome, uuidParam } from '@tasksync/platform';
import { type Request, Router } from 'express';
import { executeProjectCommand, type MemberLookup, type ProjectCommandDeps } from './execute';

/** Stands for the user an unknown e-mail does not name; the command is refused before it is used. */
const NO_USER = '00000000-0000-0000-0000-000000000000';

const projectIdOf = (req: Request) => uuidParam(req, 'id', 'No project with this id.');

/** Thin routes: parse with the contract's schema, run the command, map the outcome (design §10). */
export const projectRoutes = (deps: ProjectCommandDeps) => {
  const router = Router();

  /** A command on an existing project, answered with its id, revision and position (and `extra`). */
  const change = async (
    req: Request,
    projectId: string,
    command: ProjectCommand,
    success: { status: number; extra?: Record<string, unknown> },
    member?: MemberLookup,
  ) =>
    executeProjectCommand(deps, {
      projectId,
      command,
      member,
      actor: authOf(req),
      correlationId: req.id,
      ifMatch: ifMatchOf(req),
      idempotency: idempotencyKeyOf(req),
      success: {
        status: success.status,
        body: success.status === 204 ? null : { id: projectId, ...success.extra },
      },
    });

  router.post('/', async (req, res) => {
    const fields = parseWith(CreateProjectRequest, req.body);
    const actor = authOf(req);
    const idempotency = idempotencyKeyOf(req);
    // With a key, the id comes from (user, key): a retried create lands on the same project.
    const projectId = idempotency
      ? idFromIdempotencyKey(actor.userId, idempotency.key)
      : deps.newId();
    const outcome = await executeProjectCommand(deps, {
      projectId,
      command: { type: 'CreateProject', fields },
      actor,
      correlationId: req.id,
      idempotency,
      success: { status: 201, body: { id: projectId } },
    });
    res.setHeader('Location', `/projects/${projectId}`);
    sendOutcome(res, outcome);
  });

  router.patch('/:id', async (req, res) => {
    const projectId = projectIdOf(req);
    const changes = parseWith(UpdateProjectRequest, req.body);
    sendOutcome(
      res,
      await change(req, projectId, { type: 'UpdateProject', changes }, { status: 200 }),
    );
  });

  router.put('/:id/members/:userId', async (req, res) => {
    const projectId = projectIdOf(req);
    const { role } = parseWith(SetMemberRequest, req.body);
    const userId = String(req.params.userId);
    // An id no user can have names no registered user; refused after the project's own refusals.
    const member: MemberLookup | undefined = isUuid(userId)
      ? undefined
      : { by: 'id', registered: false };
    sendOutcome(
      res,
      await change(
        req,
        projectId,
        { type: 'SetMember', userId, role },
        { status: 200, extra: { userId } },
        member,
      ),
    );
  });

  router.post('/:id/members', async (req, res) => {
    const projectId = projectIdOf(req);
    const { email, role } = parseWith(AddMemberRequest, req.body);
    // The e-mail key is written with the UserRegistered: it names a registered user. An
    // unknown one is refused only after the project's own refusals (404, 403, 409), so
    // nobody learns whether an e-mail is registered from a project they may not manage.
    const userId = await deps.redis.get(deps.keys.email(normalizeEmail(email)));
    sendOutcome(
      res,
      await change(
        req,
        projectId,
        { type: 'SetMember', userId: userId ?? NO_USER, role },
        { status: 200, extra: { userId } },
        { by: 'email', registered: userId !== null },
      ),
    );
  });

  router.delete('/:id/members/:userId', async (req, res) => {
    const projectId = projectIdOf(req);
    const userId = String(req.params.userId);
    sendOutcome(
      res,
      await change(req, projectId, { type: 'RemoveMember', userId }, { status: 204 }),
    );
  });

  return router;
};
