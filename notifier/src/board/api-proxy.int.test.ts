import type { AddressInfo } from 'node:net';
import { createMetrics, type RedisClient } from '@tasksync/platform';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { capturingLogger, connectTestRedis, expectProblem, listen } from '../../../test/support';
import { buildNotifierApp } from '../app';

const redis: RedisClient = connectTestRedis();
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
  await redis.quit();
});

/** A real HTTP service that answers what it was sent. */
const startEcho = async () => {
  const app = express();
  app.use(express.text({ type: () => true }));
  app.all('/{*rest}', (req, res) => {
    res
      .status(req.method === 'POST' ? 201 : 200)
      .set({ etag: '"3"', 'x-event-position': 't0:1-0', location: '/tasks/x' })
      .json({
        method: req.method,
        url: req.url,
        authorization: req.headers.authorization,
        idempotencyKey: req.headers['idempotency-key'],
        requestId: req.headers['x-request-id'],
        body: req.body,
      });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => void server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

const startBoard = async (services: { identity: string; command: string; query: string }) => {
  const app = buildNotifierApp({
    redis,
    logger: capturingLogger('warn').logger,
    metrics: createMetrics('notifier'),
    services,
  });
  const { url, close } = await listen(app);
  closers.push(close);
  return url;
};

describe('the board’s API proxy', () => {
  it('forwards method, path, query, headers and body, and passes the answer back', async () => {
    const echo = await startEcho();
    const board = await startBoard({ identity: echo, command: `${echo}/base`, query: echo });
    const answer = await fetch(`${board}/api/command/tasks?x=1`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer t',
        'content-type': 'application/json',
        'idempotency-key': 'k1',
        'x-request-id': 'req-1',
      },
      body: '{"title":"through the proxy"}',
    });
    expect(answer.status).toBe(201);
    expect(answer.headers.get('etag')).toBe('"3"');
    expect(answer.headers.get('x-event-position')).toBe('t0:1-0');
    expect(answer.headers.get('location')).toBe('/tasks/x');
    expect(await answer.json()).toEqual({
      method: 'POST',
      url: '/base/tasks?x=1',
      authorization: 'Bearer t',
      idempotencyKey: 'k1',
      requestId: 'req-1',
      body: '{"title":"through the proxy"}',
    });
  });

  it('keeps a path that looks like another host on the service', async () => {
    const echo = await startEcho();
    const board = await startBoard({ identity: echo, command: echo, query: echo });
    const answer = await fetch(`${board}/api/command//elsewhere.example/tasks`);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { url: string }).url).toBe('//elsewhere.example/tasks');
  });

  it('answers 503 problem+json when the service is unreachable, and 404 for an unknown one', async () => {
    const board = await startBoard({
      identity: 'http://127.0.0.1:9',
      command: 'http://127.0.0.1:9',
      query: 'http://127.0.0.1:9',
    });
    const down = await fetch(`${board}/api/query/tasks`);
    expectProblem(
      { status: down.status, headers: down.headers, body: await down.json(), text: '' },
      503,
      'service-unavailable',
    );
    const unknown = await fetch(`${board}/api/elsewhere/tasks`);
    expect(unknown.status).toBe(404);
  });

  it('serves the board with a policy that lets it load only from the notifier', async () => {
    const board = await startBoard({
      identity: 'http://127.0.0.1:9',
      command: 'http://127.0.0.1:9',
      query: 'http://127.0.0.1:9',
    });
    const page = await fetch(`${board}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('/socket.io/socket.io.min.js');
  });
});
