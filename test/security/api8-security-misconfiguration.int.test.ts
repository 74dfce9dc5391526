import { createLogger, createMetrics } from '@tasksync/platform';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildProjectorApp } from '../../projector/src/app';
import { listen, waitFor } from '../support';
import { concretePath, documentedRoutes, routeLabel } from './routes';
import { expectSafeProblem, FRONTEND, rawRequest, redis, type System, startSystem } from './system';

/** Every `access-control-*` header of an answer. */
const corsHeaders = (headers: Headers) =>
  Object.fromEntries([...headers].filter(([name]) => name.startsWith('access-control-')));

/** Origins that are not FRONTEND, however close. */
const FOREIGN_ORIGINS = [
  'http://evil.example',
  'null',
  'http://board.example.evil.example',
  'https://board.example',
  'http://board.example:8080',
  'http://BOARD.example.',
];

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

describe('API8 security misconfiguration', () => {
  it('sends no X-Powered-By and no CORS grant to a foreign origin, from any service', async () => {
    const member = await sys.register('member');
    const projectorServer = await listen(
      buildProjectorApp({
        redis,
        keys: sys.keys,
        db: () => sys.db,
        group: 'projector',
        logger: createLogger({ name: 'security', level: 'silent' }),
        metrics: createMetrics('projector'),
      }),
    );
    try {
      const requests: [string, string, string, string?][] = [
        [sys.urls.identity, 'GET', '/health'],
        [sys.urls.identity, 'GET', '/users/me', member.token],
        [sys.urls.identity, 'GET', '/users/me'],
        [sys.urls.identity, 'POST', '/auth/login'],
        [sys.urls.identity, 'GET', '/nowhere'],
        [sys.urls.command, 'GET', '/openapi.json'],
        [sys.urls.command, 'POST', '/tasks'],
        [sys.urls.command, 'OPTIONS', '/tasks'],
        [sys.urls.query, 'GET', '/tasks', member.token],
        [sys.urls.query, 'GET', '/tasks'],
        [sys.urls.query, 'OPTIONS', '/tasks'],
        [sys.urls.notifier, 'GET', '/'],
        [sys.urls.notifier, 'GET', '/board.js'],
        [sys.urls.notifier, 'GET', '/metrics'],
        [sys.urls.notifier, 'GET', '/nowhere'],
        [sys.urls.door, 'GET', '/tasks', member.token],
        [sys.urls.door, 'OPTIONS', '/tasks'],
        [sys.urls.door, 'GET', '/docs'],
        [sys.urls.door, 'GET', '/nowhere'],
        [projectorServer.url, 'GET', '/ready'],
        [projectorServer.url, 'GET', '/nowhere'],
      ];
      for (const [base, method, path, token] of requests) {
        const answer = await rawRequest(base, {
          method,
          path,
          headers: {
            origin: 'http://evil.example',
            'access-control-request-method': 'DELETE',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        });
        expect({
          url: `${method} ${base}${path}`,
          poweredBy: answer.headers.get('x-powered-by'),
          cors: corsHeaders(answer.headers),
        }).toEqual({ url: `${method} ${base}${path}`, poweredBy: null, cors: {} });
      }
    } finally {
      await projectorServer.close();
    }
  });

  it('grants CORS to exactly the FRONTEND_URL origins on every documented route: preflight, answers and refusals', async () => {
    const member = await sys.register('member');
    const task = await sys.createTask(member.token);
    const project = await sys.createProject(member.token);
    const ids = { task: task.id, user: member.userId, project: project.id, member: member.userId };
    // The headers TaskSync reads, and those its clients need to see (design §3, §6, §12).
    const requestHeaders =
      'Authorization,Content-Type,If-Match,Idempotency-Key,X-Min-Position,X-Max-Wait-Ms,X-Request-Id';
    const granted = {
      'access-control-allow-origin': FRONTEND,
      'access-control-expose-headers':
        'ETag,Location,X-Event-Position,X-Read-Position,Retry-After,X-Request-Id,Idempotent-Replayed',
    };
    const routes = documentedRoutes();
    expect(routes.length).toBeGreaterThan(20);
    for (const route of routes) {
      const base = sys.urls[route.service];
      const path = concretePath(route.path, ids);
      const label = routeLabel(route);
      const preflight = await rawRequest(base, {
        method: 'OPTIONS',
        path,
        headers: {
          origin: FRONTEND,
          'access-control-request-method': route.method,
          'access-control-request-headers': requestHeaders.toLowerCase().replaceAll(',', ', '),
        },
      });
      expect({ label, status: preflight.status, cors: corsHeaders(preflight.headers) }).toEqual({
        label,
        status: 204,
        cors: {
          ...granted,
          'access-control-allow-methods': 'GET,HEAD,POST,PUT,PATCH,DELETE',
          'access-control-allow-headers': requestHeaders,
          'access-control-max-age': '600',
        },
      });
      expect(preflight.headers.get('vary'), label).toMatch(/\bOrigin\b/);
      // The request itself, with and without a token: the answer (a refusal too) is readable.
      for (const token of [member.token, undefined]) {
        const answer = await rawRequest(base, {
          method: route.method,
          path,
          headers: {
            origin: FRONTEND,
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: route.method === 'GET' || route.method === 'DELETE' ? undefined : '{}',
        });
        expect({ label, token: Boolean(token), cors: corsHeaders(answer.headers) }).toEqual({
          label,
          token: Boolean(token),
          cors: granted,
        });
        expect(answer.headers.get('vary'), label).toMatch(/\bOrigin\b/);
      }
      for (const origin of FOREIGN_ORIGINS) {
        const refused = await rawRequest(base, {
          method: 'OPTIONS',
          path,
          headers: { origin, 'access-control-request-method': route.method },
        });
        expect({ label, origin, cors: corsHeaders(refused.headers) }).toEqual({
          label,
          origin,
          cors: {},
        });
      }
    }
    // The board's page, and the front door's own answers, grant the same origins.
    for (const [base, path] of [
      [sys.urls.notifier, '/'],
      [sys.urls.door, '/'],
      [sys.urls.door, '/openapi.json'],
    ] as const) {
      const answer = await rawRequest(base, { path, headers: { origin: FRONTEND } });
      expect({ base, path, cors: corsHeaders(answer.headers) }).toEqual({
        base,
        path,
        cors: granted,
      });
    }
  });

  it('serves the board under a Content-Security-Policy that allows only its own scripts, and no inline code', async () => {
    const policy =
      "default-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
    for (const path of ['/', '/index.html', '/board.js', '/board.css']) {
      const answer = await rawRequest(sys.urls.notifier, { path });
      expect({
        path,
        status: answer.status,
        policy: answer.headers.get('content-security-policy'),
        sniff: answer.headers.get('x-content-type-options'),
        referrer: answer.headers.get('referrer-policy'),
      }).toEqual({ path, status: 200, policy, sniff: 'nosniff', referrer: 'no-referrer' });
    }
    const page = (await rawRequest(sys.urls.notifier, { path: '/' })).text;
    const scripts = [...page.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [tag, inline] of scripts) {
      expect(tag).toMatch(/\ssrc="\/[^"]+"/);
      expect(inline).toBe('');
    }
    expect(page).not.toMatch(/\son[a-z]+=|<style|\sstyle=/i);
    const script = (await rawRequest(sys.urls.notifier, { path: '/board.js' })).text;
    expect(script).not.toMatch(
      /\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(/,
    );
  });

  it('answers bad input with problem+json and never a stack trace, an internal path or a 5xx', async () => {
    const member = await sys.register('member');
    const task = await sys.createTask(member.token);
    const auth = { authorization: `Bearer ${member.token}` };
    const json = { 'content-type': 'application/json' };
    const cases: [string, string, string, Record<string, string>, string | undefined, number][] = [
      [sys.urls.identity, 'POST', '/auth/login', json, '{"email":', 400],
      [sys.urls.identity, 'POST', '/auth/login', json, '"just a string"', 400],
      [
        sys.urls.identity,
        'POST',
        '/auth/register',
        json,
        `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
        400,
      ],
      [
        sys.urls.identity,
        'POST',
        '/auth/register',
        json,
        '{"email":{"$gt":""},"password":[1]}',
        400,
      ],
      [
        sys.urls.identity,
        'POST',
        '/auth/login',
        { 'content-type': 'application/json; charset=latin1' },
        '{}',
        415,
      ],
      [
        sys.urls.identity,
        'POST',
        '/auth/login',
        { 'content-type': 'application/xml' },
        '<a/>',
        415,
      ],
      [
        sys.urls.identity,
        'PATCH',
        '/users/%E0%A4%A/role',
        { ...auth, ...json },
        '{"role":"admin"}',
        400,
      ],
      [
        sys.urls.identity,
        'GET',
        '/users/me',
        { authorization: `Bearer ${'a'.repeat(6_000)}` },
        undefined,
        401,
      ],
      [sys.urls.identity, 'DELETE', '/health', {}, undefined, 404],
      [sys.urls.command, 'PATCH', '/tasks/%E0%A4%A', { ...auth, ...json }, '{"title":"x"}', 400],
      [sys.urls.command, 'PATCH', `/tasks/${task.id}`, { ...auth, ...json }, '{"title":null}', 400],
      [
        sys.urls.command,
        'PATCH',
        `/tasks/${task.id}`,
        { ...auth, ...json, 'if-match': '"x"' },
        '{}',
        400,
      ],
      [
        sys.urls.command,
        'POST',
        '/tasks',
        { ...auth, ...json, 'idempotency-key': ' ' },
        '{"title":"x"}',
        400,
      ],
      [sys.urls.command, 'POST', '/tasks', { ...auth, ...json }, '{"title":"\\ud800"}', 201],
      [
        sys.urls.command,
        'POST',
        '/tasks',
        { ...auth, 'content-type': 'text/plain' },
        'title=x',
        415,
      ],
      [sys.urls.query, 'GET', '/tasks?status=pending&status=completed', auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks?sort[]=title', auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks?cursor=eyJzIjoiLXVwZGF0ZWRBdCJ9', auth, undefined, 400],
      [sys.urls.query, 'GET', `/tasks/${task.id}?asOf=yesterday`, auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks/%E0%A4%A', auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks', { ...auth, 'x-min-position': 'nonsense' }, undefined, 400],
      [
        sys.urls.query,
        'GET',
        '/tasks',
        { ...auth, 'x-min-position': 't0:99999999999999-0', 'x-max-wait-ms': '50' },
        undefined,
        503,
      ],
      [sys.urls.notifier, 'GET', '/../../package.json', {}, undefined, 404],
      [sys.urls.notifier, 'GET', '/%2e%2e/%2e%2e/package.json', {}, undefined, 404],
      [sys.urls.notifier, 'GET', '/..%2f..%2fpackage.json', {}, undefined, 404],
      [sys.urls.door, 'GET', '/users/me', {}, undefined, 401],
      [sys.urls.door, 'GET', '/../../package.json', {}, undefined, 404],
      [sys.urls.door, 'GET', '/nowhere', {}, undefined, 404],
      [sys.urls.door, 'DELETE', '/tasks', {}, undefined, 405],
    ];
    for (const [base, method, path, headers, body, status] of cases) {
      const answer = await rawRequest(base, { method, path, headers, ...(body ? { body } : {}) });
      expect({ request: `${method} ${path}`, status: answer.status }).toEqual({
        request: `${method} ${path}`,
        status,
      });
      if (status < 300) continue;
      expectSafeProblem(answer, status);
      expect(answer.text).not.toContain('"name": "tasksync"');
    }
  });

  it('admits Socket.IO handshakes only from allowed origins, on polling and on websocket', async () => {
    const member = await sys.register('member');
    const polling = (origin?: string) =>
      rawRequest(sys.urls.notifier, {
        path: '/socket.io/?EIO=4&transport=polling',
        headers: origin ? { origin } : {},
      });
    const upgrade = (origin: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const socket = new WebSocket(
          `${sys.urls.notifier.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`,
          { origin },
        );
        socket.on('open', () => {
          socket.close();
          resolve({ status: 101, body: '' });
        });
        socket.on('unexpected-response', (_request, response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => {
            body += chunk.toString();
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        socket.on('error', reject);
      });
    for (const foreign of [
      'http://evil.example',
      'null',
      'http://board.example.evil.example',
      'https://board.example',
      'http://board.example:8080',
    ]) {
      const answer = await polling(foreign);
      expect({ foreign, status: answer.status, body: answer.body }).toEqual({
        foreign,
        status: 403,
        body: { code: 4, message: 'Forbidden' },
      });
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
      // engine.io refuses an upgrade with 400 (its abortUpgrade), a polling request with 403.
      expect(await upgrade(foreign)).toEqual({ status: 400, body: 'Forbidden' });
    }
    for (const allowed of [FRONTEND, sys.urls.notifier]) {
      const answer = await polling(allowed);
      expect(answer.status).toBe(200);
      expect(answer.text).toMatch(/^0\{"sid":/);
      expect(await upgrade(allowed)).toEqual({ status: 101, body: '' });
    }
    expect((await polling(FRONTEND)).headers.get('access-control-allow-origin')).toBe(FRONTEND);
    // A client without Origin is a program, not a page: only its token decides.
    expect((await polling()).status).toBe(200);

    for (const transports of [['polling'], ['websocket']] as const) {
      const error = await sys.refusedFeed(
        { token: member.token },
        { origin: 'http://evil.example', transports: [...transports] },
      );
      expect(error.message).toMatch(/xhr poll error|websocket error/);
      const allowed = sys.connectFeed(
        { token: member.token },
        { origin: FRONTEND, transports: [...transports] },
      );
      await waitFor(() => (allowed.state.live ? true : undefined), {
        message: `live over ${transports[0]}`,
      });
    }
  });
});
