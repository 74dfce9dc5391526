import { JWT_AUDIENCE, JWT_ISSUER } from '@tasksync/contracts';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { createTokenService, InvalidTokenError } from './jwt';

const secret = 'unit-secret-unit-secret-unit-secret-unit';
const userId = '0190b6a0-0000-7000-8000-000000000001';

describe('token service', () => {
  it('signs HS256 tokens with sub, role, iss, aud and exp, and verifies them', () => {
    const tokens = createTokenService({ secret, ttlSeconds: 600 });
    const { token, expiresIn } = tokens.sign({ userId, role: 'admin' });
    expect(expiresIn).toBe(600);
    const decoded = jwt.decode(token, { complete: true })!;
    expect(decoded.header.alg).toBe('HS256');
    expect(decoded.payload).toMatchObject({
      sub: userId,
      role: 'admin',
      iss: JWT_ISSUER,
      aud: JWT_AUDIENCE,
    });
    expect(tokens.verify(token)).toEqual({ userId, role: 'admin' });
  });

  it('refuses a remembered token once it has expired', () => {
    let clock = Date.now();
    const tokens = createTokenService({ secret, ttlSeconds: 60, now: () => clock });
    const { token } = tokens.sign({ userId, role: 'member' });
    expect(tokens.verify(token)).toEqual({ userId, role: 'member' });
    clock += 61_000;
    expect(() => tokens.verify(token)).toThrow(new InvalidTokenError('The token has expired.'));
    expect(() => tokens.verify(token)).toThrow(InvalidTokenError);
  });

  it('remembers a bounded number of tokens and still verifies evicted ones', () => {
    const tokens = createTokenService({ secret, ttlSeconds: 600, cacheSize: 2 });
    const issued = ['a', 'b', 'c'].map((_, i) =>
      jwt.sign({ role: 'member', n: i }, secret, {
        subject: userId,
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        expiresIn: 600,
      }),
    );
    for (const token of [...issued, ...issued])
      expect(tokens.verify(token)).toEqual({ userId, role: 'member' });
  });

  it('refuses a token signed with another secret even after a valid one was cached', () => {
    const tokens = createTokenService({ secret, ttlSeconds: 600 });
    tokens.verify(tokens.sign({ userId, role: 'member' }).token);
    const forged = createTokenService({ secret: `${secret}-other`, ttlSeconds: 600 }).sign({
      userId,
      role: 'admin',
    }).token;
    expect(() => tokens.verify(forged)).toThrow('The token is not valid.');
  });
});
