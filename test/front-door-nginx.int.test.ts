import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxConfig } from '../gateway/src/nginx';
import {
  composeNginx,
  mergedApiDocument,
  NGINX_CONF,
  writeDoorStatic,
} from '../scripts/door-files';
import { expectAnswersAsServices, expectLiveFeedThrough, registrationThrough } from './front-door';
import { FRONTEND, rawRequest, redis, type System, startSystem } from './security/system';
import { client, waitFor } from './support';

/*
 * The nginx front door (design §12): Debian's nginx on a free port, with the
 * configuration generated from the routing table, in front of every service of
 * this process. Every documented route answers through it as the service
 * does, the live feed upgrades to a WebSocket through it, and its rate limits
 * answer 429 problem+json with Retry-After.
 */

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

const hostPort = (url: string) => new URL(url).host;

afterAll(() => redis.quit());
let sys: System;
let nginx: ChildProcess | undefined;
let door = '';
let stderr = '';

beforeAll(async () => {
  if (!NGINX) throw new Error('nginx is not installed: .ci/run installs Debian’s nginx package');
  sys = await startSystem();
  const dir = mkdtempSync(join(tmpdir(), 'door-nginx-'));
  // nginx's workers run as another user when started as root: they must read these.
  chmodSync(dir, 0o755);
  writeDoorStatic(join(dir, 'static'));
  const port = await freePort();
  door = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'tasksync.conf'),
    nginxConfig({
      listen: `127.0.0.1:${port}`,
      upstreams: {
        identity: [hostPort(sys.urls.identity)],
        command: [hostPort(sys.urls.command)],
        query: [hostPort(sys.urls.query)],
        notifier: [hostPort(sys.urls.notifier)],
      },
      staticRoot: join(dir, 'static'),
      rates: {
        register: { limit: 3, windowMs: 60_000 },
        login: { limit: 100, windowMs: 60_000 },
        write: { limit: 100, windowMs: 60_000 },
      },
      timeoutSeconds: 10,
    }),
  );
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      'error_log stderr warn;',
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${dir}/body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      `  include ${dir}/tasksync.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  execFileSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'pipe' });
  nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  nginx.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await waitFor(
    async () => ((await fetch(`${door}/health`).catch(() => undefined))?.ok ? true : undefined),
    { message: `nginx answering on ${door}; its stderr: ${stderr}` },
  );
}, 60_000);

afterAll(async () => {
  nginx?.kill('SIGQUIT');
  await sys?.stop();
});

describe('the nginx front door', () => {
  it('is the committed configuration docker-compose runs, as the table makes it', () => {
    expect(readFileSync(NGINX_CONF, 'utf8')).toBe(nginxConfig(composeNginx()));
  });

  it('answers every documented route with the status and body the service answers directly', async () => {
    await expectAnswersAsServices(door, sys);
  });

  it('answers what it does not route with 404 or 405 problem+json', async () => {
    const unknown = await client(door).get('/nowhere');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    expect(unknown.body).toMatchObject({ status: 404, type: 'urn:tasksync:problem:not-found' });
    const wrongMethod = await client(door).request('DELETE', '/tasks');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST, GET, HEAD');
    expect(wrongMethod.body).toMatchObject({ status: 405 });
  });

  it('passes CORS for FRONTEND_URL through, serves the merged document and the reference page', async () => {
    const preflight = await rawRequest(door, {
      method: 'OPTIONS',
      path: '/tasks',
      headers: { origin: FRONTEND, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(FRONTEND);

    const document = await client(door).get('/openapi.json');
    expect(document.status).toBe(200);
    expect(document.body).toEqual(mergedApiDocument());
    const page = await rawRequest(door, { path: '/docs' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect((await rawRequest(door, { path: '/docs/swagger-ui-bundle.js' })).status).toBe(200);
  });

  it('carries the live feed over a WebSocket', async () => {
    await expectLiveFeedThrough(door, sys);
  });

  it('limits registrations per address with 429 problem+json and Retry-After', async () => {
    // From addresses of their own: the other tests' registrations count on 127.0.0.1.
    const through = registrationThrough(door, `nginx-limit-${sys.keys.prefix}`);
    const registration = (n: number, localAddress = '127.0.0.3') => through(n, localAddress);
    const statuses = [];
    for (let n = 0; n < 5; n++) statuses.push((await registration(n)).status);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const limited = await registration(9);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect(limited.body).toMatchObject({ status: 429, type: 'urn:tasksync:problem:rate-limited' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await registration(5, '127.0.0.4')).status).toBe(201);
  });
});
