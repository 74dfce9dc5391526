import { createSecretKey, type KeyObject } from 'node:crypto';
import { type AuthContext, JWT_AUDIENCE, JWT_ISSUER, TokenClaims } from '@tasksync/contracts';
import jwt from 'jsonwebtoken';

export interface TokenService {
  sign(subject: AuthContext): { token: string; expiresIn: number };
  /** Returns the verified identity, or throws with a reason safe to show. */
  verify(token: string): AuthContext;
  /** The same check, with when the token expires (a live connection ends then). */
  verifyWithExpiry(token: string): { auth: AuthContext; expiresAtMs: number };
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/**
 * HS256 only, `exp` required, `iss` and `aud` checked. The secret is turned
 * into a KeyObject once: with a string secret jsonwebtoken builds the key
 * again on every verify, on every request.
 *
 * A client sends the same token with every request, so verified tokens are
 * remembered until they expire (bounded, oldest first out): the exact string
 * was checked once, and a cached entry still honours `exp`.
 */
export const createTokenService = (options: {
  secret: string;
  ttlSeconds: number;
  cacheSize?: number;
  now?: () => number;
}): TokenService => {
  const key: KeyObject = createSecretKey(Buffer.from(options.secret, 'utf8'));
  const cacheSize = options.cacheSize ?? 10_000;
  const now = options.now ?? Date.now;
  const verified = new Map<string, { auth: AuthContext; expiresAtMs: number }>();
  const verifyUncached = (token: string) => {
    let payload: unknown;
    try {
      payload = jwt.verify(token, key, {
        algorithms: ['HS256'],
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        clockTimestamp: Math.floor(now() / 1000),
      });
    } catch (error) {
      const expired = error instanceof jwt.TokenExpiredError;
      throw new InvalidTokenError(expired ? 'The token has expired.' : 'The token is not valid.');
    }
    const claims = TokenClaims.safeParse(payload);
    if (!claims.success) throw new InvalidTokenError('The token lacks required claims.');
    return {
      auth: { userId: claims.data.sub, role: claims.data.role },
      expiresAtMs: claims.data.exp * 1000,
    };
  };
  const verifyWithExpiry = (token: string) => {
    const cached = verified.get(token);
    if (cached) {
      if (now() < cached.expiresAtMs) return cached;
      verified.delete(token);
      throw new InvalidTokenError('The token has expired.');
    }
    const entry = verifyUncached(token);
    verified.set(token, entry);
    if (verified.size > cacheSize) verified.delete(verified.keys().next().value!);
    return entry;
  };
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
    verify: (token) => verifyWithExpiry(token).auth,
    verifyWithExpiry,
  };
};
