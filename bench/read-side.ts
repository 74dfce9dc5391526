/**
 * The read side's figures for `npm run bench` (issue: read side; issue 12,
 * projects): projector catch-up events/s, GET /tasks/:id and a first page of
 * 50 for a reader who sees 20 of 1,000 projects holding 100,000 tasks, each
 * beside its same-run yardstick (bench/reference-app.ts), command → visible in
 * the query-service, replay of 1,000,000 events, and the v1 → v2 read-model
 * upgrade of the same 1,000,000 events.
 */
import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createKeyLayout, type KeyLayout, newId } from '@tasksync/contracts';
import { createRedis, LAYOUT_VERSION, type RedisClient, readLastEntryId } from '@tasksync/platform';
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
import { DOOR_NAMES, doorsOf, startDoors } from './doors';
import { type Measured, measurePair } from './pair';
import type { PlannedPhase, Progress } from './progress';
import { seededTask } from './seed';
import { beforeProjects, tenancy } from './tenancies';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: string;
  note?: string;
  /** For the latency chart, where the figure measured a latency distribution. */
  latency?: LatencyRow;
  /** Requests/s as a share of the same-run yardstick's (bench/reference-app.ts). */
  ratio?: number;
}

/** A section's figures as a Markdown table, as `npm run bench` prints them. */
export const figureTable = (title: string, figures: Figure[]) =>
  [
    `| ${title} | value | target | note |`,
    '|---|---:|---|---|',
    ...figures.map(
      (f) => `| ${f.name} | ${f.value} ${f.unit} | ${f.target ?? ''} | ${f.note ?? ''} |`,
    ),
  ].join('\n');

/**
 * BENCH_READ_PARTS=reads,visible,replay,upgrade (the default: all) picks what
 * runs after the projector catch-up, which always runs: the reads need its
 * model. The upgrade rebuilds the replay's log (seeded for it when replay is
 * left out); the code before projects has no upgrade to time.
 */
const parts = new Set(
  (process.env.BENCH_READ_PARTS ?? 'reads,visible,replay,upgrade').split(',').map((p) => p.trim()),
);
if (beforeProjects) parts.delete('upgrade');

const reads = {
  task: 'GET /tasks/:id',
  throughDoor: (door: string) => `GET /tasks/:id through ${door}`,
  taskReference: 'reference: bare express JWT + SQLite read of GET /tasks/:id',
  pageCached: 'GET /tasks (first page of 50), cache hits',
  page: 'GET /tasks (first page of 50), no cache',
  pageReference: 'reference: bare express JWT + SQLite read of the first page of 50',
  stats: 'GET /stats',
} as const;
const phaseName = {
  seed: 'seed 100,000 tasks',
  catchUp: 'projector catch-up, start the query-services and the read yardstick',
  visible: 'command → visible at 500 commands/s',
  seedReplay: 'seed 1,000,000 events as written before projects (TaskCreated v1)',
  replay: 'replay of 1,000,000 events',
  writeV1: 'write the version-1 read model of those events',
  upgrade: 'read-model upgrade v1 → v2 of 1,000,000 events',
};

/**
 * The read side's phases for the progress display. Seeding, catch-up, replay
 * and upgrade have no configured duration: their seconds are rough guesses for 2 cores.
 */
export const readSidePhases = (duration: number): PlannedPhase[] => [
  { name: phaseName.seed, seconds: 30 },
  { name: phaseName.catchUp, seconds: 20 },
  ...(parts.has('reads')
    ? [
        { name: reads.task, seconds: 6 + 2 * duration },
        ...(beforeProjects
          ? []
          : DOOR_NAMES.map((door) => ({
              name: reads.throughDoor(door),
              seconds: 6 + 2 * duration,
            }))),
        { name: reads.page, seconds: 6 + 2 * duration },
        { name: reads.pageCached, seconds: 3 + duration },
        { name: reads.stats, seconds: 3 + duration },
      ]
    : []),
  ...(parts.has('visible') ? [{ name: phaseName.visible, seconds: 5 + duration + 3 }] : []),
  ...(parts.has('replay') || parts.has('upgrade')
    ? [
        { name: phaseName.seedReplay, seconds: 40 },
        { name: phaseName.replay, seconds: 25 },
      ]
    : []),
  ...(parts.has('upgrade')
    ? [
        { name: phaseName.writeV1, seconds: 15 },
        { name: phaseName.upgrade, seconds: 35 },
      ]
    : []),
];

/**
 * Writes a log of `tasks` × 10 events straight into Redis (replay reads only
 * logs), as the code before projects wrote it: TaskCreated version 1, with no
 * projectId, which every consumer upcasts into the General project.
 */
export const seedReplayLog = async (redis: RedisClient, keys: KeyLayout, tasks: number) => {
  const logKey = keys.taskLog(0);
  const userId = newId();
  const statuses = ['in-progress', 'completed', 'in-progress', 'pending'] as const;
  for (let start = 0; start < tasks; start += 1_000) {
    const pipeline = redis.pipeline();
    for (let t = start; t < Math.min(tasks, start + 1_000); t++) {
      const taskId = newId();
      const at = new Date().toISOString();
      // The fields the append script writes for an event (platform/src/redis/append.ts).
      const add = (type: string, rev: number, data: unknown) =>
        pipeline.xadd(
          logKey,
          '*',
          'id',
          newId(),
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
      add('TaskCreated', 0, seededTask(t, userId));
      for (let rev = 1; rev < 10; rev++) {
        const from = rev === 1 ? 'pending' : statuses[(rev - 2) % 4]!;
        const to = statuses[(rev - 1) % 4]!;
        add('TaskStatusChanged', rev, { from, to });
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

/** Whether stream entry id `a` (`<ms>-<seq>`) is at or after `b`. */
const atOrAfter = (a: string, b: string) => {
  const [aMs, aSeq] = a.split('-').map(Number) as [number, number];
  const [bMs, bSeq] = b.split('-').map(Number) as [number, number];
  return aMs > bMs || (aMs === bMs && aSeq >= bSeq);
};

/**
 * Polls the read model at `path` every 20 ms until the checkpoint of `log`
 * is at or past `entryId`, and resolves with the time it was seen (undefined
 * once `timeoutMs` has passed). `each` sees the open model at every poll.
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
        done = readCheckpoints(db).some((c) => c.log === log && atOrAfter(c.entry_id, entryId));
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `part` as a whole percentage of `whole`. */
const percent = (part: number, whole: number) => `${Math.round((part / whole) * 100)}%`;

export const benchReadSide = async (options: {
  env: NodeJS.ProcessEnv;
  redisUrl: string;
  dataDir: string;
  token: string;
  userId: string;
  /** The project the write rows wrote to (undefined: the code has no projects). */
  writeProjectId: string | undefined;
  commandsUrl: string;
  duration: number;
  progress: Progress;
}): Promise<Figure[]> => {
  const { progress } = options;
  const figures: Figure[] = [];
  const redis = createRedis({ REDIS_URL: options.redisUrl, REDIS_CLUSTER: false });
  const keys = createKeyLayout('ts', 1);
  const readModelPath = join(options.dataDir, 'read-model.sqlite');
  const [projectorPort, queryPort, uncachedPort, referencePort] = [
    await freePort(),
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
    const seed = await tenancy.seedReads(redis, keys, {
      userId: options.userId,
      writeProjectId: options.writeProjectId,
    });
    const taskIds = seed.visibleTaskIds;
    const lastEntry = (await readLastEntryId(redis, keys.taskLog(0)))!;
    const lastProjectEntry = beforeProjects
      ? undefined
      : await readLastEntryId(redis, keys.projectLog);
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
      note: `${total} events of the task log; ${Math.round(total / ((caughtUp - started) / 1000))}/s with the process start`,
    });
    // The projects and memberships the reads are limited by (the project log, applied beside).
    if (lastProjectEntry) await waitForCheckpoint(readModelPath, 'p', lastProjectEntry);

    const startReader = async (entry: string, port: number, extra: NodeJS.ProcessEnv = {}) => {
      const reader = runTs(entry, { ...env, ...extra });
      processes.push(reader);
      const url = `http://127.0.0.1:${port}`;
      if (!(await waitUntilReady(url, reader.child))) throw new Error(reader.output());
      return url;
    };
    const queryUrl = await startReader('query-service/src/main.ts', queryPort);
    const uncachedUrl = await startReader('query-service/src/main.ts', uncachedPort, {
      QUERY_PORT: String(uncachedPort),
      CACHE_TTL_SECONDS: '0',
    });
    // The read yardstick: bare express + JWT verify + one SQLite read of the same model.
    const reference = runTs('bench/reference-app.ts', {
      ...env,
      REDIS_URL: '',
      PORT: String(referencePort),
    });
    processes.push(reference);
    await reference.waitForOutput(/^listening$/m);
    const referenceUrl = `http://127.0.0.1:${referencePort}`;
    const headers = { authorization: `Bearer ${options.token}` };

    // 2. Reads at 32 connections, after a warm-up; the rows with a yardstick interleaved with it.
    const target = (url: string, path: (i: number) => string): autocannon.Options => {
      let i = 0;
      return {
        url,
        connections: 32,
        requests: [
          {
            method: 'GET' as const,
            headers,
            setupRequest: (r: autocannon.Request) => ({ ...r, path: path(i++) }),
          },
        ],
      };
    };
    const warmUp = (...targets: autocannon.Options[]) =>
      Promise.all(targets.map((t) => autocannon({ ...t, duration: 3 })));
    const figureOf = (name: string, m: Measured, target: string, note = ''): Figure => ({
      name,
      value: m.requestsPerSecond,
      unit: 'requests/s',
      target,
      note: `p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, errors ${m.errors}${note}`,
      latency: { name, p50Ms: m.p50Ms, p99Ms: m.p99Ms },
    });
    const single = async (name: string, t: autocannon.Options, goal: string) => {
      progress.phase(name, `3 s warm-up, then 32 connections for ${options.duration} s`);
      await warmUp(t);
      const result = await autocannon({ ...t, duration: options.duration });
      const figure = figureOf(
        name,
        {
          requestsPerSecond: Math.round(result.requests.average),
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          errors: result.errors + result.non2xx,
        },
        goal,
      );
      figures.push(figure);
      return figure;
    };
    /** The service's figure as a share of its yardstick's, in its note and as `ratio`. */
    const beside = (figure: Figure, yardstick: Figure) => {
      figure.ratio = Math.round((figure.value / yardstick.value) * 1000) / 1000;
      figure.note += `; ${percent(figure.value, yardstick.value)} of the bare reference read`;
    };
    const pair = async (
      names: [string, string],
      measured: autocannon.Options,
      yardstick: autocannon.Options,
      goal: string,
      notes: [string, string],
    ) => {
      progress.phase(
        names[0],
        `and its yardstick: 3 s warm-up each, then 32 connections for ${options.duration} s each, interleaved in 2 s slices`,
      );
      await warmUp(measured);
      await warmUp(yardstick);
      const [m, y] = await measurePair(measured, yardstick, options.duration);
      const figure = figureOf(names[0], m, goal, notes[0]);
      const reference = figureOf(names[1], y, '', notes[1]);
      beside(figure, reference);
      figures.push(figure, reference);
      return reference;
    };
    if (parts.has('reads')) {
      const seen = `; ${seed.description}`;
      const yardstickNote =
        '; yardstick measured in the same run, interleaved with the row above (bench/reference-app.ts)';
      const onePath = (i: number) => `/tasks/${taskIds[(i * 7919) % taskIds.length]}`;
      const pagePath = () => '/tasks?limit=50';
      await pair(
        [reads.task, reads.taskReference],
        target(queryUrl, onePath),
        target(referenceUrl, onePath),
        '≥ 6,000',
        [seen, yardstickNote],
      );
      // The front doors' cost (design §12): GET /tasks/:id through each, interleaved
      // with the same reads straight to the query-service.
      if (!beforeProjects) {
        const doors = await startDoors(env, { query: queryUrl }, 'query');
        try {
          for (const [door, url] of doorsOf(doors)) {
            const name = reads.throughDoor(door);
            progress.phase(
              name,
              `and straight to the query-service: 3 s warm-up each, then 32 connections for ${options.duration} s each, interleaved in 2 s slices`,
            );
            const through = target(url, onePath);
            const direct = target(queryUrl, onePath);
            await warmUp(through);
            const [m, d] = await measurePair(through, direct, options.duration);
            const figure = figureOf(name, m, '');
            const straight = figureOf(
              `GET /tasks/:id straight to the query-service, beside ${door}`,
              d,
              '',
              '; measured in the same run, interleaved with the row above',
            );
            figure.ratio = Math.round((m.requestsPerSecond / d.requestsPerSecond) * 1000) / 1000;
            figure.note += `; ${percent(m.requestsPerSecond, d.requestsPerSecond)} of the query-service read straight (the row below)`;
            figures.push(figure, straight);
          }
        } finally {
          await doors.stop();
        }
      }
      const pageReference = await pair(
        [reads.page, reads.pageReference],
        target(uncachedUrl, pagePath),
        target(referenceUrl, pagePath),
        '≥ 2,000',
        [seen, `${yardstickNote}; newest 50 of every task, no access check`],
      );
      beside(await single(reads.pageCached, target(queryUrl, pagePath), '≥ 2,000'), pageReference);
      await single(
        reads.stats,
        target(queryUrl, () => '/stats'),
        '',
      );
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
    await Promise.all(processes.splice(0).map((p) => p.stop()));

    // 4. Replay of 1,000,000 events into a new file, with the live projection code.
    if (!parts.has('replay') && !parts.has('upgrade')) return figures;
    progress.phase(phaseName.seedReplay);
    const replayKeys = createKeyLayout('bench-replay', 1);
    await redis.hset(replayKeys.meta, 'layoutVersion', LAYOUT_VERSION, 'partitions', '1');
    await seedReplayLog(redis, replayKeys, 100_000);
    const replayDir = join(options.dataDir, 'replay');
    mkdirSync(replayDir, { recursive: true });
    const replayDb = openReadModel(join(replayDir, 'replayed.sqlite'));
    progress.phase(phaseName.replay);
    const replayStarted = Date.now();
    const replayed = await rebuildReadModel(replayDb, redis, replayKeys, { batchSize: 2_000 });
    const replaySeconds = (Date.now() - replayStarted) / 1000;
    if (parts.has('replay'))
      figures.push({
        name: 'replay of 1,000,000 events',
        value: Math.round(replaySeconds * 10) / 10,
        unit: 's',
        target: '≤ 25',
        note: `${replayed} events (TaskCreated v1, upcast), ${Math.round(replayed / replaySeconds)} events/s`,
      });
    try {
      if (parts.has('upgrade'))
        figures.push(await benchUpgrade({ ...options, replayDb, events: replayed }));
    } finally {
      if (replayDb.open) replayDb.close();
    }
    return figures;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await redis.quit();
  }
};

/**
 * Design §10's read-model upgrade, timed: beside the replay's log of 1,000,000
 * events as the code before projects wrote them, the version-1 model a
 * projector of that time built from it (projector/src/testing/before-projects.ts
 * derives it from the replayed model, as the upgrade tests do); then a
 * projector of this code starts on it and is timed from its start until
 * READ_MODEL_PATH is switched to the rebuilt version-2 model.
 */
const benchUpgrade = async (options: {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  progress: Progress;
  replayDb: ReturnType<typeof openReadModel>;
  events: number;
}): Promise<Figure> => {
  const { progress, events } = options;
  // Imported here: the code before projects (BENCH_BEFORE_PROJECTS) has no such module.
  const { writeV1ReadModel } = await import('../projector/src/testing/before-projects');
  progress.phase(phaseName.writeV1);
  const dir = join(options.dataDir, 'upgrade');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'read-model.sqlite');
  writeV1ReadModel(path, options.replayDb);
  options.replayDb.close();
  progress.phase(phaseName.upgrade, "from the projector's start to the switch");
  const started = performance.now();
  const projector = runTs('projector/src/main.ts', {
    ...options.env,
    REDIS_PREFIX: 'bench-replay',
    READ_MODEL_PATH: path,
    PROJECTOR_GROUP: 'bench-upgrade',
    PROJECTOR_PORT: String(await freePort()),
    LOG_LEVEL: 'info',
  });
  let seconds: number;
  try {
    const deadline = Date.now() + 600_000;
    while (!(existsSync(path) && lstatSync(path).isSymbolicLink())) {
      if (projector.child.exitCode !== null) throw new Error(projector.output());
      if (Date.now() > deadline) throw new Error(`no swap in 600 s:\n${projector.output()}`);
      await sleep(20);
    }
    seconds = (performance.now() - started) / 1000;
    // The projector's own account: from the rebuild's start to the switch (no process start).
    await projector.waitForOutput(/readers switched to the rebuilt model/, 10_000);
  } finally {
    await projector.stop();
  }
  const logged = projector
    .output()
    .split('\n')
    .find((line) => line.includes('readers switched to the rebuilt model'));
  const own = Number(/"seconds":([\d.]+)/.exec(logged ?? '')?.[1]);
  const rebuilt = Number(/"events":(\d+)/.exec(logged ?? '')?.[1]);
  return {
    name: phaseName.upgrade,
    value: Math.round(seconds * 10) / 10,
    unit: 's',
    note: [
      `${events} events, ${Math.round(events / seconds)} events/s from the projector's start to the switch`,
      `its log: ${rebuilt} events rebuilt and swapped in ${own} s (${Math.round(rebuilt / own)} events/s)`,
    ].join('; '),
  };
};
