import { randomBytes } from 'node:crypto';
import { JWT_AUDIENCE, JWT_ISSUER } from '@tasksync/contracts';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, forgedTokens, type JsonAnswer } from '../support';
import { concretePath, documentedRoutes, routeLabel, validBody } from './routes';
import { type Member, redis, type System, startSystem } from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

/** What a JWT attacker sends (design §3: HS256 only, exp required, iss and aud checked). */
const tokenAttacks = async (member: Member, secret: string) => {
  const forged = await forgedTokens(member.userId);
  const claims = { sub: member.userId, role: 'admin', iss: JWT_ISSUER, aud: JWT_AUDIENCE };
  const signed = (extra: object, options: jwt.SignOptions = { expiresIn: 600 }) =>
    jwt.sign({ ...claims, ...extra }, secret, options);
  // The member's own valid token with its payload rewritten to say admin.
  const [header, payload, signature] = member.token.split('.') as [string, string, string];
  const escalated = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'admin' }),
  ).toString('base64url');
  const invalid = 'The token is not valid.';
  const lacking = 'The token lacks required claims.';
  return [
    { name: 'no token', detail: 'Send Authorization: Bearer <token>.' },
    {
      name: 'not a Bearer token',
      authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      detail: 'The Authorization header is not a Bearer token.',
    },
    { name: 'not a JWT', token: 'not-a-jwt', detail: invalid },
    { name: 'alg:none', token: forged.algNone, detail: invalid },
    { name: 'wrong secret', token: forged.wrongSecret, detail: invalid },
    { name: 'expired', token: forged.expired(secret), detail: 'The token has expired.' },
    { name: 'wrong iss', token: signed({ iss: 'someone-else' }), detail: invalid },
    { name: 'wrong aud', token: forged.wrongAudience(secret), detail: invalid },
    { name: 'no exp', token: forged.noExpiry(secret), detail: lacking },
    { name: 'HS512', token: signed({}, { algorithm: 'HS512', expiresIn: 600 }), detail: invalid },
    { name: 'unknown role', token: signed({ role: 'root' }), detail: lacking },
    { name: 'sub not a user id', token: signed({ sub: 'root' }), detail: lacking },
    { name: 'payload rewritten', token: `${header}.${escalated}.${signature}`, detail: invalid },
  ] as { name: string; token?: string; authorization?: string; detail: string }[];
};

describe('API2 broken authentication', () => {
  it('refuses forged, expired and missing tokens on every authenticated route of every service, directly and through the front door', async () => {
    const [member, colleague] = [await sys.register('member'), await sys.register('colleague')];
    // A private project of the member's, with a task and a colleague in it: every id is real.
    const project = await sys.createProject(member.token, { visibility: 'private' });
    await sys.addMember(member, project.id, colleague, 'editor');
    const task = await sys.createTask(member.token, { projectId: project.id });
    const routes = documentedRoutes().filter((route) => route.auth);
    expect(routes.map(routeLabel).sort()).toEqual([
      'command DELETE /projects/{id}/members/{userId}',
      'command DELETE /tasks/{id}',
      'command PATCH /projects/{id}',
      'command PATCH /tasks/{id}',
      'command POST /projects',
      'command POST /projects/{id}/members',
      'command POST /tasks',
      'command POST /tasks/{id}/comments',
      'command PUT /projects/{id}/members/{userId}',
      'command PUT /tasks/{id}',
      'identity GET /users/me',
      'identity GET /users/profile',
      'identity PATCH /users/{id}/role',
      'query GET /projects',
      'query GET /projects/{id}',
      'query GET /projects/{id}/members',
      'query GET /stats',
      'query GET /tasks',
      'query GET /tasks/{id}',
      'query GET /tasks/{id}/history',
      'query GET /users',
      'query GET /users/{id}',
    ]);
    const attacks = await tokenAttacks(member, sys.secret);
    const ids = {
      task: task.id,
      user: member.userId,
      project: project.id,
      member: colleague.userId,
    };
    const streams = [
      sys.keys.taskStream(task.id),
      sys.keys.userStream(member.userId),
      sys.keys.projectStream(project.id),
    ];
    for (const route of routes) {
      const path = concretePath(route.path, ids);
      const body = validBody(route, colleague.email);
      const targets = [
        { via: route.service, path },
        { via: 'door' as const, path },
      ];
      await Promise.all(
        attacks.flatMap((attack) =>
          targets.map(async (target) => {
            const authorization =
              attack.authorization ?? (attack.token ? `Bearer ${attack.token}` : undefined);
            const refused = await sys.spec[target.via].given(...streams).when({
              method: route.method,
              path: target.path,
              body,
              headers: authorization ? { authorization } : {},
            });
            const { answer } = refused;
            expect({
              route: routeLabel(route),
              via: target.path,
              attack: attack.name,
              status: answer.status,
            }).toEqual({
              route: routeLabel(route),
              via: target.path,
              attack: attack.name,
              status: 401,
            });
            refused.thenFails(401, 'unauthorized').thenAppends([]);
            expect(answer.body.detail).toBe(attack.detail);
            expect(answer.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
          }),
        ),
      );
    }
    // A valid token opens each of those routes: what was refused above was the token alone.
    const deleteLast = [...routes].sort(
      (a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'),
    );
    for (const route of deleteLast) {
      const answer = await sys.api[route.service].request(
        route.method,
        concretePath(route.path, ids),
        {
          token: sys.admin.token,
          body: validBody(route, colleague.email),
          headers: { 'x-min-position': await sys.headPositions() },
        },
      );
      expect({ route: routeLabel(route), ok: answer.status < 300, answer: answer.text }).toEqual({
        route: routeLabel(route),
        ok: true,
        answer: answer.text,
      });
    }
  });

  it('refuses the same tokens at the Socket.IO handshake with connect_error 401', async () => {
    const member = await sys.register('member');
    for (const attack of await tokenAttacks(member, sys.secret)) {
      if (attack.authorization) continue;
      const error = await sys.refusedFeed(attack.token ? { token: attack.token } : {});
      expect({ attack: attack.name, message: error.message, data: error.data }).toEqual({
        attack: attack.name,
        message: 'unauthorized',
        data: {
          status: 401,
          detail: attack.token ? attack.detail : 'Send a token: io(url, { auth: { token } }).',
        },
      });
    }
    await sys.liveFeed(member.token);
  });

  it('throttles one e-mail after 10 failed logins: 429 with Retry-After, the right password too, whatever its spelling or route', async () => {
    const target = await sys.register('target');
    const spellings = [target.email, target.email.toUpperCase(), `  ${target.email} `];
    for (let i = 0; i < 10; i++) {
      const route = i % 2 ? '/users/login' : '/auth/login';
      expectProblem(
        await sys.api.identity.post(route, {
          email: spellings[i % spellings.length],
          password: `wrong-guess-${i}`,
        }),
        401,
        'unauthorized',
      );
    }
    for (const [route, password] of [
      ['/auth/login', target.password],
      ['/users/login', target.password],
      ['/auth/login', 'wrong-guess-10'],
    ] as const) {
      const refused = await sys.api.identity.post(route, { email: target.email, password });
      expectProblem(refused, 429, 'too-many-requests');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 900).toBe(true);
      expect(refused.body.token).toBeUndefined();
    }
    // Another e-mail is not held hostage by the throttle.
    const bystander = await sys.register('bystander');
    expect(
      (
        await sys.api.identity.post('/auth/login', {
          email: bystander.email,
          password: bystander.password,
        })
      ).status,
    ).toBe(200);
  });

  it('answers an unknown e-mail and a wrong password with the same 401', async () => {
    const known = await sys.register('known');
    const wrongPassword = await sys.api.identity.post('/auth/login', {
      email: known.email,
      password: 'not-the-password',
    });
    const unknownEmail = await sys.api.identity.post('/auth/login', {
      email: `nobody-${randomBytes(4).toString('hex')}@example.com`,
      password: 'not-the-password',
    });
    expectProblem(wrongPassword, 401, 'unauthorized');
    const seen = (answer: JsonAnswer) => ({
      status: answer.status,
      type: answer.headers.get('content-type'),
      authenticate: answer.headers.get('www-authenticate'),
      body: answer.body,
      text: answer.text,
    });
    expect(seen(unknownEmail)).toEqual(seen(wrongPassword));
  });
});
