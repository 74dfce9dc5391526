/**
 * The front doors for the bench (design §12): the Node gateway and Debian's
 * nginx with the configuration generated from the routing table, both in front
 * of the services the bench runs, rate limits off (one token writes thousands
 * a second here). Rows through a door run interleaved with the same requests
 * straight to the service, so their ratio is the door's cost.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nginxConfig } from '../gateway/src/nginx';
import type { Upstream } from '../gateway/src/routes';
import { writeDoorStatic } from '../scripts/door-files';
import { type RunningProcess, runTs } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));
/** Where a door sends what the bench does not run. */
const NOWHERE = 'http://127.0.0.1:9';

export interface Doors {
  node: string;
  /** A bare Node proxy to the one service the bench gave (bench/bare-proxy.ts): the floor. */
  bare: string;
  /** Undefined where nginx is not installed. */
  nginx: string | undefined;
  stop(): Promise<void>;
}

const answering = async (url: string, what: string) => {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}/health`).catch(() => undefined))?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not answer on ${url}`);
};

/**
 * Starts the doors in front of `upstreams` (what the bench does not run goes
 * nowhere); the bare Node proxy sends everything to the `measured` service.
 */
export const startDoors = async (
  env: NodeJS.ProcessEnv,
  upstreams: Partial<Record<Upstream, string>>,
  measured: Upstream,
): Promise<Doors> => {
  const url = (service: Upstream) => upstreams[service] ?? NOWHERE;
  const nodePort = await freePort();
  const gateway: RunningProcess = runTs('gateway/src/main.ts', {
    ...env,
    // Not production: RATE_LIMITS=off is refused there. Not development: no pretty logs.
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    GATEWAY_PORT: String(nodePort),
    RATE_LIMITS: 'off',
    IDENTITY_URL: url('identity'),
    COMMAND_URL: url('command'),
    QUERY_URL: url('query'),
    NOTIFIER_URL: url('notifier'),
  });
  const node = `http://127.0.0.1:${nodePort}`;
  await answering(node, 'the Node door');
  const barePort = await freePort();
  const bareProxy = runTs('bench/bare-proxy.ts', env, [String(barePort), url(measured)]);
  await bareProxy.waitForOutput(/^listening$/m);
  const bare = `http://127.0.0.1:${barePort}`;

  let nginx: ChildProcess | undefined;
  let nginxUrl: string | undefined;
  if (NGINX) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
    writeDoorStatic(join(dir, 'static'));
    const port = await freePort();
    const hostPort = (service: Upstream) => [new URL(url(service)).host];
    writeFileSync(
      join(dir, 'tasksync.conf'),
      nginxConfig({
        listen: `127.0.0.1:${port}`,
        upstreams: {
          identity: hostPort('identity'),
          command: hostPort('command'),
          query: hostPort('query'),
          notifier: hostPort('notifier'),
        },
        staticRoot: join(dir, 'static'),
        rates: undefined,
        timeoutSeconds: 30,
      }),
    );
    // One worker, as the Node door is one process: the same share of the 2 cores.
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log stderr error;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n  include ${dir}/tasksync.conf;\n}\n`,
    );
    execFileSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'pipe' });
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
      stdio: 'ignore',
    });
    nginxUrl = `http://127.0.0.1:${port}`;
    await answering(nginxUrl, 'nginx');
  }
  return {
    node,
    bare,
    nginx: nginxUrl,
    stop: async () => {
      nginx?.kill('SIGQUIT');
      await bareProxy.stop('SIGTERM');
      await gateway.stop('SIGTERM');
    },
  };
};

/** The doors rows go through, in the order they are measured. */
export const DOOR_NAMES = ['the Node door', 'a bare Node proxy', 'nginx'] as const;

/** The doors a row goes through, by name. */
export const doorsOf = (doors: Doors): [string, string][] =>
  [doors.node, doors.bare, doors.nginx].flatMap((url, i) =>
    url === undefined ? [] : [[DOOR_NAMES[i]!, url] as [string, string]],
  );
