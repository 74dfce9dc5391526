import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { Role } from '../domain/fields';

export const JWT_ISSUER = 'tasksync';
export const JWT_AUDIENCE = 'tasksync-api';

const Claims = z.object({
  sub: z.uuid(),
  role: Role,
  iss: z.literal(JWT_ISSUER),
  aud: z.literal(JWT_AUDIENCE),
  exp: z.number(),
});

export interface AuthContext {
  userId: string;
  role: Role;
}

export interface TokenService {
  sign(subject: AuthContext): { token: string; expiresIn: number };
  /** Returns the verified identity, or throws with a reason safe to show. */
  verify(token: string): AuthContext;
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/**
 * HS256 only, `exp` required, `iss` and `aud` checked. The secret is turned
 * into a KeyObject once: jsonwebtoken verifies with it in microseconds, where a
 * string secret costs hundreds of microseconds per request.
 */
export const createTokenService = (options: {
  secret: string;
  ttlSeconds: number;
}): TokenService => {
  const key: KeyObject = createSecretKey(Buffer.from(options.secret, 'utf8'));
  return {
    sign: ({ userId, role }) => ({
      token: jwt.sign({ role }, key, {
        algorithm: 'HS256',
        subject: userId,
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        expiresIn: options.ttlSeconds,
      }),
      expiresIn: options.ttlSeconds,
    }),
    verify: (token) => {
      let payload: unknown;
      try {
        payload = jwt.verify(token, key, {
          algorithms: ['HS256'],
          issuer: JWT_ISSUER,
          audience: JWT_AUDIENCE,
        });
      } catch (error) {
        const expired = error instanceof jwt.TokenExpiredError;
        throw new InvalidTokenError(expired ? 'The token has expired.' : 'The token is not valid.');
      }
      const claims = Claims.safeParse(payload);
      if (!claims.success) throw new InvalidTokenError('The token lacks required claims.');
      return { userId: claims.data.sub, role: claims.data.role };
    },
  };
};
