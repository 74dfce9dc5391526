import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenService, masters, repoRoot } from '@tasksync/platform';
import { describe, expect, it } from 'vitest';
import { runTs } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';
import { cleanEnv, client, connectTestRedis, testRedisEnv, uniquePrefix, waitFor } from './support';

const SECRET = 'e2e-secret-e2e-secret-e2e-secret-e2e-secret';

const serviceEnv = (extra: Record<string, string>) =>
  cleanEnv({
    ...testRedisEnv(),
    REDIS_PREFIX: uniquePrefix(),
    NODE_ENV: 'test',
    JWT_SECRET: SECRET,
    BCRYPT_COST: '4',
    ...extra,
  });

describe('each service on its own (npm run start -w <service>)', () => {
  it('runs identity-service alone with JSON logs, never logs a password hash, and stops on SIGTERM', async () => {
    const port = await freePort();
    const service = runTs(
      'identity-service/src/main.ts',
      serviceEnv({ IDENTITY_PORT: String(port) }),
    );
    await service.waitForOutput(/identity-service listening/);
    const api = client(`http://127.0.0.1:${port}`);
    expect(
      (await api.post('/auth/register', { email: 'solo@example.com', password: 'solo-password' }))
        .status,
    ).toBe(201);
    expect(
      (await api.post('/auth/login', { email: 'solo@example.com', password: 'solo-password' }))
        .status,
    ).toBe(200);
    expect(
      (await api.post('/auth/login', { email: 'solo@example.com', password: 'wrong-password' }))
        .status,
    ).toBe(401);
    expect(await service.stop('SIGTERM')).toBe(0);
    const lines = service.output().split('\n').filter(Boolean);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(
      expect.arrayContaining(['request', 'shutting down', 'stopped']),
    );
    expect(service.output()).not.toMatch(/\$2[aby]\$/);
    expect(service.output()).not.toContain('solo-password');
  });

  it('stops a service started through npm when npm itself gets SIGTERM, as a process manager sends it', async () => {
    const port = await freePort();
    const npm = spawn('npm', ['run', 'start', '-w', '@tasksync/command-service'], {
      cwd: repoRoot,
      env: serviceEnv({ COMMAND_PORT: String(port), LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    await waitFor(() => (/command-service listening/.test(output) ? true : undefined), {
      timeoutMs: 30_000,
    });
    npm.kill('SIGTERM');
    await exited;
    // npm runs `exec node …`, so the signal reached the service, which shut down.
    await waitFor(() => (/"msg":"stopped"/.test(output) ? true : undefined));
    await waitFor(async () =>
      (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)) ? undefined : true,
    );
  });

  it('runs command-service alone and answers /ready', async () => {
    const port = await freePort();
    const service = runTs(
      'command-service/src/main.ts',
      serviceEnv({ COMMAND_PORT: String(port) }),
    );
    await service.waitForOutput(/command-service listening/);
    expect((await client(`http://127.0.0.1:${port}`).get('/ready')).status).toBe(200);
    expect(await service.stop('SIGTERM')).toBe(0);
  });

  it('answers what the HTTP parser refuses with problem+json too (headers over 16 KB, a garbled request)', async () => {
    const port = await freePort();
    const service = runTs(
      'command-service/src/main.ts',
      serviceEnv({ COMMAND_PORT: String(port) }),
    );
    await service.waitForOutput(/command-service listening/);
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        let answer = '';
        const socket = connect(port, '127.0.0.1', () => socket.write(request));
        socket.on('data', (chunk) => {
          answer += chunk.toString();
        });
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    const [head, body] = (
      await raw(`GET /tasks HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    ).split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toContain('Content-Type: application/problem+json; charset=utf-8');
    expect(JSON.parse(body!)).toEqual({
      type: 'urn:tasksync:problem:headers-too-large',
      title: 'Request headers too large',
      status: 431,
      detail: 'The request line and headers exceed 16 KB.',
    });
    const [garbledHead, garbledBody] = (await raw('NOT HTTP AT ALL\r\n\r\n')).split('\r\n\r\n');
    expect(garbledHead).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(garbledBody!)).toMatchObject({
      status: 400,
      type: 'urn:tasksync:problem:bad-request',
    });
    // The service is still there for the next client.
    expect((await client(`http://127.0.0.1:${port}`).get('/health')).status).toBe(200);
    expect(await service.stop('SIGTERM')).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight when SIGTERM arrives, then exits 0', async () => {
    const port = await freePort();
    const service = runTs(
      'command-service/src/main.ts',
      serviceEnv({ COMMAND_PORT: String(port) }),
    );
    await service.waitForOutput(/command-service listening/);
    const token = createTokenService({ secret: SECRET, ttlSeconds: 600 }).sign({
      userId: '0190b6a0-0000-7000-8000-000000000001',
      role: 'member',
    }).token;
    const body = JSON.stringify({ title: 'Written during shutdown' });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      // Expect: 100-continue makes the server say when it has the request in hand;
      // only then is SIGTERM sent, and only after it the body.
      const request = httpRequest({
        port,
        method: 'POST',
        path: '/tasks',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          expect: '100-continue',
        },
      });
      request.on('continue', () => {
        service.child.kill('SIGTERM');
        setImmediate(() => request.end(body));
      });
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      request.on('error', reject);
    });
    const { status, body: text } = await answer;
    expect(status).toBe(201);
    expect(JSON.parse(text)).toMatchObject({ revision: 0 });
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(service.output()).toMatch(/"msg":"stopped"/);
  });
});

describe('start-up refusals', () => {
  const refuses = async (entry: string, extra: Record<string, string>, message: RegExp) => {
    const service = runTs(entry, serviceEnv({ IDENTITY_PORT: '0', COMMAND_PORT: '0', ...extra }));
    const code = await new Promise<number | null>((resolve) => service.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(service.output()).toMatch(message);
    expect(service.output()).not.toMatch(/\n\s+at /);
  };

  it('refuses production without a JWT secret, with a short one, or with the default admin password', async () => {
    await refuses(
      'identity-service/src/main.ts',
      {
        NODE_ENV: 'production',
        JWT_SECRET: '',
        BCRYPT_COST: '',
        ADMIN_EMAIL: 'ops@example.com',
        ADMIN_PASSWORD: 'a-strong-admin-password',
      },
      /JWT_SECRET is required in production/,
    );
    await refuses(
      'command-service/src/main.ts',
      { NODE_ENV: 'production', JWT_SECRET: 'short' },
      /JWT_SECRET must be at least 32 bytes/,
    );
    await refuses(
      'identity-service/src/main.ts',
      {
        NODE_ENV: 'production',
        BCRYPT_COST: '',
        ADMIN_EMAIL: 'ops@example.com',
        ADMIN_PASSWORD: 'admin123',
      },
      /ADMIN_PASSWORD must be set \(and not the development default\)/,
    );
    await refuses(
      'identity-service/src/main.ts',
      { NODE_ENV: 'production', BCRYPT_COST: '', ADMIN_EMAIL: 'ops@example.com' },
      /ADMIN_PASSWORD must be set/,
    );
    await refuses(
      'identity-service/src/main.ts',
      { NODE_ENV: 'production', BCRYPT_COST: '', ADMIN_PASSWORD: 'a-strong-admin-password' },
      /ADMIN_EMAIL must be set in production/,
    );
  });

  it('runs the projector in production with no JWT secret: it checks no token', async () => {
    const port = await freePort();
    const projector = runTs(
      'projector/src/main.ts',
      serviceEnv({
        NODE_ENV: 'production',
        JWT_SECRET: '',
        REDIS_ALLOW_NO_PERSISTENCE: '1',
        PROJECTOR_PORT: String(port),
        READ_MODEL_PATH: join(mkdtempSync(join(tmpdir(), 'projector-')), 'read-model.sqlite'),
      }),
    );
    await projector.waitForOutput(/projector listening/);
    // Listening comes first (its /metrics serve a read-model upgrade); ready once it projects.
    const projectorApi = client(`http://127.0.0.1:${port}`);
    await waitFor(
      async () => ((await projectorApi.get('/ready')).status === 200 ? true : undefined),
      {
        message: 'the projector to be ready',
      },
    );
    expect(await projector.stop('SIGTERM')).toBe(0);
    expect(projector.output()).not.toMatch(/JWT_SECRET/);
  });

  it('refuses a Redis without AOF in production unless REDIS_ALLOW_NO_PERSISTENCE=1', async () => {
    // The test run's Redis keeps nothing on disk.
    await refuses(
      'command-service/src/main.ts',
      { NODE_ENV: 'production' },
      /Redis runs without its append-only file \(appendonly no\)/,
    );
    const port = await freePort();
    const allowed = runTs(
      'command-service/src/main.ts',
      serviceEnv({
        NODE_ENV: 'production',
        REDIS_ALLOW_NO_PERSISTENCE: '1',
        COMMAND_PORT: String(port),
      }),
    );
    await allowed.waitForOutput(/command-service listening/);
    expect((await client(`http://127.0.0.1:${port}`).get('/ready')).status).toBe(200);
    expect(await allowed.stop('SIGTERM')).toBe(0);
  });

  it('names a wrong configuration value', async () => {
    await refuses(
      'command-service/src/main.ts',
      { EVENT_PARTITIONS: 'many' },
      /EVENT_PARTITIONS: .*number/,
    );
    await refuses('identity-service/src/main.ts', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/);
  });

  it('refuses a store of the other key layout, naming the migration', async () => {
    const prefix = uniquePrefix();
    const redis = connectTestRedis();
    try {
      await redis.hset(`${prefix}:meta`, 'layoutVersion', '1', 'partitions', '1');
      for (const entry of [
        'identity-service/src/main.ts',
        'command-service/src/main.ts',
        'projector/src/main.ts',
        'query-service/src/main.ts',
        'notifier/src/main.ts',
      ]) {
        await refuses(
          entry,
          { REDIS_PREFIX: prefix, PROJECTOR_PORT: '0', QUERY_PORT: '0', NOTIFIER_PORT: '0' },
          /key layout v1 .*`npm run migrate-layout`/,
        );
      }
      // Nothing was written in the other layout, and the store still says v1.
      const written = await Promise.all(masters(redis).map((node) => node.keys(`${prefix}:*`)));
      expect(written.flat()).toEqual([`${prefix}:meta`]);
      expect(await redis.hget(`${prefix}:meta`, 'layoutVersion')).toBe('1');
    } finally {
      await redis.quit();
    }
  });

  it('refuses a partition count other than the one the data was written with', async () => {
    const prefix = uniquePrefix();
    const port = await freePort();
    const first = runTs(
      'command-service/src/main.ts',
      serviceEnv({ REDIS_PREFIX: prefix, COMMAND_PORT: String(port) }),
    );
    await first.waitForOutput(/listening/);
    expect(await first.stop()).toBe(0);
    await refuses(
      'command-service/src/main.ts',
      { REDIS_PREFIX: prefix, EVENT_PARTITIONS: '4' },
      /EVENT_PARTITIONS is 4 but the data in Redis was written with 1/,
    );
  });
});
