import { type AuthContext, problems } from '@tasksync/contracts';
import type { Request, RequestHandler } from 'express';
import { InvalidTokenError, type TokenService } from '../auth/jwt';

/** Rejects requests without a valid `Authorization: Bearer <jwt>` with 401. */
export const requireAuth =
  (tokens: TokenService): RequestHandler =>
  (req, _res, next) => {
    const header = req.headers.authorization;
    if (!header) return next(problems.unauthorized('Send Authorization: Bearer <token>.'));
    const match = /^Bearer +([^\s]+)\s*$/i.exec(header);
    if (!match)
      return next(problems.unauthorized('The Authorization header is not a Bearer token.'));
    try {
      req.auth = tokens.verify(match[1]!);
      next();
    } catch (error) {
      if (error instanceof InvalidTokenError) return next(problems.unauthorized(error.message));
      next(error);
    }
  };

export const authOf = (req: Request): AuthContext => {
  if (!req.auth) throw new Error('route used without requireAuth');
  return req.auth;
};
