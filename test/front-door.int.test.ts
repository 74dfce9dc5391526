import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CORS_EXPOSED_HEADERS, createLogger, createMetrics } from '@tasksync/platform';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type GatewayDeps } from '../gateway/src/app';
import type { RateLimits } from '../gateway/src/limits';
import type { Upstream } from '../gateway/src/routes';
import { expectAnswersAsServices, expectLiveFeedThrough, registrationThrough } from './front-door';
import { FRONTEND, rawRequest, redis, type System, startSystem } from './security/system';
import { capturingLogger, client } from './support';

/*
 * The front door (design §12) in front of every service of this process, over
 * real HTTP and Socket.IO: each documented route answers through it exactly as
 * the service does, the door's own answers (404, 405, 502, 503, 504, 429) are
 * problem+json, headers pass both ways, and the live feed connects through it.
 */

afterAll(() => redis.quit());
let sys: System;
beforeAll(async () => {
  sys = await startSystem();
}, 60_000);
afterAll(() => sys.stop());

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Last opened, first closed: a socket before the door it goes through.
  for (const close of closers.splice(0).reverse()) await close();
});

/** A door on a free port, in front of `upstreams` (by default the system's services). */
const startDoor = async (options: Partial<GatewayDeps> = {}) => {
  const gateway = buildGateway({
    upstreams: { ...sys.urls },
    redis,
    prefix: sys.keys.prefix,
    logger: createLogger({ name: 'door', level: 'silent' }),
    metrics: createMetrics('gateway'),
    frontendOrigins: [FRONTEND],
    rates: undefined,
    timeoutMs: 10_000,
    ...options,
  });
  const server = http.createServer(gateway.handle).listen(0, '127.0.0.1');
  server.on('upgrade', gateway.upgrade);
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    gateway.close();
  });
  return url;
};

/** A plain HTTP server on a free port, as a stand-in service. */
const startStandIn = async (handler: http.RequestListener) => {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describe('the front door', () => {
  it('answers every documented route with the status and body the service answers directly', async () => {
    await expectAnswersAsServices(await startDoor(), sys);
  });

  it('answers what it does not route with 404 or 405 problem+json, and HEAD as GET', async () => {
    const log = capturingLogger('info');
    const door = await startDoor({ logger: log.logger });
    const unknown = await client(door).get('/nowhere');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(unknown.body).toMatchObject({ status: 404, type: 'urn:tasksync:problem:not-found' });

    const wrongMethod = await client(door).request('DELETE', '/tasks');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST, GET, HEAD');
    expect(wrongMethod.body).toMatchObject({
      status: 405,
      type: 'urn:tasksync:problem:method-not-allowed',
    });

    // What it forwards is in its metrics, by the table's route, and in its access log.
    const forwarded = await client(door).get('/tasks/some-id?x=1', {
      headers: { 'x-request-id': 'logged-1' },
    });
    expect(forwarded.status).toBe(401);
    const metrics = await rawRequest(door, { path: '/metrics' });
    expect(metrics.text).toMatch(
      /http_request_duration_seconds_count\{[^}]*route="\/tasks\/\{id\}"[^}]*status="401"[^}]*\} 1\n/,
    );
    expect(
      log.lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === 'request' && line.reqId === 'logged-1')
        .map(({ method, url, status }) => ({ method, url, status })),
    ).toEqual([{ method: 'GET', url: '/tasks/some-id', status: 401 }]);

    const head = await rawRequest(door, { method: 'HEAD', path: '/health' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('passes headers both ways, keeps or makes the request id, sets X-Forwarded-For and streams bodies', async () => {
    let received: http.IncomingHttpHeaders = {};
    let receivedBody = 0;
    const standIn = await startStandIn((req, res) => {
      received = req.headers;
      req.on('data', (chunk: Buffer) => {
        receivedBody += chunk.length;
      });
      req.on('end', () => {
        res.setHeader('x-event-position', 't0:1-0');
        res.setHeader('etag', '"7"');
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes: receivedBody }));
      });
    });
    const door = await startDoor({ upstreams: { ...sys.urls, command: standIn } });
    const megabyte = 'x'.repeat(1 << 20);
    const answer = await rawRequest(door, {
      method: 'POST',
      path: '/tasks?draft=1',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'kept-id-1',
        'idempotency-key': 'k-1',
        authorization: 'Bearer abc',
      },
      body: megabyte,
      chunked: true,
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ bytes: 1 << 20 });
    expect(answer.headers.get('x-event-position')).toBe('t0:1-0');
    expect(answer.headers.get('etag')).toBe('"7"');
    expect(answer.headers.get('x-request-id')).toBe('kept-id-1');
    expect(received).toMatchObject({
      'x-request-id': 'kept-id-1',
      'idempotency-key': 'k-1',
      authorization: 'Bearer abc',
      'x-forwarded-for': '127.0.0.1',
      host: new URL(door).host,
    });

    await rawRequest(door, {
      method: 'POST',
      path: '/tasks',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(received['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves the merged document, reading the services once for requests at the same time and again after a failure', async () => {
    const real = await (await fetch(`${sys.urls.query}/openapi.json`)).text();
    let reads = 0;
    let down = true;
    const query = await startStandIn((_req, res) => {
      reads++;
      res.writeHead(down ? 503 : 200, { 'content-type': 'application/json' });
      res.end(down ? '{}' : real);
    });
    const door = await startDoor({ upstreams: { ...sys.urls, query } });
    const failed = await client(door).get('/openapi.json');
    expect(failed.status).toBe(503);
    expect(failed.body.type).toBe('urn:tasksync:problem:service-unavailable');
    down = false;
    reads = 0;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => client(door).get('/openapi.json')),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers[0]!.body.paths['/tasks/{id}'].get.tags).toEqual(['query']);
    expect(reads).toBe(1);
  });

  it('answers CORS by its own FRONTEND_URL, whatever the service behind it sends', async () => {
    // One stand-in sends no CORS at all, the other a policy of its own (any origin).
    const bare = await startStandIn((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', vary: 'Accept-Encoding' });
      res.end('{}');
    });
    const lax = await startStandIn((_req, res) => {
      res.writeHead(201, {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        'access-control-expose-headers': 'X-Secret',
      });
      res.end('{}');
    });
    const rates: RateLimits = {
      register: { limit: 100, windowMs: 60_000 },
      login: { limit: 100, windowMs: 60_000 },
      write: { limit: 100, windowMs: 60_000 },
    };
    const cases = [
      { rates: undefined, limited: false },
      { rates, limited: true }, // writes go through express and the rate limit
    ];
    for (const { rates, limited } of cases) {
      const door = await startDoor({
        upstreams: { ...sys.urls, query: bare, command: lax },
        rates,
        prefix: `${sys.keys.prefix}:cors`,
      });
      const corsOf = (headers: Headers) =>
        Object.fromEntries(
          [...headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary'),
        );
      const exposed = CORS_EXPOSED_HEADERS.join(',');
      const asked = [
        ['GET', '/tasks/x', FRONTEND],
        ['POST', '/tasks', FRONTEND],
        ['GET', '/tasks/x', 'http://elsewhere.example'],
        ['POST', '/tasks', 'http://elsewhere.example'],
      ] as const;
      const answers = [];
      for (const [method, path, origin] of asked) {
        const answer = await fetch(`${door}${path}`, {
          method,
          headers: { origin, authorization: 'Bearer t', 'content-type': 'application/json' },
          ...(method === 'POST' ? { body: '{}' } : {}),
        });
        answers.push({ method, origin, status: answer.status, cors: corsOf(answer.headers) });
      }
      expect({ limited, answers }).toEqual({
        limited,
        answers: [
          {
            method: 'GET',
            origin: FRONTEND,
            status: 200,
            cors: {
              'access-control-allow-origin': FRONTEND,
              'access-control-expose-headers': exposed,
              vary: 'Origin, Accept-Encoding',
            },
          },
          {
            method: 'POST',
            origin: FRONTEND,
            status: 201,
            cors: {
              'access-control-allow-origin': FRONTEND,
              'access-control-expose-headers': exposed,
              vary: 'Origin',
            },
          },
          {
            method: 'GET',
            origin: 'http://elsewhere.example',
            status: 200,
            cors: { vary: 'Origin, Accept-Encoding' },
          },
          {
            method: 'POST',
            origin: 'http://elsewhere.example',
            status: 201,
            cors: { vary: 'Origin' },
          },
        ],
      });
    }
  });

  it('answers 503 for a service that is down, 502 for one that breaks off, 504 for one too slow', async () => {
    const down = await startStandIn(() => undefined);
    closers.pop()?.(); // closed again: nothing listens there now
    const breaksOff = await startStandIn((req) => req.socket.destroy());
    const slow = await startStandIn(() => undefined);
    const cases: [Upstream, string, number, string][] = [
      ['query', down, 503, 'service-unavailable'],
      ['query', breaksOff, 502, 'bad-gateway'],
      ['query', slow, 504, 'gateway-timeout'],
    ];
    for (const [service, upstream, status, slug] of cases) {
      const door = await startDoor({
        upstreams: { ...sys.urls, [service]: upstream },
        timeoutMs: 300,
      });
      const answer = await client(door).get('/tasks');
      expect({ upstream, status: answer.status, type: answer.body.type }).toEqual({
        upstream,
        status,
        type: `urn:tasksync:problem:${slug}`,
      });
      expect(answer.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      if (status === 503) expect(answer.headers.get('retry-after')).toBe('5');
    }
  });

  it('carries the live feed over a WebSocket through the same origin, and upgrades nothing else', async () => {
    const door = await startDoor();
    await expectLiveFeedThrough(door, sys);
    const refused = await rawRequest(door, {
      path: '/tasks',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    expect(refused.status).toBe(404);
  });

  it('limits registrations per address, log-ins per address and writes per token with 429 and Retry-After', async () => {
    const rates: RateLimits = {
      register: { limit: 3, windowMs: 60_000 },
      login: { limit: 2, windowMs: 60_000 },
      write: { limit: 4, windowMs: 60_000 },
    };
    const door = await startDoor({ rates, prefix: `${sys.keys.prefix}:limits` });
    const through = registrationThrough(door, `limit-${sys.keys.prefix}`);
    const registration = (n: number, localAddress = '127.0.0.1') => through(n, localAddress);
    const statuses = [];
    for (let n = 0; n < 5; n++) statuses.push((await registration(n)).status);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const limited = await registration(9);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(limited.body).toMatchObject({ status: 429, type: 'urn:tasksync:problem:rate-limited' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Nothing was registered past the limit; another address still registers.
    expect(
      (
        await client(sys.urls.identity).post('/auth/login', {
          email: `limit-${sys.keys.prefix}-4@example.com`,
          password: 'password-123',
        })
      ).status,
    ).toBe(401);
    expect((await registration(5, '127.0.0.2')).status).toBe(201);

    const member = await sys.register('writer');
    const writer = await sys.register('other-writer');
    const writes = [];
    for (let n = 0; n < 5; n++)
      writes.push(
        (await client(door).post('/tasks', { title: `w${n}` }, { token: member.token })).status,
      );
    expect(writes).toEqual([201, 201, 201, 201, 429]);
    expect(
      (await client(door).post('/tasks', { title: 'another token' }, { token: writer.token }))
        .status,
    ).toBe(201);
    // Reads are not limited.
    expect((await client(door).get('/tasks', { token: member.token })).status).toBe(200);
    // Limited or not, what the door forwards is measured by the table's route.
    const metrics = (await rawRequest(door, { path: '/metrics' })).text;
    const count = (method: string, status: number) =>
      new RegExp(
        `http_request_duration_seconds_count\\{service="gateway",method="${method}",route="/tasks",status="${status}"\\} (\\d+)\n`,
      ).exec(metrics)?.[1];
    expect([count('POST', 201), count('POST', 429), count('GET', 200)]).toEqual(['5', '1', '1']);

    const login = () =>
      client(door).post('/auth/login', { email: member.email, password: member.password });
    expect([(await login()).status, (await login()).status, (await login()).status]).toEqual([
      200, 200, 429,
    ]);
  });
});
