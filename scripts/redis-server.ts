import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** Finds `redis-server` on PATH or where Debian and Homebrew put it. */
export const findRedisServer = (): string | undefined => {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/bin',
    '/usr/sbin',
    '/usr/local/bin',
    '/opt/homebrew/bin',
  ];
  return dirs.map((dir) => join(dir, 'redis-server')).find((file) => existsSync(file));
};

/** Installs redis-server with apt-get when running as root on Debian/Ubuntu; returns whether it worked. */
export const installRedisServer = (log: (line: string) => void): boolean => {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) return false;
  log('redis-server not found: installing it with apt-get (root) …');
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    return false;
  }
  return findRedisServer() !== undefined;
};

export const REDIS_INSTALL_HINT =
  'redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; ' +
  'macOS: brew install redis) or point REDIS_URL at a running Redis ≥ 7.';

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

export const isPortFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

const pingOnce = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });

export const waitForRedis = async (port: number, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pingOnce(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
};

export interface RedisServerHandle {
  port: number;
  url: string;
  process: ChildProcess;
  /** SIGTERM (Redis writes its AOF/RDB and exits), then wait for the exit. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  binary: string;
  port: number;
  /** Data directory; without it Redis keeps nothing on disk. */
  dir?: string;
  appendfsync?: 'always' | 'everysec' | 'no';
  extraArgs?: string[];
  /** Own process group: a terminal's Ctrl-C then reaches only whoever started it. */
  detached?: boolean;
  onOutput?: (line: string) => void;
}

/** Starts a private redis-server bound to loopback and waits until it answers. */
export const startRedisServer = async (options: RedisServerOptions): Promise<RedisServerHandle> => {
  const persistence = options.dir
    ? [
        '--dir',
        options.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        options.appendfsync ?? 'everysec',
      ]
    : ['--save', '', '--appendonly', 'no'];
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  const child = spawn(
    options.binary,
    [
      '--port',
      String(options.port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'yes',
      '--daemonize',
      'no',
      ...persistence,
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false },
  );
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) options.onOutput?.(line);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForRedis(options.port),
      exited.then(() => {
        throw new Error(`redis-server exited at start (port ${options.port} taken?)`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port: options.port,
    url: `redis://127.0.0.1:${options.port}`,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
};
