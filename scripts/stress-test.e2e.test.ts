import { GENERAL_PROJECT_ID } from '@tasksync/contracts';
import { type RedisClient, readStream } from '@tasksync/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, connectTestRedis, serviceEnv, testProcesses, waitFor } from '../test/support';
import { runTs } from './processes';
import { freePort } from './redis-server';

const redis: RedisClient = connectTestRedis();
const { start, track, stopAll } = testProcesses();
afterAll(async () => {
  await stopAll('SIGKILL');
  await redis.quit();
});

/** The stress test's environment: this test's URLs and sizes, never a STRESS_* of the shell's. */
const stressEnv = (extra: Record<string, string>) => {
  const env = cleanEnv(extra);
  for (const name of Object.keys(env)) if (name.startsWith('STRESS_')) delete env[name];
  return { ...env, ...extra };
};

/**
 * The front door on `port`, up once it answers /health: its /ready waits for
 * every service, and these tests run only identity and command.
 */
const startDoor = async (env: NodeJS.ProcessEnv, port: number) => {
  const door = track(runTs('gateway/src/main.ts', env));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => ((await fetch(`${url}/health`).catch(() => undefined))?.ok ? true : undefined),
    { message: `the door on ${url}: ${door.output()}` },
  );
  return url;
};

/** The summary's table: per step, its ok, errors and skipped columns. */
const stepRows = (output: string) =>
  Object.fromEntries(
    [
      ...output.matchAll(
        /^(project|create|update|start|complete|move|delete)\s+(\d+)\s+(\d+)(?: \([^)]*\))?\s+(\d+)\s/gm,
      ),
    ].map(([, step, ok, errors, skipped]) => [
      step,
      { ok: Number(ok), errors: Number(errors), skipped: Number(skipped) },
    ]),
  );

describe('npm run stress-test', () => {
  it('takes 50 tasks in 10 projects through create, update, start, complete, move and delete over the real APIs, through the front door', async () => {
    const [identityPort, gatewayPort] = [await freePort(), await freePort()];
    const { env, keys, urls } = await serviceEnv(redis, {
      IDENTITY_PORT: String(identityPort),
      GATEWAY_PORT: String(gatewayPort),
      BCRYPT_COST: '4',
      // Tight enough that the run meets the door's write limit and must wait it out.
      RATE_LIMIT_WRITES: '60/2s',
    });
    const identityUrl = `http://127.0.0.1:${identityPort}`;
    await Promise.all([
      start('identity-service/src/main.ts', env, identityUrl),
      start('command-service/src/main.ts', env, urls.command),
    ]);
    const doorUrl = await startDoor(env, gatewayPort);

    const stress = runTs(
      'scripts/stress-test.ts',
      stressEnv({
        TASKSYNC_URL: doorUrl,
        STRESS_TASKS: '50',
        STRESS_CONCURRENCY: '8',
      }),
    );
    track(stress);
    const code = await stress.exited;
    const output = stress.output();

    expect(code, output).toBe(0);
    const none = { ok: 50, errors: 0, skipped: 0 };
    expect(stepRows(output), output).toEqual({
      project: { ok: 10, errors: 0, skipped: 0 },
      create: none,
      update: none,
      start: none,
      complete: none,
      move: none,
      delete: none,
    });
    expect(output).toMatch(
      /^50 tasks in [\d.]+ s: [\d.]+ tasks\/s.*50 tasks through every step, 0 errors$/m,
    );
    // 310 writes against 60 per 2 s (a stress test slowed to 30 writes/s by a loaded machine still meets it): the door said 429 and the stress test waited it out.
    expect(output).toMatch(/^waited \d+ s in all for the door's rate limit \(429 Retry-After\)$/m);

    // The summary counts what reached the logs: one event per step and task, no more.
    const events = (
      await Promise.all(
        Array.from({ length: keys.partitions }, (_, p) => readStream(redis, keys.taskLog(p))),
      )
    ).flat();
    const byType = Object.fromEntries(
      [...new Set(events.map((event) => event.type))].map((type) => [
        type,
        events.filter((event) => event.type === type).length,
      ]),
    );
    expect(byType).toEqual({
      TaskCreated: 50,
      TaskDetailsChanged: 50,
      TaskStatusChanged: 100,
      TaskMoved: 50,
      TaskDeleted: 50,
    });
    // Ten projects, each its creator's: nothing else reached the project log.
    const projectEvents = await readStream(redis, keys.projectLog);
    expect(
      projectEvents.filter((event) => event.agg !== GENERAL_PROJECT_ID).map((event) => event.type),
    ).toEqual(Array(10).fill('ProjectCreated'));
    // Each task was created in project i mod 10 and moved to the next one.
    const created = events.filter((event) => event.type === 'TaskCreated');
    const moved = events.filter((event) => event.type === 'TaskMoved');
    for (const event of moved) {
      const { from, to } = event.data as { from: string; to: string };
      const origin = created.find((c) => c.agg === event.agg)!.data as { projectId: string };
      expect(from).toBe(origin.projectId);
      expect(to).not.toBe(from);
    }
  });

  it('exits non-zero and counts the failures when a step fails', async () => {
    const [identityPort, gatewayPort] = [await freePort(), await freePort()];
    const { env } = await serviceEnv(redis, {
      IDENTITY_PORT: String(identityPort),
      GATEWAY_PORT: String(gatewayPort),
      BCRYPT_COST: '4',
      // A command-service that is not there: the door answers every write 503.
      COMMAND_URL: `http://127.0.0.1:${await freePort()}`,
    });
    const identityUrl = `http://127.0.0.1:${identityPort}`;
    await start('identity-service/src/main.ts', env, identityUrl);
    const doorUrl = await startDoor(env, gatewayPort);
    const stress = runTs(
      'scripts/stress-test.ts',
      stressEnv({ TASKSYNC_URL: doorUrl, STRESS_TASKS: '5' }),
    );
    track(stress);
    const code = await stress.exited;
    const output = stress.output();

    expect(code, output).toBe(1);
    expect(stepRows(output).project, output).toEqual({ ok: 0, errors: 1, skipped: 0 });
    expect(stepRows(output).create, output).toEqual({ ok: 0, errors: 0, skipped: 5 });
    expect(stepRows(output).delete, output).toEqual({ ok: 0, errors: 0, skipped: 5 });
    expect(output).toMatch(/project 503: .*service-unavailable/);
  });
});
