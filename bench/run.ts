/**
 * `npm run bench`: starts Redis and the services on this machine, drives them
 * with autocannon and reports requests/s with p50/p99, beside the
 * redis-benchmark XADD rate as the ceiling. The write path is measured under
 * each AOF fsync policy BENCH_FSYNC names. Figures go to stdout and to
 * bench/results/ (JSON, Markdown and an SVG latency chart); progress goes to
 * stderr. Benches report numbers; they assert nothing.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createKeyLayout } from '@tasksync/contracts';
import { createRedis, type RedisClient, readLastEntryId, repoRoot } from '@tasksync/platform';
import autocannon from 'autocannon';
import { type RunningProcess, runTs, waitUntilReady } from '../scripts/processes';
import { findRedisServer, freePort, startRedisServer } from '../scripts/redis-server';
import { type LatencyRow, renderLatencyChart } from './chart';
import { DOOR_NAMES, doorsOf, startDoors } from './doors';
import {
  benchLiveSide,
  connectSocketClients,
  liveSidePhases,
  startNotifierProcess,
} from './live-side';
import { measurePair } from './pair';
import { createProgress, type PlannedPhase, type Progress } from './progress';
import {
  benchReadSide,
  figureTable,
  readSidePhases,
  startProjectorProcess,
  waitForCheckpoint,
} from './read-side';
import { benchStorage, storagePhases } from './storage';
import { beforeProjects, tenancy } from './tenancies';

type Appendfsync = 'always' | 'everysec';

/** BENCH_FSYNC=always|everysec|both (the default): the AOF policies the write path runs under. */
const parseFsyncModes = (value = 'both'): Appendfsync[] => {
  if (value === 'both') return ['always', 'everysec'];
  if (value === 'always' || value === 'everysec') return [value];
  throw new Error(`BENCH_FSYNC must be always, everysec or both, not '${value}'`);
};

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
if (!(DURATION > 0)) throw new Error(`BENCH_DURATION must be a number of seconds above 0`);
const CONNECTIONS = 32;
const FSYNC_MODES = parseFsyncModes(process.env.BENCH_FSYNC);
// Everything but the write-path rows runs under the embedded Redis' default,
// so those figures compare across runs whatever BENCH_FSYNC says.
const DEFAULT_FSYNC: Appendfsync = 'everysec';
const SKIP_READ = Boolean(process.env.BENCH_SKIP_READ);
const SKIP_LIVE = Boolean(process.env.BENCH_SKIP_LIVE);
// The code before projects has no layouts to compare.
const SKIP_STORAGE = Boolean(process.env.BENCH_SKIP_STORAGE) || beforeProjects;
const WARM_UP = Math.min(DURATION, 3);
/** Socket clients on the notifier while POST /tasks runs with the whole system. */
const SYSTEM_CLIENTS = 100;
/** How long after the load the projector and the socket clients get to catch up. */
const SYSTEM_DRAIN_SECONDS = 60;

interface Row {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  appendfsync?: Appendfsync;
  note?: string;
  /** Requests/s as a share of the same-run yardstick's (bench/reference-app.ts). */
  ratio?: number;
}

const withFsync = (name: string, mode: Appendfsync) => `${name} (appendfsync ${mode})`;
const phaseName = {
  start: 'start Redis and the services',
  warmUp: 'warm up the write path',
  ceiling: (mode: Appendfsync) => withFsync('redis-benchmark XADD ceiling', mode),
  create: (mode: Appendfsync) => withFsync('POST /tasks', mode),
  reference: (mode: Appendfsync) => withFsync('reference: bare express JWT + zod + XADD', mode),
  patch: (mode: Appendfsync) => withFsync('PATCH /tasks/:id', mode),
  doorStart: 'start the front doors (the Node gateway and nginx)',
  throughDoor: (door: string) => withFsync(`POST /tasks through ${door}`, 'everysec'),
  login: 'POST /auth/login',
  systemStart: `start a projector, a notifier and ${SYSTEM_CLIENTS} socket clients`,
  system: withFsync(
    `POST /tasks with the projector and a notifier to ${SYSTEM_CLIENTS} sockets running`,
    'everysec',
  ),
};

/** Every phase in run order with its estimated seconds; the fixed ones are guesses for 2 cores. */
const plannedPhases = (): PlannedPhase[] => [
  { name: phaseName.start, seconds: 6 },
  { name: phaseName.warmUp, seconds: 3 * WARM_UP + 6 },
  ...FSYNC_MODES.flatMap((mode) => [
    { name: phaseName.ceiling(mode), seconds: 8 },
    { name: phaseName.create(mode), seconds: 2 * DURATION },
    { name: phaseName.patch(mode), seconds: DURATION },
  ]),
  ...(beforeProjects
    ? []
    : [
        { name: phaseName.doorStart, seconds: 3 },
        ...DOOR_NAMES.map((door) => ({
          name: phaseName.throughDoor(door),
          seconds: 3 + 2 * DURATION,
        })),
      ]),
  { name: phaseName.systemStart, seconds: 15 },
  { name: phaseName.system, seconds: DURATION + 10 },
  { name: phaseName.login, seconds: Math.min(DURATION, 5) },
  ...(SKIP_READ ? [] : readSidePhases(DURATION)),
  ...(SKIP_LIVE ? [] : liveSidePhases(DURATION)),
  ...(SKIP_STORAGE ? [] : storagePhases(DURATION)),
];

const machine = () => {
  const cores = cpus();
  return {
    cpus: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${platform()} ${arch()}`,
  };
};
const describeMachine = (m: ReturnType<typeof machine>) =>
  `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ${m.platform}`;

const load = async (
  progress: Progress,
  options: autocannon.Options & { name: string; note?: string; appendfsync?: Appendfsync },
): Promise<Row> => {
  progress.phase(options.name, `${options.connections} connections for ${options.duration} s`);
  const { name, note, appendfsync, ...autocannonOptions } = options;
  const result = await autocannon(autocannonOptions);
  return {
    name,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    ...(appendfsync ? { appendfsync } : {}),
    ...(note ? { note } : {}),
  };
};

/** Switches the running server's AOF fsync policy: appendfsync is settable at runtime (Redis 7). */
const setAppendfsync = async (redis: RedisClient, mode: Appendfsync) => {
  await redis.config('SET', 'appendfsync', mode);
  const [, actual] = (await redis.config('GET', 'appendfsync')) as [string, string];
  if (actual !== mode) throw new Error(`appendfsync is ${actual} after CONFIG SET ${mode}`);
};

/**
 * Under appendfsync always Redis fsyncs the AOF before answering each turn's
 * writes (6,000 XADD/s against 21,000 under everysec in a run here), so that
 * mode gets 50,000 requests: 200,000 would take half a minute for the same
 * rate. Not execFileSync: the progress line keeps moving meanwhile.
 */
const xaddCeilingRequests = (mode: Appendfsync) => (mode === 'always' ? 50_000 : 200_000);
const redisBenchmarkXadd = async (port: number, requests: number) => {
  const { stdout: out } = await promisify(execFile)(
    'redis-benchmark',
    [
      '-p',
      String(port),
      '-c',
      String(CONNECTIONS),
      '-n',
      String(requests),
      '-q',
      'XADD',
      'bench:ceiling',
      '*',
      'f',
      'v',
    ],
    { encoding: 'utf8' },
  );
  const match = /([\d.]+) requests per second/.exec(out);
  const p50 = /p50=([\d.]+) msec/.exec(out);
  return { rps: Math.round(Number(match?.[1] ?? 0)), p50: Number(p50?.[1] ?? 0) };
};

/**
 * POST /tasks as users feel it: under appendfsync everysec, while a projector
 * (a group and read model of its own, so the read side's catch-up later starts
 * from nothing as before) and a notifier with SYSTEM_CLIENTS socket clients run
 * against the same Redis. Each title carries its send time, so the clients
 * (bench/socket-clients.ts) measure command → socket too. The note gives the
 * projector's lag: the most entries of the log not yet applied (consumer-group
 * lag + pending, sampled every 100 ms under the load), and the time from the
 * end of the load until its checkpoint is the last appended entry.
 */
const benchWholeSystem = async (options: {
  progress: Progress;
  env: NodeJS.ProcessEnv;
  admin: RedisClient;
  dataDir: string;
  /** Tokens of users who see the project written to: the socket clients take them in turn. */
  socketTokens: string[];
  commandsUrl: string;
  headers: Record<string, string>;
  /** The project POST /tasks writes to (undefined: the code has no projects). */
  projectId: string | undefined;
}): Promise<Row> => {
  const { progress, admin } = options;
  const keys = createKeyLayout('ts', 1);
  const log = { key: keys.taskLog(0), name: 't0' };
  const group = 'bench-whole-system';
  const readModelPath = join(options.dataDir, 'whole-system-read-model.sqlite');
  progress.phase(phaseName.systemStart, 'the projector catches up with the rows before');
  const processes: RunningProcess[] = [];
  let sampling = true;
  let clients: Awaited<ReturnType<typeof connectSocketClients>> | undefined;
  try {
    await setAppendfsync(admin, 'everysec');
    processes.push(
      await startProjectorProcess(
        { ...options.env, READ_MODEL_PATH: readModelPath, PROJECTOR_GROUP: group },
        await freePort(),
      ),
    );
    const before = await readLastEntryId(admin, log.key);
    if (before) await waitForCheckpoint(readModelPath, log.name, before);
    const notifier = await startNotifierProcess(options.env);
    processes.push(notifier.process);
    clients = await connectSocketClients({
      notifierUrl: notifier.url,
      tokens: options.socketTokens,
      count: SYSTEM_CLIENTS,
      drainSeconds: SYSTEM_DRAIN_SECONDS,
    });
    let maxBehind = 0;
    const sampler = (async () => {
      while (sampling) {
        const groups = (await admin.xinfo('GROUPS', log.key)) as unknown[][];
        const info = groups.find((g) => g[g.indexOf('name') + 1] === group);
        const lag = info?.[info.indexOf('lag') + 1];
        const pending = Number(info?.[info.indexOf('pending') + 1] ?? 0);
        // lag is null when Redis cannot tell (entries deleted); the sample is skipped.
        if (typeof lag === 'number') maxBehind = Math.max(maxBehind, lag + pending);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const lengthBefore = await admin.xlen(log.key);
    const now = () => performance.timeOrigin + performance.now();
    const row = await load(progress, {
      name: phaseName.system,
      url: options.commandsUrl,
      requests: [
        {
          method: 'POST',
          path: '/tasks',
          headers: options.headers,
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify({
              ...(options.projectId ? { projectId: options.projectId } : {}),
              title: `bench ${now()}`,
              priority: 'high',
              labels: ['bench'],
            }),
          }),
        },
      ],
      connections: CONNECTIONS,
      duration: DURATION,
      appendfsync: 'everysec',
    });
    const loadEnded = Date.now();
    sampling = false;
    await sampler;
    const last = (await readLastEntryId(admin, log.key))!;
    const caughtUpAt = waitForCheckpoint(
      readModelPath,
      log.name,
      last,
      undefined,
      SYSTEM_DRAIN_SECONDS * 1000,
    );
    // One TaskCreated per request the command-service took: the log grew by as many
    // events as the clients must get. Requests autocannon had in flight at the end
    // may still land (under a loaded machine, for a second or more): counted once
    // the log has stopped growing for half a second.
    let created = (await admin.xlen(log.key)) - lengthBefore;
    for (let stable = 0; stable < 2; ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const count = (await admin.xlen(log.key)) - lengthBefore;
      stable = count === created ? stable + 1 : 0;
      created = count;
    }
    const [caughtUp, sockets] = await Promise.all([caughtUpAt, clients.collect(created)]);
    const projector = caughtUp
      ? `at the last entry ${caughtUp - loadEnded} ms after the load ended`
      : `not at the last entry ${SYSTEM_DRAIN_SECONDS} s after the load`;
    row.note = [
      `projector lag max ${maxBehind} entries (group lag + pending), ${projector}`,
      `${sockets.complete}/${SYSTEM_CLIENTS} socket clients (${options.socketTokens.length === 1 ? 'one user' : `${options.socketTokens.length} users`} who see the project written to) got all ${created} events, ${sockets.duplicates} duplicates`,
      `command → socket p50 ${sockets.p50} ms, p99 ${sockets.p99} ms`,
    ].join('; ');
    return row;
  } finally {
    sampling = false;
    await clients?.stop();
    await Promise.all(processes.map((p) => p.stop()));
  }
};

const main = async (progress: Progress) => {
  const binary = findRedisServer();
  if (!binary) throw new Error('bench needs redis-server');
  progress.phase(phaseName.start);
  const dataDir = mkdtempSync(join(tmpdir(), 'tasksync-bench-'));
  const redis = await startRedisServer({
    binary,
    port: await freePort(),
    dir: join(dataDir, 'redis'),
    appendfsync: DEFAULT_FSYNC,
    // No RDB snapshots (Redis' default saves every 60 s once 10,000 keys changed) and
    // no automatic AOF rewrites: each forks a child that serializes the whole dataset
    // on one of the 2 cores for seconds, at moments no row chooses. The AOF and its
    // fsync policy, what durability rests on, stay as they are.
    extraArgs: ['--save', '', '--auto-aof-rewrite-percentage', '0'],
  });
  const admin = createRedis({ REDIS_URL: redis.url, REDIS_CLUSTER: false });
  const [identityPort, commandPort, referencePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    REDIS_URL: redis.url,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ADMIN_EMAIL: 'bench-admin@example.com',
    ADMIN_PASSWORD: randomBytes(16).toString('base64url'),
    IDENTITY_PORT: String(identityPort),
    COMMAND_PORT: String(commandPort),
    DATA_DIR: dataDir,
  };
  const services: RunningProcess[] = [
    runTs('identity-service/src/main.ts', env),
    runTs('command-service/src/main.ts', env),
    runTs('bench/reference-app.ts', { ...env, PORT: String(referencePort) }),
  ];
  try {
    const identity = `http://127.0.0.1:${identityPort}`;
    const commands = `http://127.0.0.1:${commandPort}`;
    const reference = `http://127.0.0.1:${referencePort}`;
    const ready = await Promise.all(
      [identity, commands].map((url, i) => waitUntilReady(url, services[i]!.child)),
    );
    if (!ready.every(Boolean))
      throw new Error(`services did not start:\n${services.map((s) => s.output()).join('\n')}`);
    await services[2]!.waitForOutput(/^listening$/m);
    const json = { 'content-type': 'application/json' };
    const credentials = JSON.stringify({ email: 'bench@example.com', password: 'bench-password' });
    await fetch(`${identity}/auth/register`, { method: 'POST', headers: json, body: credentials });
    const { token, user } = (await (
      await fetch(`${identity}/auth/login`, { method: 'POST', headers: json, body: credentials })
    ).json()) as { token: string; user: { id: string } };
    const headers = { ...json, authorization: `Bearer ${token}` };
    // With projects, POST /tasks writes into a private project the user owns (bench/projects.ts).
    const writeSetUp = await tenancy.setUpWrites({
      identityUrl: identity,
      commandsUrl: commands,
      token,
    });
    const createBody = JSON.stringify({
      ...(writeSetUp.projectId ? { projectId: writeSetUp.projectId } : {}),
      title: 'Benchmark task',
      priority: 'high',
      labels: ['bench'],
    });
    let counter = 0;
    const taskIds: string[] = [];
    const patchRequest: autocannon.Request = {
      method: 'PATCH',
      headers,
      setupRequest: (request) => {
        counter++;
        return {
          ...request,
          path: `/tasks/${taskIds[counter % taskIds.length]}`,
          body: JSON.stringify({ title: `changed ${counter}` }),
        };
      },
    };

    // The tasks PATCH changes, then every write endpoint under load for a few
    // seconds: the first fsync policy measured must not also pay for the JIT.
    progress.phase(phaseName.warmUp, `1,000 tasks, then ${WARM_UP} s per endpoint`);
    for (let i = 0; i < 1_000; i++) {
      const res = await fetch(`${commands}/tasks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ title: `t${i}` }),
      });
      taskIds.push(((await res.json()) as { id: string }).id);
    }
    // The write endpoints, each as autocannon drives it in the warm-up and in every mode.
    const writes = {
      create: { url: `${commands}/tasks`, method: 'POST' as const, headers, body: createBody },
      reference: { url: `${reference}/tasks`, method: 'POST' as const, headers, body: createBody },
      patch: { url: commands, requests: [patchRequest] },
    };
    for (const target of Object.values(writes)) {
      await autocannon({ ...target, connections: CONNECTIONS, duration: WARM_UP });
    }

    const rows: Row[] = [];
    const ceilings: { appendfsync: Appendfsync; rps: number; p50: number }[] = [];
    for (const mode of FSYNC_MODES) {
      await setAppendfsync(admin, mode);
      const requests = xaddCeilingRequests(mode);
      progress.phase(phaseName.ceiling(mode), `${CONNECTIONS} connections, ${requests} XADDs`);
      ceilings.push({ appendfsync: mode, ...(await redisBenchmarkXadd(redis.port, requests)) });
      const measured = { appendfsync: mode, connections: CONNECTIONS, duration: DURATION };
      progress.phase(
        phaseName.create(mode),
        `and the bare reference, ${CONNECTIONS} connections for ${DURATION} s each, interleaved in 2 s slices`,
      );
      const [created, bare] = await measurePair(
        { ...writes.create, connections: CONNECTIONS },
        { ...writes.reference, connections: CONNECTIONS },
        DURATION,
      );
      const ratio = created.requestsPerSecond / bare.requestsPerSecond;
      rows.push(
        {
          name: phaseName.create(mode),
          ...created,
          appendfsync: mode,
          ratio: Math.round(ratio * 1000) / 1000,
          note: `${Math.round(ratio * 100)}% of the bare reference under the same appendfsync${writeSetUp.projectId ? '; into a private project the user owns' : ''}`,
        },
        {
          name: phaseName.reference(mode),
          ...bare,
          appendfsync: mode,
          note: 'yardstick measured in the same run, interleaved with the row above (bench/reference-app.ts)',
        },
      );
      rows.push(
        await load(progress, {
          ...writes.patch,
          ...measured,
          name: phaseName.patch(mode),
          note: 'each request changes the title: one event per request',
        }),
      );
    }
    await setAppendfsync(admin, DEFAULT_FSYNC);
    // The front doors' cost (design §12): POST /tasks through each, interleaved with
    // the same requests straight to the command-service. The code before projects has none.
    if (!beforeProjects) {
      progress.phase(phaseName.doorStart);
      const doors = await startDoors(env, { identity, command: commands }, 'command');
      try {
        for (const [door, url] of doorsOf(doors)) {
          progress.phase(
            phaseName.throughDoor(door),
            `and straight to the command-service, ${CONNECTIONS} connections for ${DURATION} s each, interleaved in 2 s slices`,
          );
          const through = { ...writes.create, url: `${url}/tasks`, connections: CONNECTIONS };
          await autocannon({ ...through, duration: WARM_UP });
          const [viaDoor, direct] = await measurePair(
            through,
            { ...writes.create, connections: CONNECTIONS },
            DURATION,
          );
          const ratio = viaDoor.requestsPerSecond / direct.requestsPerSecond;
          rows.push(
            {
              name: phaseName.throughDoor(door),
              ...viaDoor,
              appendfsync: DEFAULT_FSYNC,
              ratio: Math.round(ratio * 1000) / 1000,
              note: `${Math.round(ratio * 100)}% of POST /tasks straight to the command-service (the row below, interleaved with it)`,
            },
            {
              name: withFsync(
                `POST /tasks straight to the command-service, beside ${door}`,
                DEFAULT_FSYNC,
              ),
              ...direct,
              appendfsync: DEFAULT_FSYNC,
              note: 'measured in the same run, interleaved with the row above',
            },
          );
        }
      } finally {
        await doors.stop();
      }
    }
    const whole = await benchWholeSystem({
      progress,
      env,
      admin,
      dataDir,
      socketTokens: writeSetUp.socketTokens,
      commandsUrl: commands,
      headers,
      projectId: writeSetUp.projectId,
    });
    const alone = rows.find((r) => r.name === phaseName.create('everysec'));
    if (alone)
      whole.note += `; ${Math.round((whole.requestsPerSecond / alone.requestsPerSecond) * 100)}% of POST /tasks alone`;
    rows.push(whole);
    rows.push(
      await load(progress, {
        name: phaseName.login,
        url: `${identity}/auth/login`,
        method: 'POST',
        headers: json,
        body: credentials,
        connections: 8,
        duration: Math.min(DURATION, 5),
        note: 'bcrypt cost 10 on the libuv pool; 8 connections',
      }),
    );

    const readSide = SKIP_READ
      ? []
      : await benchReadSide({
          env,
          redisUrl: redis.url,
          dataDir,
          token,
          userId: user.id,
          writeProjectId: writeSetUp.projectId,
          commandsUrl: commands,
          duration: DURATION,
          progress,
        });

    const liveSide = SKIP_LIVE
      ? []
      : await benchLiveSide({ env, token, commandsUrl: commands, duration: DURATION, progress });

    const storage = SKIP_STORAGE ? [] : await benchStorage(progress, { duration: DURATION });

    const at = new Date().toISOString();
    const host = machine();
    const heading = `TaskSync bench, ${at}, ${describeMachine(host)}`;
    const conditions = `${CONNECTIONS} connections, ${DURATION} s per row; the write path under appendfsync ${FSYNC_MODES.join(' and ')}, everything else under ${DEFAULT_FSYNC}${beforeProjects ? '; the code before projects (BENCH_BEFORE_PROJECTS)' : ''}`;
    const table = [
      '| measurement | requests/s | p50 ms | p99 ms | errors | note |',
      '|---|---:|---:|---:|---:|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${r.note ?? ''} |`,
      ),
      ...ceilings.map(
        (c) =>
          `| ${phaseName.ceiling(c.appendfsync)} | ${c.rps} | ${c.p50} | | 0 | ${CONNECTIONS} connections, no pipelining |`,
      ),
    ].join('\n');
    const readTable = figureTable('read side', readSide);
    const liveTable = figureTable('live side', liveSide);
    const storageTable = figureTable('storage', storage);
    const latencyRows: LatencyRow[] = [
      ...rows.map(({ name, p50Ms, p99Ms }) => ({ name, p50Ms, p99Ms })),
      ...[...readSide, ...liveSide].flatMap((f) => (f.latency ? [f.latency] : [])),
    ];
    progress.finish();
    process.stdout.write(
      `\n${heading}\n${conditions}\n\n${table}\n\n${readSide.length ? `${readTable}\n\n` : ''}${liveSide.length ? `${liveTable}\n\n` : ''}${storage.length ? `${storageTable}\n\n` : ''}`,
    );
    const dir = join(repoRoot, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const report = {
      at,
      machine: host,
      durationSeconds: DURATION,
      connections: CONNECTIONS,
      appendfsync: FSYNC_MODES,
      beforeProjects,
      rows,
      xaddCeilings: ceilings,
      readSide,
      liveSide,
      storage,
    };
    writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(
      join(dir, 'latest.md'),
      `${heading}\n\n${conditions}\n\n![p50 and p99 latency per measurement, log scale](latest.svg)\n\n${table}\n\n${readTable}\n\n${liveTable}\n\n${storageTable}\n`,
    );
    writeFileSync(
      join(dir, 'latest.svg'),
      renderLatencyChart({ rows: latencyRows, at, machine: describeMachine(host) }),
    );
    progress.log('saved bench/results/latest.json, latest.md and latest.svg');
  } finally {
    progress.close();
    await admin.quit();
    await Promise.all(services.map((s) => s.stop()));
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

const progress = createProgress(plannedPhases());
main(progress).catch((error) => {
  progress.close();
  console.error(error);
  process.exit(1);
});
