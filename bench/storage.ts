/**
 * The storage figures for `npm run bench` (issue 14, design §11): Redis
 * `used_memory` per event for the same events on layout 1 (a stream per
 * aggregate beside the log), written through the append script on a fresh
 * redis-server, and on layout 2 (each event once, in its log; an index of
 * 16-byte entry ids per aggregate) after migrating that store in place,
 * timed (BENCH_STORAGE_WRITE_V2=1 also writes them on layout 2 through the
 * append script); then, on one redis-server under appendfsync everysec, the
 * two parts of a request whose code differs by layout: the append script and
 * the aggregate load, layout 1 and 2 interleaved.
 *
 *   node --import tsx bench/storage.ts     (alone; BENCH_STORAGE_EVENTS=50000 for a quick run)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKeyLayout, type KeyLayout, type NewEvent, newId } from '@tasksync/contracts';
import {
  type AppendRequest,
  appendToStream,
  createRedis,
  type RedisClient,
  readAggregate,
  type StoreLayout,
} from '@tasksync/platform';
import { type MigrationPhase, migrateLayout } from '@tasksync/platform/migrate-layout';
import { findRedisServer, freePort, startRedisServer } from '../scripts/redis-server';
import { benchArchive } from './archive';
import { quantile } from './http-client';
import { interleaveSlices, SLICE_SECONDS } from './pair';
import { createProgress, formatClock, type PlannedPhase, type Progress } from './progress';
import { type Figure, figureTable } from './read-side';

/** Events of the store whose memory is measured: users, projects with members, tasks × 5. */
const EVENTS = Number(process.env.BENCH_STORAGE_EVENTS ?? 1_000_000);
if (!(EVENTS >= 1_000 && EVENTS <= 20_000_000))
  throw new Error('BENCH_STORAGE_EVENTS must be a number from 1000 to 20,000,000');
/** Task logs of the store (EVENT_PARTITIONS): a few, as a deployment that outgrew one core has. */
const PARTITIONS = 4;
/** Appends in flight while the store is written: the append script pipelined, as many clients send it. */
const WRITERS = 256;
/** Appends or loads in flight while the append path is timed. */
const IN_FLIGHT = 64;
/** The append path's tasks per layout: loaded ones (5 events each) and appended-to ones. */
const LOADED_TASKS = 5_000;
const APPENDED_TASKS = 5_000;
const EVENTS_PER_TASK = 5;
/**
 * BENCH_STORAGE_WRITE_V2=1: the same events also written on layout 2 through
 * the append script, on a fresh redis-server (about a minute more at the
 * default size; 437 bytes/event there against 439 migrated in a run here).
 * Without it, layout 2's memory is the migrated store's.
 */
const WRITE_V2 = Boolean(process.env.BENCH_STORAGE_WRITE_V2);
/** Events the archive figures seed, evenly over 30 days (BENCH_ARCHIVE_EVENTS). */
const ARCHIVE_EVENTS = Number(process.env.BENCH_ARCHIVE_EVENTS ?? 1_000_000);
const LAYOUTS = [1, 2] as const;

const layoutName: Record<StoreLayout, string> = {
  1: 'layout 1 (a stream per aggregate)',
  2: 'layout 2 (an index per aggregate)',
};
const count = (n: number) => n.toLocaleString('en-US');
const phaseName = {
  write: (layout: StoreLayout) =>
    `write ${count(EVENTS)} events on ${layoutName[layout]} and measure used_memory`,
  migrate: `migrate those ${count(EVENTS)} events in place to layout 2 (npm run migrate-layout's code)`,
  seed: 'start Redis (appendfsync everysec) and seed tasks on both layouts',
  appends: 'appendToStream, one event per append, layout 1 and 2 interleaved',
  loads: 'readAggregate of a 5-event task, layout 1 and 2 interleaved',
  cached: 'readAggregate after its last revision (a cached aggregate), layout 1 and 2 interleaved',
  archive: `archive all but the last day of ${count(ARCHIVE_EVENTS)} events over 30 days, replay from Redis and from the archive`,
};

/**
 * The storage section's phases for the progress display. Writing and
 * migrating the store have no configured duration: their seconds are a guess
 * from a run on 2 cores (15,500 appends/s on layout 1, 13,700 on layout 2,
 * 15,800 events/s migrated).
 */
export const storagePhases = (duration: number): PlannedPhase[] => [
  { name: phaseName.write(1), seconds: Math.round(3 + EVENTS / 15_500) },
  { name: phaseName.migrate, seconds: Math.round(1 + EVENTS / 15_800) },
  ...(WRITE_V2 ? [{ name: phaseName.write(2), seconds: Math.round(3 + EVENTS / 13_700) }] : []),
  { name: phaseName.seed, seconds: 5 },
  { name: phaseName.appends, seconds: 2 + 2 * duration },
  { name: phaseName.loads, seconds: 1 + duration },
  { name: phaseName.cached, seconds: 1 + duration },
  { name: phaseName.archive, seconds: Math.round(10 + ARCHIVE_EVENTS / 4_500) },
];

/**
 * A 32-bit hash of two integers (a murmur3-style finalizer). The store's ids
 * and the choices between its events derive from it, so both layouts are
 * written the very same events.
 */
const mix = (a: number, b: number) => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b + 0x7f4a7c15) | 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
};
const hex8 = (x: number) => x.toString(16).padStart(8, '0');
const BASE_MS = Date.UTC(2026, 0, 5, 9);
/** A uuid v7 as newId makes them, derived from (kind, n) instead of the clock and randomness. */
const storeId = (kind: number, n: number) => {
  const time = (BASE_MS + n).toString(16).padStart(12, '0');
  const a = hex8(mix(kind * 8 + 1, n));
  const b = hex8(mix(kind * 8 + 2, n));
  const c = mix(kind * 8 + 3, n);
  return `${time.slice(0, 8)}-${time.slice(8)}-7${a.slice(0, 3)}-${'89ab'[c & 3]}${a.slice(3, 6)}-${a.slice(6)}${b}${hex8(c).slice(0, 2)}`;
};
const id = {
  user: 1,
  project: 2,
  task: 3,
  comment: 4,
  corr: 5,
  /** An event's id: this plus its revision. */
  event: 8,
};
/** Where the numbers (`n`) of each kind of aggregate start: the store's tasks count from 0, below all of these. */
const numbering = {
  users: 10_000_000,
  projects: 20_000_000,
  loadedTasks: 30_000_000,
  appendedTasks: 40_000_000,
};
const atOf = (n: number) => new Date(BASE_MS + n * 37).toISOString();
const newEvent = (
  type: string,
  data: unknown,
  actor: string,
  n: number,
  revision: number,
): NewEvent =>
  ({
    id: storeId(id.event + revision, n),
    type,
    data,
    at: atOf(n),
    actor,
    corr: storeId(id.corr, n * 8 + revision),
  }) as NewEvent;

/** What the store holds: sized so its events come to about `events`. */
interface StorePlan {
  users: string[];
  projects: string[];
  membersPerProject: number;
  tasks: number;
  events: number;
}

const planStore = (events: number): StorePlan => {
  const users = Math.max(10, Math.round(events / 100));
  const projects = events >= 100_000 ? 20 : 5;
  const membersPerProject = Math.min(50, users - 1);
  const projectEvents = projects * (2 + membersPerProject);
  const tasks = Math.floor((events - users - projectEvents) / EVENTS_PER_TASK);
  return {
    users: Array.from({ length: users }, (_, u) => storeId(id.user, u)),
    projects: Array.from({ length: projects }, (_, p) => storeId(id.project, p)),
    membersPerProject,
    tasks,
    events: users + projectEvents + tasks * EVENTS_PER_TASK,
  };
};

const taskTitles = [
  'Fix the login redirect after a password reset',
  'Write the release notes',
  'Move the nightly export to the new bucket',
  'Review the onboarding copy',
];

/**
 * Task `i`'s appends in order, as the command-service makes them: created,
 * details changed, started, commented, then assigned (with the write-side
 * index of assigned tasks), moved to another project, completed or commented
 * again. `n` numbers the task among all written (ids and times derive from it).
 */
const taskAppends = (
  keys: KeyLayout,
  plan: StorePlan,
  i: number,
  n: number,
): Omit<AppendRequest, 'expectedRevision'>[] => {
  const taskId = storeId(id.task, n);
  const user = (k: number) => plan.users[(i + k) % plan.users.length]!;
  const project = plan.projects[i % plan.projects.length]!;
  const creator = user(0);
  const aggregate = {
    streamKey: keys.taskStream(taskId),
    logKey: keys.taskLog(keys.partitionOf(taskId)),
    aggregateId: taskId,
  };
  const event = (revision: number, type: string, data: unknown, actor = creator) => ({
    ...aggregate,
    events: [newEvent(type, data, actor, n, revision)],
  });
  const last = () => {
    switch (mix(7, n) % 4) {
      case 0:
        return {
          ...event(4, 'TaskAssigned', { assigneeId: user(2), previous: null }),
          hash: [
            {
              key: keys.assignedTasks(keys.partitionOf(taskId), project),
              field: taskId,
              value: user(2),
            },
          ],
        };
      case 1:
        return event(4, 'TaskMoved', {
          from: project,
          to: plan.projects[(i + 1) % plan.projects.length]!,
        });
      case 2:
        return event(4, 'TaskStatusChanged', { from: 'in-progress', to: 'completed' });
      default:
        return event(
          4,
          'CommentAdded',
          {
            commentId: storeId(id.comment, n * 2 + 1),
            text: 'Done on staging.',
            authorId: user(1),
          },
          user(1),
        );
    }
  };
  return [
    event(0, 'TaskCreated', {
      title: `${taskTitles[i % taskTitles.length]} (${i})`,
      description:
        i % 3 === 0 ? '' : 'What is needed, in a sentence or two, with a link to the discussion.',
      status: 'pending',
      assigneeId: null,
      priority: (['low', 'medium', 'high', 'urgent'] as const)[mix(5, n) % 4],
      dueDate: i % 2 === 0 ? '2026-03-31' : null,
      labels: i % 5 === 0 ? ['backend', 'bug'] : ['frontend'],
      createdBy: creator,
      projectId: project,
    }),
    event(1, 'TaskDetailsChanged', i % 2 === 0 ? { priority: 'high' } : { dueDate: '2026-04-15' }),
    event(2, 'TaskStatusChanged', { from: 'pending', to: 'in-progress' }),
    event(
      3,
      'CommentAdded',
      {
        commentId: storeId(id.comment, n * 2),
        text: 'Looks right to me; one question about the edge cases before it ships.',
        authorId: user(1),
      },
      user(1),
    ),
    last(),
  ];
};

const appendOrThrow = async (
  redis: RedisClient,
  request: AppendRequest,
  layout: StoreLayout,
): Promise<string> => {
  const result = await appendToStream(redis, request, layout);
  if (result.outcome !== 'appended')
    throw new Error(`storage bench: ${request.streamKey} answered ${result.outcome}`);
  return result.entryId;
};

/** Runs `task(i)` for every i below `total`, at most `concurrency` at once. */
const inFlight = async (total: number, concurrency: number, task: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(total, concurrency) }, async () => {
      while (next < total) await task(next++);
    }),
  );
};

/** Writes task `i`'s five events, one append each with its expected revision; returns its last entry id. */
const writeTask = async (
  redis: RedisClient,
  keys: KeyLayout,
  layout: StoreLayout,
  plan: StorePlan,
  i: number,
  n = i,
) => {
  let entryId = '';
  for (const [revision, request] of taskAppends(keys, plan, i, n).entries())
    entryId = await appendOrThrow(
      redis,
      { ...request, expectedRevision: revision === 0 ? 'none' : revision - 1 },
      layout,
    );
  return entryId;
};

/**
 * Writes the store of `plan` as the services do, WRITERS appends in flight:
 * users registered (an e-mail key and credentials beside each), projects
 * created with their members added one by one, and tasks.
 */
const writeStore = async (
  redis: RedisClient,
  keys: KeyLayout,
  layout: StoreLayout,
  plan: StorePlan,
) => {
  await inFlight(plan.users.length, WRITERS, async (u) => {
    const userId = plan.users[u]!;
    const email = `user${u}@example.com`;
    await appendOrThrow(
      redis,
      {
        streamKey: keys.userStream(userId),
        logKey: keys.identityLog,
        aggregateId: userId,
        expectedRevision: 'none',
        events: [
          newEvent(
            'UserRegistered',
            { email, name: `User ${u}`, role: 'member' },
            'system',
            numbering.users + u,
            0,
          ),
        ],
        unique: [{ key: keys.email(email), value: userId }],
        // A bcrypt hash's length: what identity-service keeps.
        set: [{ key: keys.credentials(userId), value: `$2b$10$${'x'.repeat(53)}` }],
      },
      layout,
    );
  });
  await inFlight(plan.projects.length, WRITERS, async (p) => {
    const projectId = plan.projects[p]!;
    const ownerId = plan.users[p % plan.users.length]!;
    const project = {
      streamKey: keys.projectStream(projectId),
      logKey: keys.projectLog,
      aggregateId: projectId,
    };
    const n = numbering.projects + p * 1_000;
    await appendOrThrow(
      redis,
      {
        ...project,
        expectedRevision: 'none',
        events: [
          newEvent(
            'ProjectCreated',
            { name: `Project ${p}`, description: '', visibility: 'private', ownerId },
            ownerId,
            n,
            0,
          ),
          newEvent('MemberAdded', { userId: ownerId, role: 'owner' }, ownerId, n, 1),
        ],
      },
      layout,
    );
    for (let m = 1; m <= plan.membersPerProject; m++) {
      const userId = plan.users[(p + m) % plan.users.length]!;
      await appendOrThrow(
        redis,
        {
          ...project,
          expectedRevision: m,
          events: [newEvent('MemberAdded', { userId, role: 'editor' }, ownerId, n + m, 0)],
        },
        layout,
      );
    }
  });
  await inFlight(plan.tasks, WRITERS, async (i) => {
    await writeTask(redis, keys, layout, plan, i);
  });
};

/** INFO memory's `used_memory` and what of it is client buffers (not storage) and the script cache. */
const memoryInfo = async (redis: RedisClient) => {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return {
    used: field('used_memory'),
    clients: field('mem_clients_normal'),
    scripts: field('used_memory_scripts'),
    rss: field('used_memory_rss'),
  };
};

/** What the store took since `before`, per event: the whole growth and the logs' part of it. */
const storeMemory = async (
  redis: RedisClient,
  keys: KeyLayout,
  before: Awaited<ReturnType<typeof memoryInfo>>,
  events: number,
) => {
  const after = await memoryInfo(redis);
  let logs = 0;
  for (const log of keys.logs())
    logs += Number((await redis.call('MEMORY', 'USAGE', log.key, 'SAMPLES', '0')) ?? 0);
  return {
    bytesPerEvent: (after.used - before.used) / events,
    logBytesPerEvent: logs / events,
    /** Of the growth: client buffers and the script cache, not storage (a few kB). */
    notStoredBytes: after.clients - before.clients + after.scripts - before.scripts,
    rss: after.rss,
  };
};

/**
 * The store of `plan` written on `layout` on a fresh redis-server: the
 * used_memory it took. `migrate` then converts it to layout 2 in place with
 * `npm run migrate-layout`'s code (design §11), timed, and measures again.
 */
const measureLayout = async (
  binary: string,
  layout: StoreLayout,
  plan: StorePlan,
  migrate?: () => void,
) => {
  const server = await startRedisServer({ binary, port: await freePort() });
  const redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER: false });
  try {
    const keys = createKeyLayout('ts', PARTITIONS);
    await redis.hset(keys.meta, 'layoutVersion', String(layout), 'partitions', String(PARTITIONS));
    const before = await memoryInfo(redis);
    const started = performance.now();
    await writeStore(redis, keys, layout, plan);
    const seconds = (performance.now() - started) / 1000;
    const written = {
      ...(await storeMemory(redis, keys, before, plan.events)),
      appendsPerSecond: Math.round(
        (plan.users.length + plan.projects.length * (1 + plan.membersPerProject) + plan.tasks * 5) /
          seconds,
      ),
    };
    if (!migrate) return { written };
    migrate();
    const phaseStarted: Partial<Record<MigrationPhase, number>> = {};
    const migrationStarted = performance.now();
    const result = await migrateLayout({
      redis,
      keys,
      onPhase: (phase) => {
        phaseStarted[phase] = performance.now();
      },
    });
    const ended = performance.now();
    if (result.outcome !== 'migrated')
      throw new Error(`storage bench: the migration answered ${result.outcome}`);
    if (result.totalEvents !== plan.events)
      throw new Error(`storage bench: ${result.totalEvents} events migrated, not ${plan.events}`);
    return {
      written,
      migrated: await storeMemory(redis, keys, before, plan.events),
      migration: {
        seconds: (ended - migrationStarted) / 1000,
        aggregates: result.aggregates,
        eventsPerSecond: Math.round(plan.events / ((ended - migrationStarted) / 1000)),
        copyEventsPerSecond: Math.round(
          plan.events / ((phaseStarted.verify! - phaseStarted.copy!) / 1000),
        ),
        switchAggregatesPerSecond: Math.round(
          result.aggregates / ((ended - phaseStarted.verify!) / 1000),
        ),
      },
    };
  } finally {
    await redis.quit();
    await server.stop();
  }
};

interface Tally {
  operations: number;
  seconds: number;
  latencies: number[];
}

/** `operation(worker, k)` in IN_FLIGHT loops for `seconds`; the slice ends when the last answer has come. */
const timedSlice = async (
  seconds: number,
  tally: Tally,
  operation: (worker: number, k: number) => Promise<void>,
) => {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      for (let k = 0; performance.now() < deadline; k++) {
        const sent = performance.now();
        await operation(worker, k);
        tally.latencies.push(performance.now() - sent);
        tally.operations++;
      }
    }),
  );
  tally.seconds += (performance.now() - started) / 1000;
};

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
}

/** Runs each layout's operation for `seconds`, interleaved in slices (layout 1 first), as bench/pair.ts does. */
const interleaved = async (
  seconds: number,
  operation: Record<StoreLayout, (worker: number, k: number) => Promise<void>>,
) => {
  const tallies: Record<StoreLayout, Tally> = {
    1: { operations: 0, seconds: 0, latencies: [] },
    2: { operations: 0, seconds: 0, latencies: [] },
  };
  await interleaveSlices(
    LAYOUTS.map(
      (layout) => (slice: number) => timedSlice(slice, tallies[layout], operation[layout]),
    ),
    seconds,
  );
  return LAYOUTS.map((layout) => {
    const { operations, seconds: spent, latencies } = tallies[layout];
    const sorted = Float64Array.from(latencies).sort();
    return {
      perSecond: Math.round(operations / spent),
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
    };
  }) as [Measured, Measured];
};

/** A layout's tasks on the append path's Redis: loaded ones of 5 events, appended-to ones. */
interface SeededLayout {
  keys: KeyLayout;
  loaded: { taskId: string; lastEntryId: string }[];
  appended: { taskId: string; revision: number }[];
}

const seedAppendPath = async (redis: RedisClient, layout: StoreLayout): Promise<SeededLayout> => {
  const keys = createKeyLayout(`bench-storage-v${layout}`, PARTITIONS);
  const plan = planStore(10_000);
  const loaded: SeededLayout['loaded'] = [];
  await inFlight(LOADED_TASKS, WRITERS, async (i) => {
    const lastEntryId = await writeTask(redis, keys, layout, plan, i, numbering.loadedTasks + i);
    loaded[i] = { taskId: storeId(id.task, numbering.loadedTasks + i), lastEntryId };
  });
  const appended: SeededLayout['appended'] = [];
  await inFlight(APPENDED_TASKS, WRITERS, async (i) => {
    const [created] = taskAppends(keys, plan, i, numbering.appendedTasks + i);
    await appendOrThrow(redis, { ...created!, expectedRevision: 'none' }, layout);
    appended[i] = { taskId: created!.aggregateId, revision: 0 };
  });
  return { keys, loaded, appended };
};

/**
 * One event appended onto task `worker + IN_FLIGHT·k` (mod the tasks), with
 * its expected revision: a title change, as PATCH /tasks/:id appends it.
 * Each worker has tasks of its own, so no two appends race for a revision.
 */
const appendOne =
  (redis: RedisClient, layout: StoreLayout, seeded: SeededLayout) =>
  async (worker: number, k: number) => {
    const perWorker = Math.floor(seeded.appended.length / IN_FLIGHT);
    const task = seeded.appended[worker + IN_FLIGHT * (k % perWorker)]!;
    const event = {
      id: newId(),
      type: 'TaskDetailsChanged',
      data: { title: `Renamed ${k}` },
      at: new Date().toISOString(),
      actor: storeId(id.user, worker),
      corr: newId(),
    } as NewEvent;
    await appendOrThrow(
      redis,
      {
        streamKey: seeded.keys.taskStream(task.taskId),
        logKey: seeded.keys.taskLog(seeded.keys.partitionOf(task.taskId)),
        aggregateId: task.taskId,
        expectedRevision: task.revision,
        events: [event],
      },
      layout,
    );
    task.revision++;
  };

/** Loads a 5-event task; `cached`: only what came after its last revision (nothing), as a warm command does. */
const loadOne =
  (redis: RedisClient, layout: StoreLayout, seeded: SeededLayout, cached: boolean) =>
  async (worker: number, k: number) => {
    const { taskId, lastEntryId } =
      seeded.loaded[(worker * 7_919 + k * 104_729) % seeded.loaded.length]!;
    const events = await readAggregate(
      redis,
      {
        layout,
        streamKey: seeded.keys.taskStream(taskId),
        logKey: seeded.keys.taskLog(seeded.keys.partitionOf(taskId)),
      },
      cached ? { revision: EVENTS_PER_TASK - 1, entryId: lastEntryId } : undefined,
    );
    const expected = cached ? 0 : EVENTS_PER_TASK;
    if (events.length !== expected)
      throw new Error(`storage bench: ${taskId} loaded ${events.length} events, not ${expected}`);
  };

const percent = (part: number, whole: number) => `${Math.round((part / whole) * 100)}%`;
const ratioOf = (part: number, whole: number) => Math.round((part / whole) * 1000) / 1000;

/** The append path's figures: layout 1 and layout 2 throughput side by side, v2 with its ratio to v1. */
const pairFigures = (
  name: (layout: StoreLayout) => string,
  unit: string,
  [v1, v2]: [Measured, Measured],
  target: string,
  note: string,
): Figure[] => [
  {
    name: name(1),
    value: v1.perSecond,
    unit,
    note: `p50 ${v1.p50} ms, p99 ${v1.p99} ms; ${note}`,
  },
  {
    name: name(2),
    value: v2.perSecond,
    unit,
    target,
    ratio: ratioOf(v2.perSecond, v1.perSecond),
    note: `p50 ${v2.p50} ms, p99 ${v2.p99} ms; ${percent(v2.perSecond, v1.perSecond)} of layout 1's, interleaved with it in ${SLICE_SECONDS} s slices`,
  },
];

export const benchStorage = async (
  progress: Progress,
  options: { duration: number },
): Promise<Figure[]> => {
  const binary = findRedisServer();
  if (!binary) throw new Error('the storage bench needs redis-server');
  const figures: Figure[] = [];
  const started = performance.now();
  const plan = planStore(EVENTS);
  const contents = `${count(plan.events)} events: ${count(plan.users.length)} users registered (an e-mail key and credentials beside each), ${plan.projects.length} projects with ${plan.membersPerProject} members added one by one, ${count(plan.tasks)} tasks × 5 (created, changed, started, commented, then assigned, moved, completed or commented)`;

  // 1. Memory: the same events on each layout, each on a fresh redis-server;
  // the layout-1 store is then migrated in place, and measured again.
  progress.phase(phaseName.write(1), `${WRITERS} appends in flight`);
  const v1 = await measureLayout(binary, 1, plan, () => progress.phase(phaseName.migrate));
  const { migrated, migration } = v1 as Required<typeof v1>;
  let v2: typeof v1.written | undefined;
  if (WRITE_V2) {
    progress.phase(phaseName.write(2), `${WRITERS} appends in flight`);
    v2 = (await measureLayout(binary, 2, plan)).written;
  }
  const counted = `used_memory after − before, on a fresh redis-server with no persistence and nothing else in it; the growth counts everything Redis allocated: the logs, the aggregates' keys, the users' e-mail and credential keys, the assigned-tasks hashes, the keyspace's tables, and client buffers and the script cache (${Math.round(v1.written.notStoredBytes / 1024)} kB); no idempotency records (they expire in a day); written through appendToStream, ${WRITERS} appends in flight, over ${PARTITIONS} task logs; ${contents}`;
  const split = (m: typeof migrated, aggregateKeys: string) =>
    `the logs ${Math.round(m.logBytesPerEvent)} (MEMORY USAGE), the rest ${Math.round(m.bytesPerEvent - m.logBytesPerEvent)}: ${aggregateKeys} and the keys beside them`;
  const megabytes = (bytesPerEvent: number) =>
    `${count(Math.round((bytesPerEvent * plan.events) / 2 ** 20))} MB`;
  figures.push(
    {
      name: `Redis used_memory per event, ${layoutName[1]}`,
      value: Math.round(v1.written.bytesPerEvent),
      unit: 'bytes/event',
      note: `${split(v1.written, "the aggregates' streams")}; written at ${count(v1.written.appendsPerSecond)} appends/s; ${counted}`,
    },
    {
      name: `Redis used_memory per event, ${layoutName[2]}: the store above migrated in place`,
      value: Math.round(migrated.bytesPerEvent),
      unit: 'bytes/event',
      target: '≤ 400',
      note: `${split(migrated, "the aggregates' indexes")}; the same events exactly, after npm run migrate-layout's code ran on the store above (used_memory; the process's RSS is then ${count(Math.round(migrated.rss / 2 ** 20))} MB, against ${count(Math.round(v1.written.rss / 2 ** 20))} MB after layout 1's writes, until the allocator returns the pages the streams held)`,
    },
    {
      name: 'Redis used_memory per event, layout 1 ÷ layout 2',
      value: Math.round((v1.written.bytesPerEvent / migrated.bytesPerEvent) * 100) / 100,
      unit: '×',
      note: `${megabytes(v1.written.bytesPerEvent)} against ${megabytes(migrated.bytesPerEvent)} for the same ${count(plan.events)} events`,
    },
    ...(v2
      ? [
          {
            name: `Redis used_memory per event, ${layoutName[2]}: written by the append script`,
            value: Math.round(v2.bytesPerEvent),
            unit: 'bytes/event',
            target: '≤ 400',
            note: `${split(v2, "the aggregates' indexes")}; the same events written on a fresh redis-server as the services write them, at ${count(v2.appendsPerSecond)} appends/s (BENCH_STORAGE_WRITE_V2)`,
          },
        ]
      : []),
    {
      name: `migration of ${count(plan.events)} events from layout 1 to layout 2`,
      value: migration.eventsPerSecond,
      unit: 'events/s',
      note: `${migration.seconds.toFixed(1)} s for the whole run (copy, verification and switch, as on a store whose writers are stopped); the copy ${count(migration.copyEventsPerSecond)} events/s, the verification and switch ${count(migration.switchAggregatesPerSecond)} aggregates/s (${count(migration.aggregates)} aggregates); migrateLayout on the store above, in process, default batch size`,
    },
  );

  // 2. The append path: the append script and the aggregate load, each layout
  // under its own prefix on one redis-server, interleaved.
  progress.phase(
    phaseName.seed,
    `${count(LOADED_TASKS)} tasks × 5 events and ${count(APPENDED_TASKS)} created tasks per layout`,
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'tasksync-bench-storage-'));
  const server = await startRedisServer({
    binary,
    port: await freePort(),
    dir: join(dataDir, 'redis'),
    appendfsync: 'everysec',
    // As run.ts's Redis: no RDB snapshots nor AOF rewrites forking at moments no figure chooses.
    extraArgs: ['--save', '', '--auto-aof-rewrite-percentage', '0'],
  });
  const redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER: false });
  try {
    const seeded = {
      1: await seedAppendPath(redis, 1),
      2: await seedAppendPath(redis, 2),
    } as Record<StoreLayout, SeededLayout>;
    const appends = {
      1: appendOne(redis, 1, seeded[1]),
      2: appendOne(redis, 2, seeded[2]),
    };
    const loads = (cached: boolean) => ({
      1: loadOne(redis, 1, seeded[1], cached),
      2: loadOne(redis, 2, seeded[2], cached),
    });
    const inFlightNote = `${IN_FLIGHT} in flight, ${options.duration} s per layout`;
    progress.phase(phaseName.appends, `1 s warm-up, then ${inFlightNote}`);
    await interleaved(1, appends);
    figures.push(
      ...pairFigures(
        (layout) => `appendToStream, one event onto a task, ${layoutName[layout]}`,
        'appends/s',
        await interleaved(options.duration, appends),
        '≥ 100% of layout 1 (no write regression)',
        `${inFlightNote}, appendfsync everysec; each append one TaskDetailsChanged with its expected revision onto one of ${count(APPENDED_TASKS)} tasks. What stands for POST /tasks and PATCH /tasks/:id on each layout: the services run only layout 2, and the append script is the one part of a write whose code differs by layout`,
      ),
    );
    const loadSeconds = Math.max(2, Math.round(options.duration / 2));
    progress.phase(phaseName.loads, `${IN_FLIGHT} in flight, ${loadSeconds} s per layout`);
    await interleaved(0.5, loads(false));
    figures.push(
      ...pairFigures(
        (layout) => `readAggregate of a 5-event task, ${layoutName[layout]}`,
        'loads/s',
        await interleaved(loadSeconds, loads(false)),
        '',
        `${IN_FLIGHT} in flight, ${loadSeconds} s per layout, decoded; one of ${count(LOADED_TASKS)} tasks each time. The load of an aggregate is the one part of a read whose code differs by layout: GET /tasks/:id?asOf= and a command on an aggregate not in the command-service's cache make it (GET /tasks/:id/history reads the read model, the same on both layouts)`,
      ),
    );
    progress.phase(phaseName.cached, `${IN_FLIGHT} in flight, ${loadSeconds} s per layout`);
    await interleaved(0.5, loads(true));
    figures.push(
      ...pairFigures(
        (layout) => `readAggregate after its last revision, ${layoutName[layout]}`,
        'loads/s',
        await interleaved(loadSeconds, loads(true)),
        '',
        `${IN_FLIGHT} in flight, ${loadSeconds} s per layout; what every command on an aggregate in the command-service's cache reads before its append (nothing new: an XRANGE after the entry id on layout 1, the index script from the next revision on layout 2)`,
      ),
    );

    // 3. The archive: Redis memory before and after, and a replay from each tier.
    progress.phase(phaseName.archive);
    const archived = await benchArchive({ events: ARCHIVE_EVENTS });
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
    figures.push(
      {
        name: 'Redis used_memory after archiving all but the last day',
        value: Math.round(archived.usedMemoryAfter / 1e5) / 10,
        unit: 'MB',
        note: `${mb(archived.usedMemoryBefore)} before (${Math.round(archived.bytesPerEventInRedis)} bytes per event), ${(archived.usedMemoryBefore / archived.usedMemoryAfter).toFixed(1)}× less after; ${count(archived.events)} task events evenly over 30 days on one log, every one acknowledged; ${count(archived.archivedEvents)} archived in ${archived.segments} segments, ${mb(archived.archiveBytes)} on disk (${Math.round(archived.archiveBytes / archived.archivedEvents)} bytes per event, Brotli)`,
      },
      {
        name: 'archiving',
        value: Math.round(archived.archivedEvents / archived.archiveSeconds),
        unit: 'events/s',
        note: `${archived.archiveSeconds.toFixed(1)} s: segments written and fsynced, the manifest, then XTRIM MINID, per segment`,
      },
      {
        name: 'replay from Redis (read and decode every event)',
        value: Math.round(archived.replayFromRedisPerSecond),
        unit: 'events/s',
        note: `${count(archived.events)} events through the range reader before archiving; reading alone ${count(Math.round(archived.readFromRedisPerSecond))} events/s`,
      },
      {
        name: 'replay from the archive (read and decode every event)',
        value: Math.round(archived.replayFromArchivePerSecond),
        unit: 'events/s',
        note: `the same events after archiving (all but the last day from segments, the rest from Redis); reading alone ${count(Math.round(archived.readFromArchivePerSecond))} events/s; ${(archived.replayFromArchivePerSecond / archived.replayFromRedisPerSecond).toFixed(2)}× the replay from Redis`,
      },
    );
    progress.log(`storage section: ${formatClock((performance.now() - started) / 1000)}`);
    return figures;
  } finally {
    await redis.quit();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

const runAlone = async () => {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  const progress = createProgress(storagePhases(duration));
  try {
    const figures = await benchStorage(progress, { duration });
    progress.finish();
    process.stdout.write(`\n${figureTable('storage', figures)}\n`);
  } catch (error) {
    progress.close();
    console.error(error);
    process.exitCode = 1;
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void runAlone();
