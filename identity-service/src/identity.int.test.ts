import { newId } from '@tasksync/contracts';
import { createMetrics, createTokenService, readAggregateEntries } from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiSpec, apiSpec } from '../../test/api-spec';
import {
  capturingLogger,
  client,
  connectTestRedis,
  expectProblem,
  forgedTokens,
  listen,
  readEventsOf,
  testKeys,
} from '../../test/support';
import { buildIdentityApp } from './app';
import { bootstrapAdmin } from './users/bootstrap';
import { createPasswordHasher } from './users/passwords';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const BCRYPT = /\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/;
const redis = connectTestRedis();
const keys = testKeys(1);
const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
const { logger, lines } = capturingLogger();
const answers: string[] = [];
let api: ReturnType<typeof client>;
let spec: ApiSpec;
let close: () => Promise<void>;
let adminToken: string;

beforeAll(async () => {
  const { app, accounts } = buildIdentityApp({
    redis,
    keys,
    tokens,
    passwords: await createPasswordHasher(4),
    logger,
    metrics: createMetrics('identity-test'),
    now: () => new Date(),
    newId,
    loginThrottle: { maxFailures: 10, windowSeconds: 900 },
  });
  await bootstrapAdmin(
    { accounts, redis, keys, logger },
    { email: 'root@example.com', password: 'root-password' },
  );
  const server = await listen(app);
  close = server.close;
  const raw = client(server.url);
  // Every answer is kept, to check that no password hash ever leaves the service.
  const keep = <A extends unknown[]>(fn: (...args: A) => Promise<{ text: string }>) =>
    (async (...args: A) => {
      const answer = await fn(...args);
      answers.push(answer.text);
      return answer;
    }) as typeof fn;
  api = {
    ...raw,
    get: keep(raw.get),
    post: keep(raw.post),
    patch: keep(raw.patch),
    request: keep(raw.request),
  } as typeof raw;
  spec = apiSpec({ redis, keys, api });
  adminToken = (
    await api.post('/auth/login', { email: 'root@example.com', password: 'root-password' })
  ).body.token;
});
afterAll(async () => {
  await close();
  await redis.quit();
});

const register = (email: string, password = 'correct horse', name?: string) =>
  api.post('/auth/register', { email, password, ...(name ? { name } : {}) });

describe('POST /auth/register', () => {
  it('registers a member and appends UserRegistered without the password', async () => {
    const answer = await register('Ada@Example.com ', 'correct horse', 'Ada');
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      user: {
        id: expect.any(String),
        name: 'Ada',
        role: 'member',
        email: 'ada@example.com',
        createdAt: expect.any(String),
      },
      position: expect.stringMatching(/^id:\d+-\d+$/),
    });
    expect(answer.headers.get('x-event-position')).toBe(answer.body.position);
    expect(answer.headers.get('etag')).toBe('"0"');
    const [fields] = await readAggregateEntries(redis, {
      streamKey: keys.userStream(answer.body.user.id),
      logKey: keys.identityLog,
    });
    const [event] = await readEventsOf(redis, keys.userStream(answer.body.user.id));
    expect(`id:${event?.entryId}`).toBe(answer.body.position);
    expect(event).toMatchObject({
      type: 'UserRegistered',
      rev: 0,
      data: { email: 'ada@example.com', name: 'Ada', role: 'member' },
    });
    expect(JSON.stringify(fields)).not.toContain('correct horse');
    expect(await redis.get(keys.credentials(answer.body.user.id))).toMatch(BCRYPT);
  });

  it('answers 409 for a taken e-mail, whatever its case', async () => {
    expect((await register('grace@example.com')).status).toBe(201);
    expectProblem(await register('  GRACE@example.com'), 409, 'email-taken');
  });

  it('names a user after the e-mail when no name is given and never grants a role', async () => {
    const answer = await register('linus@example.com');
    expect(answer.body.user).toMatchObject({ name: 'linus', role: 'member' });
    expectProblem(
      await api.post('/auth/register', {
        email: 'x@example.com',
        password: 'password1',
        role: 'admin',
      }),
      400,
      'validation',
    );
  });

  it('cuts a default name taken from a long e-mail to 100 characters, so the account works', async () => {
    const local = 'a'.repeat(120);
    const answer = await register(`${local}@example.com`, 'long-local-pw');
    expect(answer.status).toBe(201);
    expect(answer.body.user.name).toBe('a'.repeat(100));
    expect(
      (await api.post('/auth/login', { email: `${local}@example.com`, password: 'long-local-pw' }))
        .status,
    ).toBe(200);
  });

  it('takes passwords of 8 to 72 UTF-8 bytes only', async () => {
    expect((await register('bytes72@example.com', 'é'.repeat(36))).status).toBe(201);
    const tooLong = await register('bytes74@example.com', 'é'.repeat(37));
    expectProblem(tooLong, 400, 'validation');
    expect(tooLong.body.errors).toEqual([
      { path: 'password', message: 'must be at most 72 UTF-8 bytes (bcrypt reads no further)' },
    ]);
    expectProblem(await register('short@example.com', '1234567'), 400, 'validation');
  });

  it('refuses malformed input with 400, 413 and 415', async () => {
    expectProblem(
      await api.post('/auth/register', { email: 'not-an-email', password: 'password1' }),
      400,
      'validation',
    );
    expectProblem(await api.post('/auth/register', {}), 400, 'validation');
    expectProblem(
      await api.request('POST', '/auth/register', {
        raw: '{"email":',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'bad-request',
    );
    expectProblem(
      await api.request('POST', '/auth/register', {
        raw: 'email=a',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
    );
    const big = await api.post('/auth/register', {
      email: 'big@example.com',
      password: 'password1',
      name: 'x'.repeat(110_000),
    });
    expectProblem(big, 413, 'payload-too-large');
  });
});

describe('POST /auth/login', () => {
  it('answers a Bearer token that the API accepts', async () => {
    await register('login@example.com', 'login-password');
    const answer = await api.post('/auth/login', {
      email: 'LOGIN@example.com',
      password: 'login-password',
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      token: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 3600,
      user: expect.objectContaining({ email: 'login@example.com', role: 'member' }),
    });
    expect(tokens.verify(answer.body.token)).toEqual({
      userId: answer.body.user.id,
      role: 'member',
    });
    const me = await api.get('/users/me', { token: answer.body.token });
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual(answer.body.user);
  });

  it('answers the same 401 for an unknown e-mail and a wrong password', async () => {
    await register('twin@example.com', 'twin-password');
    const wrong = await api.post('/auth/login', {
      email: 'twin@example.com',
      password: 'not-the-password',
    });
    const unknown = await api.post('/auth/login', {
      email: 'nobody@example.com',
      password: 'not-the-password',
    });
    expectProblem(wrong, 401, 'unauthorized');
    expect({
      status: unknown.status,
      body: unknown.body,
      auth: unknown.headers.get('www-authenticate'),
    }).toEqual({
      status: wrong.status,
      body: wrong.body,
      auth: wrong.headers.get('www-authenticate'),
    });
  });

  it('spends one bcrypt comparison on an unknown e-mail too, so timing does not tell it apart', async () => {
    const real = await createPasswordHasher(4);
    const compared: (string | null)[] = [];
    const { app } = buildIdentityApp({
      redis,
      keys,
      tokens,
      passwords: {
        hash: real.hash,
        verify: (password, hash) => {
          compared.push(hash);
          return real.verify(password, hash);
        },
      },
      logger,
      metrics: createMetrics('identity-timing'),
      now: () => new Date(),
      newId,
      loginThrottle: { maxFailures: 10, windowSeconds: 900 },
    });
    const server = await listen(app);
    try {
      await register('timing@example.com', 'timing-password');
      const timing = client(server.url);
      expect(
        (await timing.post('/auth/login', { email: 'ghost@example.com', password: 'whatever-pw' }))
          .status,
      ).toBe(401);
      expect(
        (
          await timing.post('/auth/login', {
            email: 'timing@example.com',
            password: 'wrong-password',
          })
        ).status,
      ).toBe(401);
      expect(compared).toEqual([null, expect.stringMatching(BCRYPT)]);
    } finally {
      await server.close();
    }
  });

  it('throttles an e-mail after 10 failures in 15 minutes with 429 and Retry-After, even for the right password', async () => {
    await register('target@example.com', 'target-password');
    for (let i = 0; i < 10; i++) {
      expect(
        (await api.post('/auth/login', { email: 'target@example.com', password: `guess-${i}-xx` }))
          .status,
      ).toBe(401);
    }
    const refused = await api.post('/auth/login', {
      email: 'target@example.com',
      password: 'target-password',
    });
    expectProblem(refused, 429, 'too-many-requests');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // Another e-mail is not affected.
    await register('bystander@example.com', 'bystander-pw');
    expect(
      (await api.post('/auth/login', { email: 'bystander@example.com', password: 'bystander-pw' }))
        .status,
    ).toBe(200);
  });

  it('counts parallel guesses before checking them: 30 at once give exactly 10 × 401 and 20 × 429', async () => {
    await register('parallel@example.com', 'parallel-pw');
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        api.post('/auth/login', { email: 'parallel@example.com', password: `guess-${i}-xx` }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
  });

  it('refuses a password longer than 72 bytes even when its first 72 bytes match', async () => {
    const password = 'p'.repeat(72);
    await register('prefix@example.com', password);
    expect((await api.post('/auth/login', { email: 'prefix@example.com', password })).status).toBe(
      200,
    );
    expectProblem(
      await api.post('/auth/login', { email: 'prefix@example.com', password: `${password}EXTRA` }),
      401,
      'unauthorized',
    );
  });

  it('keeps the failure count below the limit after a success', async () => {
    await register('forgetful@example.com', 'remembered');
    for (let i = 0; i < 9; i++)
      await api.post('/auth/login', { email: 'forgetful@example.com', password: 'forgotten' });
    expect(
      (await api.post('/auth/login', { email: 'forgetful@example.com', password: 'remembered' }))
        .status,
    ).toBe(200);
    expect(
      (await api.post('/auth/login', { email: 'forgetful@example.com', password: 'forgotten' }))
        .status,
    ).toBe(401);
    expect(
      (await api.post('/auth/login', { email: 'forgetful@example.com', password: 'remembered' }))
        .status,
    ).toBe(200);
  });
});

describe('GET /users/me and the original aliases', () => {
  it('serves /users/register, /users/login and /users/profile like the new routes', async () => {
    const registered = await api.post('/users/register', {
      email: 'alias@example.com',
      password: 'alias-password',
    });
    expect(registered.status).toBe(201);
    const login = await api.post('/users/login', {
      email: 'alias@example.com',
      password: 'alias-password',
    });
    expect(login.status).toBe(200);
    const profile = await api.get('/users/profile', { token: login.body.token });
    expect(profile.status).toBe(200);
    expect(profile.body.user.id).toBe(registered.body.user.id);
  });

  it('answers 401 for a missing, wrong-secret, alg:none, expired, wrong-audience or exp-less token', async () => {
    const userId = newId();
    const forged = await forgedTokens(userId);
    expectProblem(await api.get('/users/me'), 401, 'unauthorized');
    for (const token of [
      forged.wrongSecret,
      forged.algNone,
      forged.expired(SECRET),
      forged.wrongAudience(SECRET),
      forged.noExpiry(SECRET),
    ]) {
      const answer = await api.get('/users/me', { token });
      expectProblem(answer, 401, 'unauthorized');
      expect(answer.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
    expect((await api.get('/users/me', { token: forged.expired(SECRET) })).body.detail).toBe(
      'The token has expired.',
    );
  });
});

describe('PATCH /users/:id/role', () => {
  const changeRole = (userId: string, role: string, token: string) => ({
    method: 'PATCH',
    path: `/users/${userId}/role`,
    body: { role },
    token,
  });

  it('lets an admin change a role and appends UserRoleChanged', async () => {
    const member = await register('promoted@example.com');
    const stream = keys.userStream(member.body.user.id);
    const changed = await spec
      .given(stream)
      .when(changeRole(member.body.user.id, 'admin', adminToken));
    changed.thenAnswers(200).thenAppends([
      {
        type: 'UserRoleChanged',
        agg: member.body.user.id,
        rev: 1,
        data: { from: 'member', to: 'admin' },
      },
    ]);
    expect(changed.answer.headers.get('etag')).toBe('"1"');
    expect(changed.answer.body.user).toMatchObject({
      id: member.body.user.id,
      role: 'admin',
      email: 'promoted@example.com',
    });
    expect((await readEventsOf(redis, stream)).map((e) => e.type)).toEqual([
      'UserRegistered',
      'UserRoleChanged',
    ]);
    // The same role again changes nothing, so nothing is appended.
    (await spec.given(stream).when(changeRole(member.body.user.id, 'admin', adminToken)))
      .thenAnswers(200)
      .thenAppends([]);
  });

  it('refuses members (403), unknown users (404) and unknown roles (400)', async () => {
    const member = await register('wannabe@example.com', 'wannabe-pw');
    const token = (
      await api.post('/auth/login', { email: 'wannabe@example.com', password: 'wannabe-pw' })
    ).body.token;
    const given = spec.given(keys.userStream(member.body.user.id));
    (await given.when(changeRole(member.body.user.id, 'admin', token)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    (await given.when(changeRole(newId(), 'admin', adminToken)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    (await given.when(changeRole(member.body.user.id, 'owner', adminToken)))
      .thenFails(400, 'validation')
      .thenAppends([]);
  });

  it('refuses an admin token whose user has since been demoted', async () => {
    const member = await register('former@example.com', 'former-pw');
    await api.patch(`/users/${member.body.user.id}/role`, { role: 'admin' }, { token: adminToken });
    const token = (
      await api.post('/auth/login', { email: 'former@example.com', password: 'former-pw' })
    ).body.token;
    await api.patch(
      `/users/${member.body.user.id}/role`,
      { role: 'member' },
      { token: adminToken },
    );
    const victim = await register('victim@example.com');
    (
      await spec
        .given(keys.userStream(victim.body.user.id))
        .when(changeRole(victim.body.user.id, 'admin', token))
    )
      .thenFails(403, 'forbidden')
      .thenAppends([]);
  });
});

describe('operations', () => {
  it('serves /health, /ready, /metrics and a generated /openapi.json', async () => {
    expect((await api.get('/health')).status).toBe(200);
    expect((await api.get('/ready')).body).toEqual({ status: 'ready', checks: { redis: true } });
    expect((await api.get('/metrics')).text).toContain('http_request_duration_seconds_bucket');
    const openapi = await api.get('/openapi.json');
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/auth/register',
        '/auth/login',
        '/users/me',
        '/users/{id}/role',
        '/users/profile',
      ]),
    );
    expect(
      openapi.body.paths['/auth/register'].post.requestBody.content['application/json'].schema
        .required,
    ).toEqual(['email', 'password']);
  });

  it('bootstraps the admin once, also when two processes race', async () => {
    const raceKeys = testKeys(1);
    const passwords = await createPasswordHasher(4);
    const { accounts } = buildIdentityApp({
      redis,
      keys: raceKeys,
      tokens,
      passwords,
      logger,
      metrics: createMetrics('identity-race'),
      now: () => new Date(),
      newId,
      loginThrottle: { maxFailures: 10, windowSeconds: 900 },
    });
    const admin = { email: 'boss@example.com', password: 'boss-password' };
    const results = await Promise.all(
      [1, 2, 3].map(() => bootstrapAdmin({ accounts, redis, keys: raceKeys, logger }, admin)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await redis.xlen(raceKeys.identityLog)).toBe(1);
    expect(await bootstrapAdmin({ accounts, redis, keys: raceKeys, logger }, admin)).toBe(false);
  });

  it('never puts a password hash into a log line, an answer or the identity log', async () => {
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.filter((line) => BCRYPT.test(line))).toEqual([]);
    expect(answers.length).toBeGreaterThan(20);
    expect(answers.filter((text) => BCRYPT.test(text))).toEqual([]);
    const log = (await redis.xrange(keys.identityLog, '-', '+')) as [string, string[]][];
    expect(log.length).toBeGreaterThan(5);
    expect(log.filter(([, fields]) => BCRYPT.test(fields.join(' ')))).toEqual([]);
  });
});
