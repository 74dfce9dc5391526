import { existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DomainEvent,
  formatPosition,
  GENERAL_PROJECT_ID,
  type KeyLayout,
  newId,
} from '@tasksync/contracts';
import { appendToStream, type RedisClient } from '@tasksync/platform';
import {
  openReadModel,
  openReadModelReadOnly,
  READ_MODEL_VERSION,
  readModelVersion,
} from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs } from '../../scripts/processes';
import { freePort } from '../../scripts/redis-server';
import { client, connectTestRedis, serviceEnv, testProcesses, waitFor } from '../../test/support';
import { countLogEntries, rebuildReadModel } from './rebuild';
import { writeV1Log, writeV1ReadModel } from './testing/before-projects';

const redis: RedisClient = connectTestRedis();
const { start, track, stopAll } = testProcesses();
afterAll(async () => {
  await stopAll();
  await redis.quit();
});

/** Appends events as today's write side does. */
const append = (
  stream: { streamKey: string; logKey: string; aggregateId: string },
  event: DomainEvent,
) =>
  appendToStream(redis, {
    ...stream,
    expectedRevision: 'any',
    events: [
      { id: newId(), ...event, at: new Date().toISOString(), actor: 'system', corr: 'test' },
    ],
  });

/** The General project, as the first command-service of the new code bootstraps it. */
const bootstrapGeneral = (keys: KeyLayout) =>
  append(
    {
      streamKey: keys.projectStream(GENERAL_PROJECT_ID),
      logKey: keys.projectLog,
      aggregateId: GENERAL_PROJECT_ID,
    },
    {
      type: 'ProjectCreated',
      data: { name: 'General', description: '', visibility: 'open', ownerId: 'system' },
    },
  );

/** A task created by today's code (TaskCreated v2). Returns its id and position. */
const createTask = async (keys: KeyLayout, createdBy: string, title: string) => {
  const taskId = newId();
  const log = keys.partitionOf(taskId);
  const appended = await append(
    { streamKey: keys.taskStream(taskId), logKey: keys.taskLog(log), aggregateId: taskId },
    {
      type: 'TaskCreated',
      data: {
        title,
        description: '',
        status: 'pending',
        assigneeId: null,
        priority: 'medium',
        dueDate: null,
        labels: [],
        createdBy,
        projectId: GENERAL_PROJECT_ID,
      },
    },
  );
  if (appended.outcome !== 'appended') throw new Error(`append failed: ${appended.outcome}`);
  return { taskId, position: formatPosition(`t${log}`, appended.entryId) };
};

/** The token's user id (its `sub`). */
const subjectOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;

const metric = (text: string, name: string) =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);

describe('read-model upgrade (design §10)', () => {
  it('a projector that finds a version-1 model rebuilds it beside, swaps the readers over and projects on; no read fails meanwhile, and only one projector of the group upgrades', async () => {
    const { keys, dir, readModelPath, env, token, urls } = await serviceEnv(redis);
    const userId = subjectOf(token);

    // Given a TaskSync from before projects: its log, and the version-1 model its projector built.
    const { taskIds: allTaskIds, deletedIds } = await writeV1Log(redis, keys, {
      userId,
      tasks: 2_000,
    });
    const taskIds = allTaskIds.filter((id) => !deletedIds.includes(id));
    const scratch = openReadModel(join(mkdtempSync(join(tmpdir(), 'v1-')), 'scratch.sqlite'));
    await rebuildReadModel(scratch, redis, keys);
    writeV1ReadModel(readModelPath, scratch);
    scratch.close();
    const before = openReadModelReadOnly(readModelPath);
    expect(readModelVersion(before)).toBe(1);
    before.close();

    // A query-service on it, answering every read (H3's version-1 compatibility).
    await start('query-service/src/main.ts', env, urls.query);
    const queries = client(urls.query);

    // The new code deploys: a command-service bootstraps General, tasks are created.
    await bootstrapGeneral(keys);
    const createdBefore = await createTask(keys, userId, 'created before the upgrade');

    // A reader polls throughout.
    const failures: string[] = [];
    const phase = { upgrading: false, swapped: false };
    const reads = { beforeUpgrade: 0, duringUpgrade: 0, afterSwap: 0 };
    let polling = true;
    const count = (what: string, status: number) => {
      if (status !== 200) failures.push(`${what}: ${status}`);
      if (phase.swapped) reads.afterSwap++;
      else if (phase.upgrading) reads.duringUpgrade++;
      else reads.beforeUpgrade++;
    };
    const poll = async () => {
      while (polling) {
        const id = taskIds[Math.floor(Math.random() * taskIds.length)]!;
        try {
          const one = await queries.get(`/tasks/${id}`, { token });
          count(`GET /tasks/${id}`, one.status);
          const page = await queries.get('/tasks?limit=20', { token });
          count('GET /tasks', page.status);
        } catch (error) {
          failures.push(`GET: ${error}`);
          count('GET', 0);
        }
      }
    };
    const pollers = [poll(), poll()];
    await waitFor(() => (reads.beforeUpgrade > 20 ? true : undefined));

    // When two projectors of the group start on it.
    const events = await countLogEntries(redis, keys);
    const projectors = await Promise.all(
      [urls.projector, `http://127.0.0.1:${await freePort()}`].map((url) => ({
        url,
        process: track(
          runTs('projector/src/main.ts', { ...env, PROJECTOR_PORT: new URL(url).port }),
        ),
      })),
    );
    const upgradeStart = /older schema; rebuilding it beside/;
    const upgrader = await waitFor(
      () => projectors.find((p) => upgradeStart.test(p.process.output())),
      { timeoutMs: 30_000, message: 'a projector to start the upgrade' },
    );
    phase.upgrading = true;
    const other = projectors.find((p) => p !== upgrader)!;

    // Then the path is switched to the rebuilt model, and the old one is gone.
    const linkTarget = await waitFor(
      () =>
        existsSync(readModelPath) && lstatSync(readModelPath).isSymbolicLink()
          ? readlinkSync(readModelPath)
          : undefined,
      { timeoutMs: 40_000, message: 'the swap' },
    );
    phase.swapped = true;
    expect(linkTarget).toMatch(/^read-model\.sqlite\.upgrade-v2-\d+$/);
    const upgraded = openReadModelReadOnly(readModelPath);
    expect(readModelVersion(upgraded)).toBe(READ_MODEL_VERSION);
    expect(
      readdirSync(dir)
        .filter((name) => !name.startsWith(linkTarget))
        .sort(),
    ).toEqual(['read-model.sqlite']);

    // The query-service reads the new file: the project log's position, and tasks in General.
    const first = await waitFor(
      async () => {
        const answer = await queries.get(`/tasks/${taskIds[0]}`, { token });
        return /(^|,)p:[1-9]/.test(answer.headers.get('X-Read-Position') ?? '')
          ? answer
          : undefined;
      },
      { timeoutMs: 10_000, message: 'the query-service to read the upgraded model' },
    );
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: taskIds[0], projectId: GENERAL_PROJECT_ID });
    const beforeUpgrade = await queries.get(`/tasks/${createdBefore.taskId}`, {
      token,
      headers: { 'X-Min-Position': createdBefore.position, 'X-Max-Wait-Ms': '5000' },
    });
    expect(beforeUpgrade.status).toBe(200);
    expect(beforeUpgrade.body.projectId).toBe(GENERAL_PROJECT_ID);

    // The upgrader projects on, live, on the new file: read-your-writes holds.
    const createdAfter = await createTask(keys, userId, 'created after the upgrade');
    const seen = await queries.get(`/tasks/${createdAfter.taskId}`, {
      token,
      headers: { 'X-Min-Position': createdAfter.position, 'X-Max-Wait-Ms': '5000' },
    });
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({
      title: 'created after the upgrade',
      projectId: GENERAL_PROJECT_ID,
    });

    // Its progress was on /metrics; the other projector only waited for the lease.
    const metrics = await (await fetch(`${upgrader.url}/metrics`)).text();
    expect({
      upgrading: metric(metrics, 'tasksync_read_model_upgrading'),
      applied: metric(metrics, 'tasksync_read_model_upgrade_events'),
      target: metric(metrics, 'tasksync_read_model_upgrade_target_events'),
    }).toEqual({ upgrading: 0, applied: events, target: events });
    expect(other.process.output()).not.toMatch(upgradeStart);
    // Started beside the upgrader, it may still be starting on a loaded machine: its
    // first answer is waited for (a crash shows its output), and that is 503.
    const otherReady = await waitFor(
      async () => (await fetch(`${other.url}/ready`).catch(() => undefined))?.status,
      { timeoutMs: 20_000, message: 'the other projector to answer' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; its output:\n${other.process.output()}`);
    });
    expect(otherReady).toBe(503);

    // When the upgrader stops, the other takes over on the upgraded model, without upgrading.
    await upgrader.process.stop();
    const createdLater = await createTask(keys, userId, 'created after the hand-over');
    const seenLater = await queries.get(`/tasks/${createdLater.taskId}`, {
      token,
      headers: { 'X-Min-Position': createdLater.position, 'X-Max-Wait-Ms': '10000' },
    });
    expect(seenLater.status).toBe(200);
    expect(other.process.output()).not.toMatch(upgradeStart);
    expect(readlinkSync(readModelPath)).toBe(linkTarget);

    polling = false;
    await Promise.all(pollers);
    expect(failures).toEqual([]);
    expect(reads.duringUpgrade).toBeGreaterThan(0);
    expect(reads.afterSwap).toBeGreaterThan(0);
    upgraded.close();

    // The upgraded live model equals a rebuild from the logs.
    const verify = track(runTs('projector/src/replay.ts', env, ['--verify']));
    expect(await verify.exited, verify.output()).toBe(0);
  }, 120_000);
});
