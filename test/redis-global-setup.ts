import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { findRedisServer, freePort, startRedisServer } from '../scripts/redis-server';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** Set by the cluster projects: `redisUrl` is then a list of cluster seeds. */
    redisCluster: boolean;
  }
}

const dockerAnswers = () => {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
};

/**
 * The test run's Redis: REDIS_URL when given, else a private redis-server on a
 * free port, else (no redis-server, but a Docker engine) testcontainers' Redis.
 * Tests isolate themselves with their own key prefix.
 */
export default async function setup(project: TestProject) {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return;
  }
  const binary = findRedisServer();
  if (binary) {
    const server = await startRedisServer({ binary, port: await freePort() });
    project.provide('redisUrl', server.url);
    return () => server.stop();
  }
  if (dockerAnswers()) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').start();
    project.provide('redisUrl', container.getConnectionUrl());
    return async () => {
      await container.stop();
    };
  }
  throw new Error(
    'Tests need Redis: install redis-server (apt-get install -y redis-server), run a Docker engine, or set REDIS_URL.',
  );
}
