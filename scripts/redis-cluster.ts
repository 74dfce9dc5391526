import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type RedisServerHandle, startRedisServer } from './redis-server';

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** Comma-separated `host:port` seeds, as REDIS_URL takes them with REDIS_CLUSTER=1. */
  seeds: string;
  nodes: RedisServerHandle[];
  stop(): Promise<void>;
}

const clusterInfo = async (cli: string, port: number) =>
  (await run(cli, ['-p', String(port), 'cluster', 'info'])).stdout;

/**
 * A local Redis Cluster of `masters` masters and no replicas: one
 * `redis-server --cluster-enabled yes` per free port, joined with
 * `redis-cli --cluster create`, ready once every node reports `cluster_state:ok`
 * and knows every other.
 */
export const startRedisCluster = async (options: {
  binary: string;
  masters?: number;
  dir?: string;
}): Promise<RedisClusterHandle> => {
  const masters = options.masters ?? 3;
  const cli = join(dirname(options.binary), 'redis-cli');
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const nodes: RedisServerHandle[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir, { recursive: true });
      nodes.push(
        await startRedisServer({
          binary: options.binary,
          port,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(nodeDir, 'nodes.conf'),
            // The bus port would default to port + 10000, past 65535 for a high free port.
            '--cluster-port',
            String(await freePort()),
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run(cli, [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      for (;;) {
        const info = await clusterInfo(cli, node.port);
        if (info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${masters}`))
          break;
        if (Date.now() > deadline)
          throw new Error(`Redis Cluster node ${node.port} not ready:\n${info}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return { seeds: addresses.join(','), nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};

/**
 * `npm run redis-cluster`: a throwaway three-master cluster on free ports for
 * trying cluster mode locally (its data is not kept); Ctrl-C stops it.
 */
const runAlone = async () => {
  const { findRedisServer, REDIS_INSTALL_HINT } = await import('./redis-server');
  const binary = findRedisServer();
  if (!binary) {
    console.error(REDIS_INSTALL_HINT);
    process.exit(1);
  }
  const cluster = await startRedisCluster({ binary, masters: 3 });
  console.log(`Redis Cluster of 3 masters on ${cluster.seeds} (data not kept; Ctrl-C stops it)`);
  console.log(
    `Run TaskSync on it: REDIS_CLUSTER=1 REDIS_URL=${cluster.seeds} EVENT_PARTITIONS=4 npm start`,
  );
  const stop = () => void cluster.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void runAlone();
