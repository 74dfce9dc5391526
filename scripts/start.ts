/**
 * `npm start`: the local supervisor (design §8). Without REDIS_URL it runs a
 * private redis-server (AOF on, data in data/redis), then every service that
 * exists, each as its own process with prefixed logs, and prints the URLs.
 * Ctrl-C stops the services first (they finish in-flight requests), Redis last.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  commonEnv,
  loadDotEnv,
  parseConfig,
  ports,
  repoRoot,
  resolveJwtSecret,
  runMain,
} from '@tasksync/platform';
import { z } from 'zod';
import { isAlive, waitUntilReady } from './processes';
import {
  findRedisServer,
  freePort,
  installRedisServer,
  isPortFree,
  REDIS_INSTALL_HINT,
  type RedisServerHandle,
  startRedisServer,
} from './redis-server';

interface ServiceSpec {
  name: string;
  dir: string;
  portVariable: keyof typeof ports;
  label: string;
  color: number;
  /** Started only when this says so (the archiver: when ARCHIVE_AFTER is set). */
  when?: (env: NodeJS.ProcessEnv) => boolean;
}

const SERVICES: ServiceSpec[] = [
  {
    name: 'gateway',
    dir: 'gateway',
    portVariable: 'GATEWAY_PORT',
    label: 'the front door: the board, the whole API (/docs) and the live feed',
    color: 37,
  },
  {
    name: 'identity',
    dir: 'identity-service',
    portVariable: 'IDENTITY_PORT',
    label: 'register and log in',
    color: 36,
  },
  {
    name: 'command',
    dir: 'command-service',
    portVariable: 'COMMAND_PORT',
    label: 'create and change tasks',
    color: 35,
  },
  {
    name: 'projector',
    dir: 'projector',
    portVariable: 'PROJECTOR_PORT',
    label: 'read-model health',
    color: 33,
  },
  {
    name: 'query',
    dir: 'query-service',
    portVariable: 'QUERY_PORT',
    label: 'read tasks',
    color: 32,
  },
  {
    name: 'notifier',
    dir: 'notifier',
    portVariable: 'NOTIFIER_PORT',
    label: 'live board and Socket.IO',
    color: 34,
  },
  {
    name: 'archiver',
    dir: 'archiver',
    portVariable: 'ARCHIVER_PORT',
    label: 'moves old log entries to ARCHIVE_DIR',
    color: 90,
    when: (env) => Boolean(env.ARCHIVE_AFTER),
  },
];

const color = (code: number, text: string) =>
  process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text;
const say = (line: string) => process.stdout.write(`${color(1, '[tasksync]')} ${line}\n`);

const prefixLines = (prefix: string, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream) => {
  let rest = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) out.write(`${prefix} ${line}\n`);
  });
  stream.on('end', () => rest && out.write(`${prefix} ${rest}\n`));
};

/** A redis-server left running by a supervisor that was killed: stop it before reusing its data. */

/**
 * A redis-server left running by a supervisor that was killed holds this data
 * directory: stop it before reusing the data, or refuse to start when the
 * process cannot be identified (two writers on one AOF would corrupt it).
 */
const stopOrphanRedis = async (pidFile: string) => {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!pid || !isAlive(pid)) return;
  let command = '';
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    throw new ConfigError(
      `${pidFile} names process ${pid}, which is running; stop it if it is redis-server, or delete the file.`,
    );
  }
  if (!command.includes('redis-server')) return;
  process.kill(pid, 'SIGTERM');
  say(`stopped a redis-server (pid ${pid}) left running on this data directory`);
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
};

const main = async () => {
  loadDotEnv();
  const config = parseConfig({
    ...commonEnv,
    ...ports,
    REDIS_URL: z.string().min(1).optional(),
    JWT_SECRET: z.string().optional(),
    EMBEDDED_REDIS_PORT: z.coerce.number().int().min(0).max(65_535).default(6379),
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: config.NODE_ENV,
    DATA_DIR: config.DATA_DIR,
  };
  // One secret for every service; in development it is kept in the data directory.
  env.JWT_SECRET = resolveJwtSecret(config).secret;

  let redis: RedisServerHandle | undefined;
  if (!config.REDIS_URL) {
    const binary = findRedisServer() ?? (installRedisServer(say) ? findRedisServer() : undefined);
    if (!binary) {
      say(REDIS_INSTALL_HINT);
      process.exit(1);
    }
    const dir = join(config.DATA_DIR, 'redis');
    const pidFile = join(dir, 'redis.pid');
    await stopOrphanRedis(pidFile);
    let port = config.EMBEDDED_REDIS_PORT;
    if (port === 0 || !(await isPortFree(port))) {
      const wanted = port;
      port = await freePort();
      if (wanted) say(`port ${wanted} is taken: the embedded Redis uses ${port}`);
    }
    redis = await startRedisServer({
      binary,
      port,
      dir,
      extraArgs: ['--pidfile', pidFile],
      // Ctrl-C must reach the services first; Redis is stopped last, by us.
      detached: true,
      onOutput: (line) => {
        // Only what needs attention; the overcommit advice is noise on a laptop.
        if (/# (Warning|WARNING)|error/i.test(line) && !line.includes('overcommit'))
          process.stdout.write(`${color(90, '[redis]')} ${line}\n`);
      },
    });
    env.REDIS_URL = redis.url;
    say(`embedded Redis on ${redis.url} (AOF on, data in ${dir})`);
  }

  const running = SERVICES.filter(
    (service) =>
      existsSync(join(repoRoot, service.dir, 'src/main.ts')) && (service.when?.(env) ?? true),
  );
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping …');
    const exits = [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 12_000).unref();
        }),
    );
    await Promise.all(exits);
    await redis?.stop();
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  for (const service of running) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(service.dir, 'src/main.ts')], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = color(service.color, `[${service.name}]`.padEnd(12));
    prefixLines(prefix, child.stdout!, process.stdout);
    prefixLines(prefix, child.stderr!, process.stderr);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`${service.name} exited (${signal ?? `code ${code}`}); stopping everything`);
      void stopAll(1);
    });
    children.set(service.name, child);
  }

  const urls = running.map((service) => ({
    service,
    url: `http://localhost:${config[service.portVariable]}`,
  }));
  const ready = await Promise.all(
    urls.map(({ service, url }) => waitUntilReady(url, children.get(service.name)!)),
  );
  if (stopping) return;
  if (!ready.every(Boolean)) {
    say('not every service became ready; see the logs above');
    return stopAll(1);
  }
  const door = urls.find(({ service }) => service.name === 'gateway');
  if (door) {
    say(`TaskSync is running on ${color(1, `${door.url}/`)}`);
    say(`  the live board ${door.url}/, the API reference ${door.url}/docs`);
  }
  say('Each service on its own port too:');
  for (const { service, url } of urls)
    if (service !== door?.service) say(`  ${service.dir.padEnd(17)} ${url}  (${service.label})`);
  say(
    '  OpenAPI documents at <service URL>/openapi.json, all of them merged at /openapi.json of the door',
  );
  if (config.NODE_ENV !== 'production') {
    const email = process.env.ADMIN_EMAIL || 'admin@example.com';
    say(`  admin: ${email} / ${process.env.ADMIN_PASSWORD ? '(your ADMIN_PASSWORD)' : 'admin123'}`);
  }
  say('Press Ctrl-C to stop.');
};

void runMain(main);
