/**
 * `npm run bench`: starts Redis and the services on this machine, drives them
 * with autocannon and reports requests/s with p50/p99, beside the
 * redis-benchmark XADD rate as the ceiling. Figures go to stdout and to
 * bench/results/. Benches report numbers; they assert nothing.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@tasksync/contracts';
import autocannon from 'autocannon';
import { type RunningProcess, runTs, waitUntilReady } from '../scripts/processes';
import { findRedisServer, freePort, startRedisServer } from '../scripts/redis-server';
import { benchLiveSide } from './live-side';
import { benchReadSide } from './read-side';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 32;

interface Row {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  note?: string;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const load = async (
  options: autocannon.Options & { name: string; note?: string },
): Promise<Row> => {
  log(`${options.name}: ${options.connections} connections for ${options.duration} s …`);
  const result = await autocannon(options);
  return {
    name: options.name,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    ...(options.note ? { note: options.note } : {}),
  };
};

const redisBenchmarkXadd = (port: number) => {
  log('redis-benchmark XADD …');
  const out = execFileSync(
    'redis-benchmark',
    [
      '-p',
      String(port),
      '-c',
      String(CONNECTIONS),
      '-n',
      '200000',
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

const main = async () => {
  const binary = findRedisServer();
  if (!binary) throw new Error('bench needs redis-server');
  const dataDir = mkdtempSync(join(tmpdir(), 'tasksync-bench-'));
  const redis = await startRedisServer({
    binary,
    port: await freePort(),
    dir: join(dataDir, 'redis'),
  });
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
    const ready = await Promise.all(
      [identity, commands].map((url, i) => waitUntilReady(url, services[i]!.child)),
    );
    if (!ready.every(Boolean))
      throw new Error(`services did not start:\n${services.map((s) => s.output()).join('\n')}`);
    const json = { 'content-type': 'application/json' };
    const credentials = JSON.stringify({ email: 'bench@example.com', password: 'bench-password' });
    await fetch(`${identity}/auth/register`, { method: 'POST', headers: json, body: credentials });
    const { token, user } = (await (
      await fetch(`${identity}/auth/login`, { method: 'POST', headers: json, body: credentials })
    ).json()) as { token: string; user: { id: string } };
    const headers = { ...json, authorization: `Bearer ${token}` };

    const ceiling = redisBenchmarkXadd(redis.port);
    const rows: Row[] = [];
    const createBody = JSON.stringify({
      title: 'Benchmark task',
      priority: 'high',
      labels: ['bench'],
    });
    rows.push(
      await load({
        name: 'POST /tasks',
        url: `${commands}/tasks`,
        method: 'POST',
        headers,
        body: createBody,
        connections: CONNECTIONS,
        duration: DURATION,
      }),
    );
    rows.push(
      await load({
        name: 'reference: bare express JWT + zod + XADD',
        url: `http://127.0.0.1:${referencePort}/tasks`,
        method: 'POST',
        headers,
        body: createBody,
        connections: CONNECTIONS,
        duration: DURATION,
        note: 'yardstick measured in the same run (bench/reference-app.ts)',
      }),
    );
    const ratio = rows[0]!.requestsPerSecond / rows[1]!.requestsPerSecond;
    rows[0]!.note = `${Math.round(ratio * 100)}% of the bare reference in this run`;

    const taskIds: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      const res = await fetch(`${commands}/tasks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ title: `t${i}` }),
      });
      taskIds.push(((await res.json()) as { id: string }).id);
    }
    let counter = 0;
    rows.push(
      await load({
        name: 'PATCH /tasks/:id',
        url: commands,
        connections: CONNECTIONS,
        duration: DURATION,
        requests: [
          {
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
          },
        ],
        note: 'each request changes the title: one event per request',
      }),
    );
    rows.push(
      await load({
        name: 'POST /auth/login',
        url: `${identity}/auth/login`,
        method: 'POST',
        headers: json,
        body: credentials,
        connections: 8,
        duration: Math.min(DURATION, 5),
        note: 'bcrypt cost 10 on the libuv pool; 8 connections',
      }),
    );

    const readSide = process.env.BENCH_SKIP_READ
      ? []
      : await benchReadSide({
          env,
          redisUrl: redis.url,
          dataDir,
          token,
          userId: user.id,
          commandsUrl: commands,
          duration: DURATION,
        });

    const liveSide = process.env.BENCH_SKIP_LIVE
      ? []
      : await benchLiveSide({ env, token, commandsUrl: commands, duration: DURATION });

    const table = [
      '| measurement | requests/s | p50 ms | p99 ms | errors | note |',
      '|---|---:|---:|---:|---:|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${r.note ?? ''} |`,
      ),
      `| redis-benchmark XADD (ceiling) | ${ceiling.rps} | ${ceiling.p50} | | 0 | ${CONNECTIONS} connections, no pipelining |`,
    ].join('\n');
    const readTable = [
      '| read side | value | target | note |',
      '|---|---:|---|---|',
      ...readSide.map(
        (f) => `| ${f.name} | ${f.value} ${f.unit} | ${f.target ?? ''} | ${f.note ?? ''} |`,
      ),
    ].join('\n');
    const liveTable = [
      '| live side | value | target | note |',
      '|---|---:|---|---|',
      ...liveSide.map(
        (f) => `| ${f.name} | ${f.value} ${f.unit} | ${f.target ?? ''} | ${f.note ?? ''} |`,
      ),
    ].join('\n');
    process.stdout.write(
      `\nTaskSync bench, ${new Date().toISOString()}, ${CONNECTIONS} connections, ${DURATION} s per row\n\n${table}\n\n${readSide.length ? `${readTable}\n\n` : ''}${liveSide.length ? `${liveTable}\n\n` : ''}`,
    );
    const dir = join(repoRoot, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const report = {
      at: new Date().toISOString(),
      durationSeconds: DURATION,
      connections: CONNECTIONS,
      rows,
      xaddCeiling: ceiling,
    };
    writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(dir, 'latest.md'), `${table}\n\n${readTable}\n\n${liveTable}\n`);
    log(`saved bench/results/latest.json and latest.md (${stamp})`);
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
