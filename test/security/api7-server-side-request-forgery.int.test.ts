import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rawRequest, redis, type System, startSystem } from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

describe('API7 server side request forgery', () => {
  it('forwards only to the configured services, whatever the path, target form or Host says', async () => {
    const hits: string[] = [];
    const elsewhere = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end('elsewhere');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    try {
      // Through the front door: a path it does not route is its own 404; one it routes
      // reaches the configured service (the query-service's 401 says so), never elsewhere.
      const unauthorized = 'Send Authorization: Bearer <token>.';
      const cases: [string, Record<string, string>, number, string][] = [
        [`//${host}/x`, {}, 404, `No route for GET //${host}/x.`],
        [`/\\\\${host}/x`, {}, 404, `No route for GET /\\\\${host}/x.`],
        [`/%2F%2F${host}/x`, {}, 404, `No route for GET /%2F%2F${host}/x.`],
        [`/@${host}/x`, {}, 404, `No route for GET /@${host}/x.`],
        [`/tasks/..%2F..%2F${host}`, {}, 401, unauthorized],
        [`/tasks?to=http://${host}/x`, {}, 401, unauthorized],
        [`/tasks`, { host }, 401, unauthorized],
        [`/tasks`, { 'x-forwarded-host': host, forwarded: `host=${host}` }, 401, unauthorized],
        // Absolute-form request target, as sent to a forward proxy: its path is what counts.
        [`http://${host}/tasks`, {}, 401, unauthorized],
        [`http://${host}/x`, {}, 404, 'No route for GET /x.'],
        [`/health`, { host }, 200, ''],
      ];
      for (const [path, headers, status, detail] of cases) {
        const answer = await rawRequest(sys.urls.door, { path, headers });
        expect({ path, status: answer.status, detail: answer.body?.detail ?? '' }).toEqual({
          path,
          status,
          detail: status === 200 ? '' : detail,
        });
        if (status === 200) expect(answer.body).toEqual({ status: 'ok' });
      }
      expect(hits).toEqual([]);
    } finally {
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  });
});
