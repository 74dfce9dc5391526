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
  it('forwards /api/<service>/… only to that configured service, whatever the path, target form or Host says', async () => {
    const hits: string[] = [];
    const elsewhere = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end('elsewhere');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    try {
      // Each answer names the path the service saw: it came from that service, not from elsewhere.
      const cases: [string, Record<string, string>, number, string][] = [
        [`/api/identity//${host}/x`, {}, 404, `No route for GET //${host}/x.`],
        [`/api/command//${host}/x`, {}, 404, `No route for GET //${host}/x.`],
        [`/api/query//${host}/x`, {}, 401, 'Send Authorization: Bearer <token>.'],
        [`/api/identity/\\\\${host}/x`, {}, 404, `No route for GET ///${host}/x.`],
        [`/api/identity/%2F%2F${host}/x`, {}, 404, `No route for GET /%2F%2F${host}/x.`],
        [`/api/identity/@${host}/x`, {}, 404, `No route for GET /@${host}/x.`],
        [`/api/identity/../../${host}/x`, {}, 404, `No route for GET /${host}/x.`],
        [`/api/identity/http://${host}/x`, {}, 404, `No route for GET /http://${host}/x.`],
        [`/api/identity?to=http://${host}/x`, {}, 404, 'No route for GET /.'],
        [`/api/identity/health`, { host }, 200, ''],
        [`/api/identity/health`, { 'x-forwarded-host': host, forwarded: `host=${host}` }, 200, ''],
        // Absolute-form request target, as sent to a forward proxy.
        [`http://${host}/api/identity/health`, {}, 404, `No route for GET /http://${host}/health.`],
        [`/api/elsewhere//${host}/x`, {}, 404, `No route for GET /api/elsewhere//${host}/x.`],
        [`/api//${host}/x`, {}, 404, `No route for GET /api//${host}/x.`],
        [`/api/http://${host}/x`, {}, 404, `No route for GET /api/http://${host}/x.`],
      ];
      for (const [path, headers, status, detail] of cases) {
        const answer = await rawRequest(sys.urls.notifier, { path, headers });
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
