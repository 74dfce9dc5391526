import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonEnv, jwtEnv, readModelEnv, repoRoot, resolveJwtSecret } from '@tasksync/platform';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadArchiverConfig } from '../archiver/src/config';
import { loadCommandConfig } from '../command-service/src/config';
import { loadIdentityConfig } from '../identity-service/src/config';
import { loadNotifierConfig } from '../notifier/src/config';
import { loadProjectorConfig } from '../projector/src/config';
import { loadQueryConfig } from '../query-service/src/config';

// The deployment files are checked by their structure: no Docker engine runs here.

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
  restart?: string;
}

interface ComposeFile {
  version?: unknown;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');
const composeText = read('docker-compose.yml');
// Merge keys (`<<: *app`) are how the file shares settings between services.
const compose = parse(composeText, { merge: true }) as ComposeFile;
const { services } = compose;
const service = (name: string): ComposeService => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};

/** Each app service, the workspace it runs and the port it listens on inside its container. */
const appServices = {
  'identity-service': { workspace: 'identity-service', port: 3003, host: 3003 },
  'command-service': { workspace: 'command-service', port: 3002, host: 3002 },
  projector: { workspace: 'projector', port: 3005, host: 3005 },
  archiver: { workspace: 'archiver', port: 3006, host: 3006 },
  'query-service': { workspace: 'query-service', port: 3004, host: 3004 },
  'notifier-1': { workspace: 'notifier', port: 3001, host: 3001 },
  'notifier-2': { workspace: 'notifier', port: 3001, host: 3011 },
} as const;
const appNames = Object.keys(appServices) as (keyof typeof appServices)[];
/** The services the door routes to; the projector and the archiver serve only health, readiness and metrics. */
const doorRouted = appNames.filter((name) => name !== 'projector' && name !== 'archiver');
/** The services that verify tokens: those the door routes to. */
const tokenCheckers = doorRouted;
/** The services that read the logs, and so the archive (design §11). */
const logReaders = appNames.filter((name) => name !== 'archiver');

/** Where each workspace's configuration schema is written (command-service keeps it in main). */
const configSource = {
  'identity-service': 'identity-service/src/config.ts',
  'command-service': 'command-service/src/config.ts',
  projector: 'projector/src/config.ts',
  archiver: 'archiver/src/config.ts',
  'query-service': 'query-service/src/config.ts',
  notifier: 'notifier/src/config.ts',
} as const;

/** The variable names a workspace's config schema reads: its own keys plus the shared shapes it spreads. */
const configNames = (workspace: keyof typeof configSource) => {
  const source = read(configSource[workspace]);
  const names = new Set(
    [...source.matchAll(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\s*:/g)].map((m) => m[1]),
  );
  if (source.includes('...commonEnv')) for (const name of Object.keys(commonEnv)) names.add(name);
  if (source.includes('...jwtEnv')) for (const name of Object.keys(jwtEnv)) names.add(name);
  if (source.includes('...readModelEnv'))
    for (const name of Object.keys(readModelEnv)) names.add(name);
  return names;
};

/** Compose's interpolation of `${NAME}`, `${NAME:-default}` and `${NAME:?error}`. */
const interpolate = (value: string, env: Record<string, string>) =>
  value.replace(
    /\$\{(\w+)(?::([?-])([^}]*))?\}/g,
    (_match, name: string, operator?: string, argument?: string) => {
      const given = env[name];
      if (operator === '?') {
        if (!given) throw new Error(`${name}: ${argument}`);
        return given;
      }
      if (operator === '-') return given || (argument ?? '');
      return given ?? '';
    },
  );

const environmentOf = (name: string, env: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(service(name).environment ?? {}).map(([key, value]) => [
      key,
      interpolate(String(value ?? ''), env),
    ]),
  );

const secrets = {
  JWT_SECRET: 'a-test-secret-that-is-well-over-32-bytes-long',
  ADMIN_PASSWORD: 'a-test-admin-password',
};

describe('docker-compose.yml', () => {
  it('uses the Compose Specification (no version key)', () => {
    expect(compose.version).toBeUndefined();
  });

  it('runs Redis, every service (two notifiers among them) and the nginx door, which alone publishes a port', () => {
    expect(Object.keys(services).sort()).toEqual(['door', 'redis', ...appNames].sort());
    for (const name of ['redis', ...appNames]) expect(service(name).ports, name).toBeUndefined();
    expect(service('door').ports).toEqual(['3000:3000']);
  });

  it('builds the door from the Dockerfile’s nginx stage, after the services it routes to are healthy', () => {
    expect(service('door').build).toEqual({ context: '.', target: 'door' });
    const routed = [
      'identity-service',
      'command-service',
      'query-service',
      'notifier-1',
      'notifier-2',
    ];
    expect(Object.keys(service('door').depends_on ?? {}).sort()).toEqual(routed.sort());
    for (const name of routed)
      expect(service('door').depends_on?.[name], name).toEqual({ condition: 'service_healthy' });
    expect(service('door').healthcheck?.test).toEqual([
      'CMD',
      'wget',
      '-qO-',
      'http://127.0.0.1:3000/health',
    ]);
    // Its configuration names the services by their compose names and ports.
    const conf = read('gateway/nginx/tasksync.conf');
    for (const name of doorRouted) {
      expect(conf, name).toContain(`server ${name}:${appServices[name].port};`);
    }
    expect(conf).toContain('listen 3000;');
    const stages = read('Dockerfile');
    expect(stages).toMatch(/^FROM nginx:[\w.-]+ AS door$/m);
    expect(stages).toContain('COPY gateway/nginx/tasksync.conf /etc/nginx/conf.d/default.conf');
  });

  it('builds every app service from the one Dockerfile and starts its workspace', () => {
    for (const name of appNames) {
      expect(service(name).build, name).toBe('.');
      expect(service(name).command, name).toEqual([
        'npm',
        'run',
        'start',
        '-w',
        `@tasksync/${appServices[name].workspace}`,
      ]);
    }
  });

  it('gives every service a health check and a restart policy', () => {
    expect(service('redis').healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    for (const name of appNames) {
      const test = service(name).healthcheck?.test ?? [];
      // The image has no curl: node itself asks /ready on the port the service listens on.
      expect(test.slice(0, 3), name).toEqual(['CMD', 'node', '-e']);
      expect(test[3], name).toContain(`fetch('http://127.0.0.1:${appServices[name].port}/ready')`);
      expect(test[3], name).toMatch(/process\.exit\(r\.ok\?0:1\)/);
    }
    for (const [name, { restart }] of Object.entries(services)) {
      expect(restart, name).toBe('unless-stopped');
    }
  });

  it('starts each app service only once Redis is healthy, the query-service after the projector', () => {
    for (const name of appNames) {
      expect(service(name).depends_on?.redis, name).toEqual({ condition: 'service_healthy' });
    }
    expect(service('query-service').depends_on?.projector).toEqual({
      condition: 'service_healthy',
    });
  });

  it('runs Redis with AOF on a named volume', () => {
    const command = (service('redis').command ?? []).join(' ');
    expect(service('redis').image).toBe('redis:7-alpine');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--appendfsync everysec');
    const [volume, path] = (service('redis').volumes?.[0] ?? '').split(':');
    expect(path).toBe('/data');
    expect(compose.volumes).toHaveProperty(volume ?? '');
  });

  it('shares the read-model volume between the projector and the query-service', () => {
    expect(compose.volumes).toHaveProperty('read-model');
    for (const name of ['projector', 'query-service']) {
      expect(service(name).volumes, name).toEqual([
        'read-model:/data/read-model',
        'archive:/data/archive:ro',
      ]);
      const path = environmentOf(name, secrets).READ_MODEL_PATH ?? '';
      expect(path.startsWith('/data/read-model/'), `${name} READ_MODEL_PATH ${path}`).toBe(true);
    }
    expect(environmentOf('projector', secrets).READ_MODEL_PATH).toBe(
      environmentOf('query-service', secrets).READ_MODEL_PATH,
    );
  });

  it('mounts the archive volume writable into the archiver alone, read-only into every service that reads the logs', () => {
    expect(compose.volumes).toHaveProperty('archive');
    expect(service('archiver').volumes).toEqual(['archive:/data/archive']);
    expect(environmentOf('archiver', secrets).ARCHIVE_DIR).toBe('/data/archive');
    for (const name of logReaders) {
      expect(service(name).volumes, name).toContain('archive:/data/archive:ro');
    }
    // Off unless ARCHIVE_AFTER is given to compose.
    expect(loadArchiverConfig(environmentOf('archiver', secrets)).ARCHIVE_AFTER).toBeUndefined();
    expect(
      loadArchiverConfig(environmentOf('archiver', { ...secrets, ARCHIVE_AFTER: '30d' }))
        .ARCHIVE_AFTER,
    ).toBe(30 * 86_400_000);
  });

  it('runs both notifiers alike', () => {
    expect(service('notifier-1').environment).toEqual(service('notifier-2').environment);
  });

  it('gives every app service production settings and Redis by its service name', () => {
    for (const name of appNames) {
      const env = environmentOf(name, secrets);
      expect(env.NODE_ENV, name).toBe('production');
      expect(env.REDIS_URL, name).toBe('redis://redis:6379');
    }
  });

  it('requires JWT_SECRET and ADMIN_PASSWORD and writes no secret value', () => {
    for (const name of tokenCheckers) {
      expect(String(service(name).environment?.JWT_SECRET), name).toMatch(/^\$\{JWT_SECRET:\?/);
    }
    // The projector checks no token: it is given no secret at all.
    for (const name of ['projector', 'archiver']) {
      expect(service(name).environment?.JWT_SECRET, name).toBeUndefined();
      expect(() => environmentOf(name, {}), name).not.toThrow();
    }
    expect(String(service('identity-service').environment?.ADMIN_PASSWORD)).toMatch(
      /^\$\{ADMIN_PASSWORD:\?/,
    );
    // Compose refuses to start without them.
    expect(() => environmentOf('command-service', {})).toThrow(/JWT_SECRET/);
    expect(() => environmentOf('identity-service', { JWT_SECRET: secrets.JWT_SECRET })).toThrow(
      /ADMIN_PASSWORD/,
    );
    // Anything secret-like comes from the environment of `docker compose`, never a literal.
    for (const [name, { environment = {} }] of Object.entries(services)) {
      for (const [key, value] of Object.entries(environment)) {
        if (/SECRET|PASSWORD|TOKEN|API_KEY/.test(key)) {
          expect(String(value), `${name} ${key}`).toMatch(new RegExp(`^\\$\\{${key}:\\?[^}]*\\}$`));
        }
      }
    }
    expect(composeText).not.toContain('admin123');
  });

  it('gives each service only variables its own config reads', () => {
    for (const name of appNames) {
      const known = configNames(appServices[name].workspace);
      const given = Object.keys(service(name).environment ?? {});
      expect(
        given.filter((key) => !known.has(key)),
        `${name} is given variables its config does not read`,
      ).toEqual([]);
    }
    // The regex finds the names a service reads, not only the shared ones.
    expect(configNames('identity-service')).toContain('ADMIN_PASSWORD');
    expect(configNames('command-service')).toContain('COMMAND_PORT');
    expect(configNames('notifier')).toContain('NOTIFIER_MAX_REPLAY');
    expect(configNames('command-service')).not.toContain('READ_MODEL_PATH');
  });

  it('gives each service an environment its config accepts in production', () => {
    const accepted = {
      'identity-service': (env: NodeJS.ProcessEnv) => loadIdentityConfig(env),
      'command-service': (env: NodeJS.ProcessEnv) => loadCommandConfig(env),
      projector: (env: NodeJS.ProcessEnv) => loadProjectorConfig(env),
      archiver: (env: NodeJS.ProcessEnv) => loadArchiverConfig(env),
      'query-service': (env: NodeJS.ProcessEnv) => loadQueryConfig(env),
      'notifier-1': (env: NodeJS.ProcessEnv) => loadNotifierConfig(env),
      'notifier-2': (env: NodeJS.ProcessEnv) => loadNotifierConfig(env),
    };
    for (const name of appNames) {
      const config = accepted[name](environmentOf(name, secrets));
      expect(config.NODE_ENV, name).toBe('production');
      // Production refuses a missing or short JWT secret (platform resolveJwtSecret).
      if ('JWT_TTL_SECONDS' in config) {
        expect(resolveJwtSecret(config).secret, name).toBe(secrets.JWT_SECRET);
      }
    }
    expect(configNames('projector')).not.toContain('JWT_SECRET');
    expect(loadIdentityConfig(environmentOf('identity-service', secrets)).admin.password).toBe(
      secrets.ADMIN_PASSWORD,
    );
  });
});

/** The Dockerfile's instructions, continuation lines joined, comments dropped, split per stage. */
const dockerfileStages = () => {
  const instructions = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: string[][] = [];
  for (const line of instructions) {
    if (/^FROM\s/i.test(line)) stages.push([]);
    stages.at(-1)?.push(line);
  }
  return stages;
};

describe('Dockerfile', () => {
  const stages = dockerfileStages();
  const final = stages.at(-1) ?? [];
  const all = stages.flat();

  it('builds on Node 20 bookworm-slim in more than one stage', () => {
    expect(stages.length).toBeGreaterThan(1);
    const text = read('Dockerfile');
    expect(text).toMatch(/^ARG NODE_VERSION=20(\.\d+)*$/m);
    const bases = all.filter((line) => /^FROM node:/.test(line));
    expect(bases).toHaveLength(1);
    expect(bases[0]).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim AS base$/);
  });

  it('installs production dependencies from the lockfile, with build tools for better-sqlite3', () => {
    const install = all.find((line) => /\bnpm ci\b/.test(line));
    expect(install).toMatch(/npm ci --omit=dev/);
    const tools = all.find((line) => /apt-get install/.test(line)) ?? '';
    for (const tool of ['python3', 'make', 'g++']) expect(tools).toContain(tool);
    // The build tools stay in the build stage.
    expect(final.some((line) => /apt-get install/.test(line))).toBe(false);
    // The services start with `node --import tsx`, so tsx must survive --omit=dev.
    const rootPackage = JSON.parse(read('package.json')) as {
      dependencies?: Record<string, string>;
    };
    expect(rootPackage.dependencies).toHaveProperty('tsx');
  });

  it('runs as a non-root user with NODE_ENV=production in the final stage', () => {
    const users = final.filter((line) => /^USER\s/i.test(line));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER\s+(root|0)(:|\s|$)/i);
    expect(final.some((line) => /^ENV\s.*\bNODE_ENV=production\b/.test(line))).toBe(true);
  });

  it('leaves health checks to compose', () => {
    expect(all.some((line) => /^HEALTHCHECK\s/i.test(line))).toBe(false);
  });

  it('keeps local state, secrets and the host node_modules out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const entry of [
      '**/node_modules',
      '**/data',
      'test-artifacts',
      '.git',
      'bench/results',
      'coverage',
      '.env',
    ]) {
      expect(ignored).toContain(entry);
    }
  });
});
