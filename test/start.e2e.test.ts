import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openReadModelReadOnly } from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, type RunningProcess, runTs } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';
import { cleanEnv, client, waitFor } from './support';

const dataDir = mkdtempSync(join(tmpdir(), 'tasksync-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm start', () => {
  it('runs Redis and every service, survives a restart on the same data, and stops cleanly on Ctrl-C', async () => {
    const [identityPort, commandPort, projectorPort, queryPort, notifierPort, gatewayPort] =
      await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    const env = cleanEnv({
      DATA_DIR: dataDir,
      EMBEDDED_REDIS_PORT: '0',
      IDENTITY_PORT: String(identityPort),
      COMMAND_PORT: String(commandPort),
      PROJECTOR_PORT: String(projectorPort),
      QUERY_PORT: String(queryPort),
      NOTIFIER_PORT: String(notifierPort),
      GATEWAY_PORT: String(gatewayPort),
      NODE_ENV: 'development',
      BCRYPT_COST: '4',
    });
    const identity = client(`http://127.0.0.1:${identityPort}`);
    const commands = client(`http://127.0.0.1:${commandPort}`);
    let supervisor: RunningProcess = runTs('scripts/start.ts', env);
    await supervisor.waitForOutput(/Press Ctrl-C to stop/);
    expect(supervisor.output()).toContain(`identity-service  http://localhost:${identityPort}`);
    expect(supervisor.output()).toContain(`command-service   http://localhost:${commandPort}`);
    expect(supervisor.output()).toContain(`projector         http://localhost:${projectorPort}`);
    // The front door is what a newcomer is told first: the board, the API and /docs on one origin.
    const doorLine = `TaskSync is running on http://localhost:${gatewayPort}/`;
    expect(supervisor.output()).toContain(doorLine);
    expect(supervisor.output().indexOf(doorLine)).toBeLessThan(
      supervisor.output().indexOf(`identity-service  http://localhost:${identityPort}`),
    );
    const door = client(`http://127.0.0.1:${gatewayPort}`);
    const page = await door.get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await door.get('/docs')).status).toBe(200);
    expect(Object.keys((await door.get('/openapi.json')).body.paths)).toEqual(
      expect.arrayContaining(['/auth/register', '/tasks', '/tasks/{id}', '/projects']),
    );
    expect((await door.get('/ready')).status).toBe(200);

    const registered = await identity.post('/auth/register', {
      email: 'new@example.com',
      password: 'new-user-pw',
    });
    expect(registered.status).toBe(201);
    const login = await identity.post('/auth/login', {
      email: 'new@example.com',
      password: 'new-user-pw',
    });
    const token = login.body.token as string;
    const admin = await identity.post('/auth/login', {
      email: 'admin@example.com',
      password: 'admin123',
    });
    expect(admin.status).toBe(200);
    expect(admin.body.user.role).toBe('admin');

    const created = await commands.post('/tasks', { title: 'Survive a restart' }, { token });
    expect(created.status).toBe(201);
    expect(
      (await commands.patch(`/tasks/${created.body.id}`, { status: 'in-progress' }, { token })).body
        .revision,
    ).toBe(1);
    // The projector writes the read model in the data directory.
    const readModel = openReadModelReadOnly(join(dataDir, 'read-model.sqlite'));
    const row = await waitFor(
      () =>
        readModel
          .prepare('SELECT status, revision FROM tasks WHERE id = ? AND revision = 1')
          .get(created.body.id),
      { message: 'the task in the read model' },
    );
    expect(row).toEqual({ status: 'in-progress', revision: 1 });
    readModel.close();
    // And the query-service answers from it, consistent with the write on request.
    const queries = client(`http://127.0.0.1:${queryPort}`);
    const read = await queries.get(`/tasks/${created.body.id}`, {
      token,
      headers: { 'x-min-position': created.headers.get('x-event-position')! },
    });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: created.body.id, title: 'Survive a restart' });
    const throughDoor = await door.get(`/tasks/${created.body.id}`, {
      token,
      headers: { 'x-min-position': created.headers.get('x-event-position')! },
    });
    expect(throughDoor.body).toEqual(read.body);

    const redisPid = Number(readFileSync(join(dataDir, 'redis/redis.pid'), 'utf8'));
    expect(isAlive(redisPid)).toBe(true);
    expect(await supervisor.stop('SIGINT')).toBe(0);
    expect(supervisor.output()).toContain('[tasksync] stopped');
    expect(isAlive(redisPid)).toBe(false);
    expect(existsSync(join(dataDir, 'redis/appendonlydir'))).toBe(true);

    // Same data directory: the task, the user and the shared JWT secret are all still there.
    supervisor = runTs('scripts/start.ts', env);
    await supervisor.waitForOutput(/Press Ctrl-C to stop/);
    const moved = await commands.patch(
      `/tasks/${created.body.id}`,
      { status: 'completed' },
      { token },
    );
    expect(moved.status).toBe(200);
    expect(moved.body.revision).toBe(2);
    expect(
      (await identity.post('/auth/register', { email: 'new@example.com', password: 'new-user-pw' }))
        .status,
    ).toBe(409);
    expect(await supervisor.stop('SIGINT')).toBe(0);
  });
});
