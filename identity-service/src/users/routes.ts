import {
  ChangeRoleRequest,
  isUuid,
  LoginRequest,
  parseWith,
  problems,
  publicProfile,
  RegisterRequest,
} from '@tasksync/contracts';
import { authOf, requireAuth, type TokenService } from '@tasksync/platform';
import { type Request, type Response, Router } from 'express';
import type { Accounts } from './accounts';

/** Routes of design §3 (identity), with the original TaskSync's aliases. */
export const userRoutes = (accounts: Accounts, tokens: TokenService) => {
  const router = Router();
  const authenticated = requireAuth(tokens);

  const register = async (req: Request, res: Response) => {
    const input = parseWith(RegisterRequest, req.body);
    const { user, position } = await accounts.register({ ...input, role: 'member', corr: req.id });
    res.setHeader('ETag', `"${user.revision}"`);
    res.setHeader('X-Event-Position', position);
    res
      .status(201)
      .json({ user: publicProfile(user, { userId: user.id, role: user.role }), position });
  };
  const login = async (req: Request, res: Response) => {
    const { email, password } = parseWith(LoginRequest, req.body);
    res.json(await accounts.login(email, password));
  };
  const me = async (req: Request, res: Response) => {
    const auth = authOf(req);
    const user = await accounts.loadUser(auth.userId);
    if (!user) throw problems.notFound('The account of this token no longer exists.');
    res.json({ user: publicProfile(user, auth) });
  };

  router.post('/auth/register', register);
  router.post('/auth/login', login);
  router.get('/users/me', authenticated, me);
  router.post('/users/register', register);
  router.post('/users/login', login);
  router.get('/users/profile', authenticated, me);

  router.patch('/users/:id/role', authenticated, async (req, res) => {
    const actor = authOf(req);
    if (actor.role !== 'admin') throw problems.forbidden('Only an admin may change roles.');
    const userId = String(req.params.id);
    const { role } = parseWith(ChangeRoleRequest, req.body);
    if (!isUuid(userId)) throw problems.notFound('No user with this id.');
    const { user, position } = await accounts.changeRole(actor, userId, role, req.id);
    res.setHeader('ETag', `"${user.revision}"`);
    res.setHeader('X-Event-Position', position);
    res.json({ user: publicProfile(user, actor), position });
  });

  return router;
};
