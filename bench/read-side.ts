/**
 * The read side's figures for `npm run bench` (issue: read side): projector
 * catch-up events/s, replay of 1,000,000 events, GET /tasks/:id and a first
 * page of 50 among 100,000 tasks, and command → visible in the query-service.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyLayout, GENERAL_PROJECT_ID, type KeyLayout, newId } from '@tasksync/contracts';
import { appendToStream, createRedis, type RedisClient, readLastEntryId } from '@tasksync/platform';
import {
  openReadModel,
  openReadModelReadOnly,
  readCheckpoints,
} from '@tasksync/platform/read-model';
import autocannon from 'autocannon';
import { rebuildReadModel } from '../projector/src/rebuild';
import { type RunningProcess, runTs, waitUntilReady } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';
import type { LatencyRow } from './chart';
import type { PlannedPhase, Progress } from './progress';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: string;
  note?: string;
  /** For the latency chart, where the figure measured a latency distribution. */
  latency?: LatencyRow;
}

/**
 * BENCH_READ_PARTS=reads,visible,replay (the default: all) picks what runs
 * after the projector catch-up, which always runs: the reads need its model.
 */
const parts = new Set(
  (process.env.BENCH_READ_PARTS ?? 'reads,visible,replay').split(',').map((p) => p.trim()),
);

const reads = [
  'GET /tasks/:id',
  'GET /tasks (first page of 50, 100,000 tasks), cache hits',
  'GET /tasks (first page of 50, 100,000 tasks), no cache',
  'GET /stats',
] as const;
const phaseName = {
  seed: 'seed 100,000 tasks',
  catchUp: 'projector catch-up, start the query-services',
  visible: 'command → visible at 500 commands/s',
  seedReplay: 'seed 1,000,000 events for the replay',
  replay: 'replay of 1,000,000 events',
};

/**
 * The read side's phases for the progress display. Seeding, catch-up and replay
 * have no configured duration: their seconds are rough guesses for 2 cores.
 */
export const readSidePhases = (duration: number): PlannedPhase[] => [
  { name: phaseName.seed, seconds: 30 },
  { name: phaseName.catchUp, seconds: 20 },
  ...(parts.has('reads') ? reads.map((name) => ({ name, seconds: 3 + duration })) : []),
  ...(parts.has('visible') ? [{ name: phaseName.visible, seconds: 5 + duration + 3 }] : []),
  ...(parts.has('replay')
    ? [
        { name: phaseName.seedReplay, seconds: 40 },
        { name: phaseName.replay, seconds: 25 },
      ]
    : []),
];

const createdEvent = (_taskId: string, userId: string, i: number) => ({
  id: newId(),
  type: 'TaskCreated' as const,
  data: {
    title: `Seeded task ${i}`,
    description: 'seeded for the read-side bench',
    status: 'pending' as const,
    assigneeId: null,
    priority: (['low', 'medium', 'high', 'urgent'] as const)[i % 4]!,
    dueDate: null,
    labels: i % 10 === 0 ? ['ten'] : [],
    createdBy: userId,
    projectId: GENERAL_PROJECT_ID,
  },
  at: new Date().toISOString(),
  actor: userId,
  corr: 'bench',
});

/** Appends `count` TaskCreated events through the append script, 256 at a time. */
const seedTasks = async (redis: RedisClient, keys: KeyLayout, userId: string, count: number) => {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 256) {
    const batch = Array.from({ length: Math.min(256, count - start) }, (_, i) => start + i);
    await Promise.all(
      batch.map((i) => {
        const taskId = newId();
        ids.push(taskId);
        return appendToStream(redis, {
          streamKey: keys.taskStream(taskId),
          logKey: keys.taskLog(keys.partitionOf(taskId)),
          aggregateId: taskId,
          expectedRevision: 'none',
          events: [createdEvent(taskId, userId, i)],
        });
      }),
    );
  }
  return ids;
};

/** Writes a log of `tasks` × 10 events straight into Redis (replay reads only logs). */
export const seedReplayLog = async (redis: RedisClient, keys: KeyLayout, tasks: number) => {
  const logKey = keys.taskLog(0);
  const userId = newId();
  const statuses = ['in-progress', 'completed', 'in-progress', 'pending'] as const;
  for (let start = 0; start < tasks; start += 1_000) {
    const pipeline = redis.pipeline();
    for (let t = start; t < Math.min(tasks, start + 1_000); t++) {
      const taskId = newId();
      const at = new Date().toISOString();
      const created = createdEvent(taskId, userId, t);
      // The fields the append script writes for an event (platform/src/redis/append.ts).
      const add = (id: string, type: string, rev: number, data: unknown) =>
        pipeline.xadd(
          logKey,
          '*',
          'id',
          id,
          'type',
          type,
          'v',
          '1',
          'agg',
          taskId,
          'rev',
          String(rev),
          'at',
          at,
          'actor',
          userId,
          'corr',
          'bench',
          'data',
          JSON.stringify(data),
        );
      add(created.id, created.type, 0, created.data);
      for (let rev = 1; rev < 10; rev++) {
        const from = rev === 1 ? 'pending' : statuses[(rev - 2) % 4]!;
        const to = statuses[(rev - 1) % 4]!;
        add(newId(), 'TaskStatusChanged', rev, { from, to });
      }
    }
    await pipeline.exec();
  }
};

/**
 * Starts a projector process (PROJECTOR_PORT, READ_MODEL_PATH and PROJECTOR_GROUP
 * come from `env`) and resolves once it answers /ready.
 */
export const startProjectorProcess = async (env: NodeJS.ProcessEnv, port: number) => {
  const projector = runTs('projector/src/main.ts', { ...env, PROJECTOR_PORT: String(port) });
  if (!(await waitUntilReady(`http://127.0.0.1:${port}`, projector.child))) {
    await projector.stop();
    throw new Error(projector.output());
  }
  return projector;
};

/**
 * Polls the read model at `path` every 20 ms until the checkpoint of `log`
 * is `entryId`, and resolves with the time it was seen (undefined once
 * `timeoutMs` has passed). `each` sees the open model at every poll.
 */
export const waitForCheckpoint = async (
  path: string,
  log: string,
  entryId: string,
  each?: (db: ReturnType<typeof openReadModelReadOnly>, at: number) => void,
  timeoutMs = Number.POSITIVE_INFINITY,
) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let done = false;
    try {
      const db = openReadModelReadOnly(path);
      try {
        const at = Date.now();
        done = readCheckpoints(db).some((c) => c.log === log && c.entry_id === entryId);
        each?.(db, at);
      } finally {
        db.close();
      }
    } catch {
      // the file is being created
    }
    if (done) return Date.now();
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

export const benchReadSide = async (options: {
  env: NodeJS.ProcessEnv;
  redisUrl: string;
  dataDir: string;
  token: string;
  userId: string;
  commandsUrl: string;
  duration: number;
  progress: Progress;
}): Promise<Figure[]> => {
  const { progress } = options;
  const figures: Figure[] = [];
  const redis = createRedis({ REDIS_URL: options.redisUrl, REDIS_CLUSTER: false });
  const keys = createKeyLayout('ts', 1);
  const readModelPath = join(options.dataDir, 'read-model.sqlite');
  const [projectorPort, queryPort, uncachedPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const env = {
    ...options.env,
    PROJECTOR_PORT: String(projectorPort),
    QUERY_PORT: String(queryPort),
    READ_MODEL_PATH: readModelPath,
  };
  const processes: RunningProcess[] = [];
  try {
    // 1. Projector catch-up: 100,000 tasks appended while no projector runs, then timed until applied.
    progress.phase(phaseName.seed);
    const taskIds = await seedTasks(redis, keys, options.userId, 100_000);
    const lastEntry = (await readLastEntryId(redis, keys.taskLog(0)))!;
    const total = await redis.xlen(keys.taskLog(0));
    progress.phase(phaseName.catchUp);
    const started = Date.now();
    processes.push(await startProjectorProcess(env, projectorPort));
    // The sustained rate: from the first checkpoint seen (with the events applied by
    // then) to the last, so neither the process start nor the first poll counts.
    let first: { at: number; applied: number } | undefined;
    const caughtUp = (await waitForCheckpoint(readModelPath, 't0', lastEntry, (db, at) => {
      if (!first && readCheckpoints(db).length) {
        const { n } = db.prepare('SELECT count(*) AS n FROM activity').get() as { n: number };
        first = { at, applied: n };
      }
    }))!;
    const sustained =
      first && caughtUp > first.at ? (total - first.applied) / ((caughtUp - first.at) / 1000) : 0;
    figures.push({
      name: 'projector catch-up',
      value: Math.round(sustained),
      unit: 'events/s',
      target: '≥ 30,000',
      note: `${total} events; ${Math.round(total / ((caughtUp - started) / 1000))}/s with the process start`,
    });

    processes.push(runTs('query-service/src/main.ts', env));
    const queryUrl = `http://127.0.0.1:${queryPort}`;
    if (!(await waitUntilReady(queryUrl, processes[1]!.child)))
      throw new Error(processes[1]!.output());
    processes.push(
      runTs('query-service/src/main.ts', {
        ...env,
        QUERY_PORT: String(uncachedPort),
        CACHE_TTL_SECONDS: '0',
      }),
    );
    const uncachedUrl = `http://127.0.0.1:${uncachedPort}`;
    if (!(await waitUntilReady(uncachedUrl, processes[2]!.child)))
      throw new Error(processes[2]!.output());
    const headers = { authorization: `Bearer ${options.token}` };

    // 2. Reads at 32 connections, after a warm-up.
    const read = async (
      name: (typeof reads)[number],
      path: (i: number) => string,
      target: string,
      url = queryUrl,
    ) => {
      let i = 0;
      const request = [
        {
          method: 'GET' as const,
          headers,
          setupRequest: (r: autocannon.Request) => ({ ...r, path: path(i++) }),
        },
      ];
      progress.phase(name, `3 s warm-up, then 32 connections for ${options.duration} s`);
      await autocannon({ url, connections: 32, duration: 3, requests: request });
      const result = await autocannon({
        url,
        connections: 32,
        duration: options.duration,
        requests: request,
      });
      figures.push({
        name,
        value: Math.round(result.requests.average),
        unit: 'requests/s',
        target,
        note: `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, errors ${result.errors + result.non2xx}`,
        latency: { name, p50Ms: result.latency.p50, p99Ms: result.latency.p99 },
      });
    };
    if (parts.has('reads')) {
      await read(reads[0], (i) => `/tasks/${taskIds[(i * 7919) % taskIds.length]}`, '≥ 6,000');
      await read(reads[1], () => '/tasks?limit=50', '≥ 2,000');
      await read(reads[2], () => '/tasks?limit=50', '≥ 2,000', uncachedUrl);
      await read(reads[3], () => '/stats', '');
    }

    // 3. Command → visible in the query-service, 500 commands/s for the bench duration,
    // driven from a fresh process: this one's heap, grown by the seeding and autocannon,
    // would add its own GC pauses to the latencies it measures.
    if (parts.has('visible')) {
      progress.phase(phaseName.visible, `5 s warm-up, then ${options.duration} s`);
      const client = runTs('bench/visible.ts', {
        ...process.env,
        COMMANDS_URL: options.commandsUrl,
        QUERY_URL: queryUrl,
        TOKEN: options.token,
        DURATION: String(options.duration),
      });
      if ((await client.exited) !== 0) throw new Error(client.output());
      const result = JSON.parse(client.output().trim().split('\n').pop()!) as {
        p50: number;
        p99: number;
        visible: number;
        failed: number;
      };
      figures.push({
        name: 'command → visible in the query-service, p99',
        value: result.p99,
        unit: 'ms',
        target: '≤ 50 at 500/s',
        note: `p50 ${result.p50} ms, ${result.visible} commands in ${options.duration} s, ${result.failed} not visible`,
        latency: {
          name: 'command → visible in the query-service, 500/s',
          p50Ms: result.p50,
          p99Ms: result.p99,
        },
      });
    }

    // 4. Replay of 1,000,000 events into a new file, with the live projection code.
    if (!parts.has('replay')) return figures;
    progress.phase(phaseName.seedReplay);
    const replayKeys = createKeyLayout('bench-replay', 1);
    await redis.hset(replayKeys.meta, 'layoutVersion', '1', 'partitions', '1');
    await seedReplayLog(redis, replayKeys, 100_000);
    const replayDb = openReadModel(join(mkdtempSync(join(tmpdir(), 'replay-')), 'replayed.sqlite'));
    progress.phase(phaseName.replay);
    const replayStarted = Date.now();
    const replayed = await rebuildReadModel(replayDb, redis, replayKeys, { batchSize: 2_000 });
    const replaySeconds = (Date.now() - replayStarted) / 1000;
    replayDb.close();
    figures.push({
      name: 'replay of 1,000,000 events',
      value: Math.round(replaySeconds * 10) / 10,
      unit: 's',
      target: '≤ 25',
      note: `${replayed} events, ${Math.round(replayed / replaySeconds)} events/s`,
    });
    return figures;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await redis.quit();
  }
};
