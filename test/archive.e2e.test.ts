import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEntryIds, formatPosition } from '@tasksync/contracts';
import {
  archivedThrough,
  createDirectoryArchive,
  createLogReader,
  type RawEntry,
  readIndexIds,
  readLastEntryId,
  readLog,
  readRevisionCount,
} from '@tasksync/platform';
import { openReadModelReadOnly } from '@tasksync/platform/read-model';
import { io as connectClient } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpReadModel, type ReadModelDump } from '../projector/src/rebuild';
import { type RunningProcess, runTs } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';
import {
  client,
  connectTestRedis,
  type JsonAnswer,
  minPositionHeader,
  startWholeSystem,
  testProcesses,
  waitFor,
} from './support';

/*
 * Issue 14, "Archive": with a tiny window (ARCHIVE_AFTER=1ms) the archiver
 * moves every log entry to segments and trims the logs, but for the last few
 * of each task log, which a consumer group holds back; afterwards
 * every reader answers exactly as before: the task reads, history and `asOf`
 * of the query-service, the notifier's `since` from position 0, `replay` and
 * `replay --verify`, a projector started on a new read model, an update of a
 * task whose creation was archived, and a login of a user whose registration
 * was.
 */

const redis = connectTestRedis();
const processes = testProcesses();
/** The services startWholeSystem started, by entry point: restarted after the archiving. */
const services = new Map<string, { process: RunningProcess; url: string }>();
const recording: ReturnType<typeof testProcesses> = {
  ...processes,
  start: async (entry, env, url) => {
    const started = await processes.start(entry, env, url);
    services.set(entry, { process: started, url });
    return started;
  },
};
afterAll(async () => {
  await processes.stopAll('SIGTERM');
  await redis.quit();
});

const PASSWORD = 'a-long-password';
/** Entries of each task log kept from the archive (by an unacknowledging group). */
const HELD_BACK = 3;
const ADMIN = { email: 'admin@example.com', password: 'admin123' };

type System = Awaited<ReturnType<typeof startWholeSystem>>;

/** A socket's messages from connecting with `since` at position 0 of every log until `live`. */
interface SinceReplay {
  messages: [string, unknown][];
  live: unknown;
}

/** Everything a client can read of the data: compared before and after the archiving. */
interface Observed {
  tasks: Record<string, unknown>;
  histories: Record<string, unknown[]>;
  asOf: Record<string, unknown[]>;
  projects: unknown;
  members: unknown;
  users: unknown;
  bobsList: unknown;
}

/** An answer as compared: a success's body and ETag; of a problem, only its status and type. */
const shown = (answer: JsonAnswer) =>
  answer.status < 300
    ? { status: answer.status, etag: answer.headers.get('etag'), body: answer.body }
    : { status: answer.status, type: answer.body?.type };

describe('the archive: most of every log moved to segments and trimmed (design §11, issue 14)', () => {
  let system: System;
  let archiveDir: string;
  const api = () => client(system.urls.door);
  const users: Record<'admin' | 'alice' | 'bob', { id: string; email: string; token: string }> =
    {} as never;
  const loginAnswers = new Map<string, unknown>();
  const taskIds: string[] = [];
  const projectIds: string[] = [];
  let deletedTask = '';
  let readHeaders: Record<string, string> = {};
  let before: {
    observed: Observed;
    since: { admin: SinceReplay; bob: SinceReplay };
    verifiedEvents: number;
    replayDump: ReadModelDump;
    liveDump: ReadModelDump;
    logs: Map<string, RawEntry[]>;
    logLength: number;
  };
  let logLengthAfter = 0;
  let archivedEntries = 0;

  const logs = () => system.keys.logs();
  const taskLogName = (taskId: string) => `t${system.keys.partitionOf(taskId)}`;

  /** Sends a write and expects this status; answers its body. */
  const write = async (
    method: string,
    path: string,
    token: string,
    status: number,
    body?: unknown,
    headers?: Record<string, string>,
  ) => {
    const answer = await api().request(method, path, {
      token,
      ...(body === undefined ? {} : { body }),
      ...(headers ? { headers } : {}),
    });
    expect(answer.status, `${method} ${path}: ${answer.text}`).toBe(status);
    return answer.body;
  };

  const login = async (email: string, password = PASSWORD) => {
    const answer = await api().post('/auth/login', { email, password });
    expect(answer.status, answer.text).toBe(200);
    return answer.body as { token: string; user: { id: string } };
  };

  const register = async (name: string) => {
    const email = `${name}-${randomBytes(4).toString('hex')}@example.com`;
    await write('POST', '/auth/register', '', 201, { email, password: PASSWORD, name });
    const { token, user } = await login(email);
    loginAnswers.set(email, user);
    return { id: user.id, email, token };
  };

  /** Every consumer group of every log has been delivered the log's last entry and acked all. */
  const everyGroupAcknowledged = async () => {
    for (const log of logs()) {
      const head = await readLastEntryId(redis, log.key);
      if (!head) continue;
      const groups = (await redis.xinfo('GROUPS', log.key)) as (string | number)[][];
      if (groups.length === 0) return undefined;
      for (const flat of groups) {
        const field = (name: string) => flat[flat.indexOf(name) + 1];
        if (Number(field('pending')) !== 0 || String(field('last-delivered-id')) !== head)
          return undefined;
      }
    }
    return true;
  };

  const newestPerLog = async () => {
    const newest = new Map<string, string>();
    for (const log of logs()) {
      const last = await readLastEntryId(redis, log.key);
      if (last) newest.set(log.name, last);
    }
    return newest;
  };

  const observe = async (): Promise<Observed> => {
    const read = (path: string, token = users.admin.token) =>
      api().get(path, { token, headers: readHeaders });
    const observed: Observed = {
      tasks: {},
      histories: {},
      asOf: {},
      projects: shown(await read('/projects')),
      members: null,
      users: shown(await read('/users')),
      bobsList: shown(await read('/tasks', users.bob.token)),
    };
    observed.members = await Promise.all(
      projectIds.map(async (id) => shown(await read(`/projects/${id}/members`))),
    );
    for (const id of taskIds) {
      observed.tasks[id] = shown(await read(`/tasks/${id}`));
      const pages: unknown[] = [];
      let cursor: string | null | undefined;
      do {
        const page = await read(`/tasks/${id}/history?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        pages.push(shown(page));
        cursor = page.status === 200 ? page.body.nextCursor : null;
      } while (cursor);
      observed.histories[id] = pages;
      // Every event's position, from the task's index (which the archiver leaves alone).
      const asOf: unknown[] = [];
      for (const entryId of await readIndexIds(redis, system.keys.taskStream(id))) {
        const position = encodeURIComponent(formatPosition(taskLogName(id), entryId));
        asOf.push(shown(await read(`/tasks/${id}?asOf=${position}`)));
      }
      observed.asOf[id] = asOf;
    }
    return observed;
  };

  /** Connects with `since` at position 0 of every log and keeps every message until `live`. */
  const sinceFromZero = (token: string) =>
    new Promise<SinceReplay>((resolve, reject) => {
      const since = logs()
        .map((log) => formatPosition(log.name, '0-0'))
        .join(',');
      const socket = connectClient(system.urls.door, {
        transports: ['websocket'],
        reconnection: false,
        auth: { token, since },
      });
      const messages: [string, unknown][] = [];
      const timer = setTimeout(() => {
        socket.disconnect();
        reject(new Error(`no live after ${JSON.stringify(messages.slice(-3))}`));
      }, 20_000);
      socket.onAny((name: string, payload: unknown) => {
        if (name !== 'live') return messages.push([name, payload]);
        clearTimeout(timer);
        socket.disconnect();
        resolve({ messages, live: payload });
      });
      socket.on('connect_error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });

  const replay = async (args: string[]) => {
    const run = processes.track(runTs('projector/src/replay.ts', system.env, args));
    const code = await run.exited;
    return { code, output: run.output() };
  };

  /** `replay --verify`: exit 0, the equality line, and how many events it rebuilt. */
  const verify = async () => {
    const { code, output } = await replay(['--verify']);
    expect(code, output).toBe(0);
    expect(output).toContain('replay --verify: the live model equals the rebuilt one.');
    return Number(/replay: (\d+) events into/.exec(output)?.[1]);
  };

  const dumpOf = (path: string) => {
    const db = openReadModelReadOnly(path);
    try {
      return dumpReadModel(db);
    } finally {
      db.close();
    }
  };

  const replayedDump = async (name: string) => {
    const out = join(system.dir, `${name}.sqlite`);
    const { code, output } = await replay(['--out', out]);
    expect(code, output).toBe(0);
    return dumpOf(out);
  };

  /** Every log read from position 0 as readers read it (the archive, then Redis). */
  const everyLog = async () => {
    const reader = createLogReader({
      redis,
      keys: system.keys,
      archive: createDirectoryArchive(archiveDir, system.env.REDIS_PREFIX!),
    });
    const read = new Map<string, RawEntry[]>();
    for (const log of logs()) {
      const entries: RawEntry[] = [];
      for (;;) {
        const page = await reader.readLogRange(log.key, entries.at(-1)?.[0] ?? '0', 50);
        entries.push(...page);
        if (page.length < 50) break;
      }
      read.set(log.name, entries);
    }
    return read;
  };

  const logLength = async () => {
    let total = 0;
    for (const log of logs()) total += await redis.xlen(log.key);
    return total;
  };

  const restart = async (entry: string) => {
    const running = services.get(entry)!;
    expect(await running.process.stop('SIGTERM'), running.process.output()).toBe(0);
    await recording.start(entry, system.env, running.url);
  };

  beforeAll(async () => {
    archiveDir = mkdtempSync(join(tmpdir(), 'archive-e2e-'));
    system = await startWholeSystem(redis, recording, {
      ARCHIVE_DIR: archiveDir,
      CACHE_TTL_SECONDS: '0',
    });

    // Given: users, two projects, and tasks with every kind of change.
    const admin = await login(ADMIN.email, ADMIN.password);
    loginAnswers.set(ADMIN.email, admin.user);
    users.admin = { id: admin.user.id, email: ADMIN.email, token: admin.token };
    users.alice = await register('alice');
    users.bob = await register('bob');
    const alice = users.alice.token;
    const project = (
      await write('POST', '/projects', alice, 201, { name: 'Archived', visibility: 'private' })
    ).id as string;
    await write('POST', `/projects/${project}/members`, alice, 200, {
      email: users.bob.email,
      role: 'editor',
    });
    const elsewhere = (
      await write('POST', '/projects', alice, 201, { name: 'Elsewhere', visibility: 'private' })
    ).id as string;
    projectIds.push(project, elsewhere);

    const revisions = new Map<string, number>();
    const change = async (id: string, body: unknown, token = alice) => {
      const answer = await write('PATCH', `/tasks/${id}`, token, 200, body, {
        'if-match': `"${revisions.get(id)}"`,
      });
      revisions.set(id, answer.revision);
    };
    for (let i = 0; i < 20; i++) {
      const created = await write('POST', '/tasks', alice, 201, {
        title: `Task ${i}`,
        priority: (['low', 'medium', 'high', 'urgent'] as const)[i % 4],
        labels: [`l${i % 3}`],
        ...(i % 2 === 0 ? { projectId: project } : {}),
        ...(i % 5 === 0 ? { assigneeId: users.bob.id } : {}),
      });
      taskIds.push(created.id);
      revisions.set(created.id, created.revision);
    }
    for (const [i, id] of taskIds.entries()) {
      await change(id, { title: `Task ${i}, renamed`, description: `About ${i}` });
      await change(id, { status: 'in-progress' });
      if (i % 3 === 0) await change(id, { status: 'completed' });
      if (i % 4 === 1) await change(id, { assigneeId: users.bob.id });
      if (i % 2 === 0) {
        const commented = await write('POST', `/tasks/${id}/comments`, users.bob.token, 201, {
          text: `Bob on ${i}`,
        });
        revisions.set(id, commented.revision);
      }
    }
    await change(taskIds[4]!, { projectId: elsewhere });
    // Bob leaves the project: the process manager unassigns him from its tasks
    // 0 and 10 (events of its own, acknowledged by its group).
    const unassigned = [taskIds[0]!, taskIds[10]!];
    const counts = await Promise.all(
      unassigned.map((id) => readRevisionCount(redis, system.keys.taskStream(id))),
    );
    await write('DELETE', `/projects/${project}/members/${users.bob.id}`, alice, 204);
    await waitFor(
      async () => {
        for (const [i, id] of unassigned.entries())
          if ((await readRevisionCount(redis, system.keys.taskStream(id))) !== counts[i]! + 1)
            return undefined;
        return true;
      },
      { timeoutMs: 20_000, message: 'the process manager to unassign Bob' },
    );
    deletedTask = taskIds[7]!;
    await write('DELETE', `/tasks/${deletedTask}`, alice, 204, undefined, {
      'if-match': `"${revisions.get(deletedTask)}"`,
    });

    // Every group (projector, process manager, …) has acked every entry, so none holds the archive back.
    await waitFor(everyGroupAcknowledged, {
      timeoutMs: 30_000,
      message: 'every consumer group to acknowledge every entry',
    });
    readHeaders = { ...minPositionHeader(await newestPerLog()), 'x-max-wait-ms': '10000' };

    // Before: what every reader answers.
    const logsBefore = new Map<string, RawEntry[]>();
    for (const log of logs()) logsBefore.set(log.name, await readLog(redis, log.key, '0', 100_000));
    before = {
      observed: await observe(),
      since: {
        admin: await sinceFromZero(users.admin.token),
        bob: await sinceFromZero(users.bob.token),
      },
      verifiedEvents: await verify(),
      replayDump: await replayedDump('before'),
      liveDump: dumpOf(system.readModelPath),
      logs: logsBefore,
      logLength: await logLength(),
    };

    // A group of the test's holds the last HELD_BACK entries of each task log
    // back, so those logs are read across the seam of archive and Redis; the
    // project and identity logs go to the archive whole.
    for (const log of logs().filter(({ name }) => name.startsWith('t'))) {
      const newest = (await redis.xrevrange(
        log.key,
        '+',
        '-',
        'COUNT',
        HELD_BACK + 1,
      )) as RawEntry[];
      await redis.xgroup('CREATE', log.key, 'held-back', newest.at(-1)![0]);
    }

    // When: one archiver pass over every log, ten entries a segment.
    const archiver = processes.track(
      runTs(
        'archiver/src/main.ts',
        {
          ...system.env,
          ARCHIVE_AFTER: '1ms',
          ARCHIVE_SEGMENT_ENTRIES: '10',
          ARCHIVER_PORT: String(await freePort()),
        },
        ['--once'],
      ),
    );
    expect(await archiver.exited, archiver.output()).toBe(0);
    logLengthAfter = await logLength();
    const store = createDirectoryArchive(archiveDir, system.env.REDIS_PREFIX!);
    for (const log of logs()) {
      const { segments } = await store.readManifest(log.name);
      archivedEntries += segments.reduce((sum, segment) => sum + segment.count, 0);
    }

    // Services keep what they read in memory: the command- and identity-service
    // their aggregates, the notifier who sees which project and which task is
    // where. Restarted, each reads what it needs anew, through the archive.
    for (const entry of [
      'identity-service/src/main.ts',
      'command-service/src/main.ts',
      'query-service/src/main.ts',
      'notifier/src/main.ts',
    ])
      await restart(entry);
  }, 300_000);

  it('moved most entries to segment files and trimmed them from Redis; the logs read as before', async () => {
    expect(before.logLength).toBeGreaterThan(80);
    expect(archivedEntries + logLengthAfter).toBe(before.logLength);
    const taskLogs = logs().filter(({ name }) => name.startsWith('t'));
    expect(logLengthAfter).toBe(HELD_BACK * taskLogs.length);
    // The project and identity logs are empty in Redis: readers find where they are all the same.
    expect(await redis.xlen(system.keys.projectLog)).toBe(0);
    expect(await redis.xlen(system.keys.identityLog)).toBe(0);
    expect(logLengthAfter).toBeLessThan(before.logLength / 4);
    const store = createDirectoryArchive(archiveDir, system.env.REDIS_PREFIX!);
    const segmentFiles = logs().flatMap((log) => {
      try {
        return readdirSync(join(archiveDir, system.env.REDIS_PREFIX!, log.name)).filter((file) =>
          file.endsWith('.seg'),
        );
      } catch {
        return [];
      }
    });
    let listed = 0;
    for (const log of logs()) listed += (await store.readManifest(log.name)).segments.length;
    expect(segmentFiles).toHaveLength(listed);
    expect(listed).toBeGreaterThan(logs().length);
    expect(await everyLog()).toEqual(before.logs);
  });

  it('answers every task, history page and asOf of every event as before', async () => {
    expect(Object.keys(before.observed.asOf)).toHaveLength(20);
    expect(before.observed.tasks[deletedTask]).toMatchObject({ status: 410 });
    expect(await observe()).toEqual(before.observed);
  });

  it('replays every log to a client connecting with since at position 0 as before', async () => {
    // An admin is sent every event of every log, once.
    const events = before.since.admin.messages.filter(([name]) => name === 'event');
    expect(events).toHaveLength(before.logLength);
    expect(before.since.bob.messages.some(([name]) => name === 'assigned')).toBe(true);
    expect(await sinceFromZero(users.admin.token)).toEqual(before.since.admin);
    expect(await sinceFromZero(users.bob.token)).toEqual(before.since.bob);
  });

  it('rebuilds the same read model with replay, and replay --verify agrees with the live one', async () => {
    expect(await verify()).toBe(before.verifiedEvents);
    expect(before.verifiedEvents).toBe(before.logLength);
    const after = await replayedDump('after');
    expect(after).toEqual(before.replayDump);
    expect(after).toEqual(before.liveDump);
    expect(dumpOf(system.readModelPath)).toEqual(before.liveDump);
  });

  it('catches a projector on a new, empty read model up from the archive to the same model', async () => {
    const port = await freePort();
    const group = 'after-archive';
    const path = join(system.dir, 'new-model.sqlite');
    const fresh = await processes.start(
      'projector/src/main.ts',
      {
        ...system.env,
        READ_MODEL_PATH: path,
        PROJECTOR_GROUP: group,
        PROJECTOR_PORT: String(port),
      },
      `http://127.0.0.1:${port}`,
    );
    // The projector creates a log's group once that log is caught up from the
    // archive; then the group has read what Redis still holds.
    await waitFor(
      async () => {
        for (const log of logs()) {
          const groups = (await redis.xinfo('GROUPS', log.key)) as (string | number)[][];
          const flat = groups.find((g) => g[g.indexOf('name') + 1] === group);
          if (!flat || Number(flat[flat.indexOf('pending') + 1]) !== 0) return undefined;
          const delivered = String(flat[flat.indexOf('last-delivered-id') + 1]);
          const [next] = await readLog(redis, log.key, delivered === '0-0' ? '0' : delivered, 1);
          if (next) return undefined;
        }
        return true;
      },
      { timeoutMs: 30_000, message: `the ${group} group to have read every log` },
    );
    expect(await fresh.stop('SIGTERM'), fresh.output()).toBe(0);
    expect(dumpOf(path)).toEqual(before.liveDump);
  });

  it('takes an update of every task whose creation was archived at its next revision', async () => {
    const store = createDirectoryArchive(archiveDir, system.env.REDIS_PREFIX!);
    let updated = 0;
    for (const id of taskIds) {
      if (id === deletedTask) continue;
      const ids = await readIndexIds(redis, system.keys.taskStream(id));
      const log = system.keys.taskLog(system.keys.partitionOf(id));
      // The creation is in a segment and no longer in Redis.
      const through = archivedThrough(await store.readManifest(taskLogName(id)))!;
      expect(compareEntryIds(ids[0]!, through)).toBeLessThanOrEqual(0);
      expect(await redis.xrange(log, ids[0]!, ids[0]!)).toEqual([]);

      const revision = ids.length - 1;
      const answer = await api().patch(
        `/tasks/${id}`,
        { title: 'After the archive' },
        { token: users.alice.token, headers: { 'if-match': `"${revision}"` } },
      );
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toMatchObject({ id, revision: revision + 1 });
      const read = await api().get(`/tasks/${id}`, {
        token: users.alice.token,
        headers: { 'x-min-position': answer.body.position, 'x-max-wait-ms': '10000' },
      });
      expect(read.status, read.text).toBe(200);
      expect(read.body).toMatchObject({ id, title: 'After the archive', revision: revision + 1 });
      updated++;
    }
    expect(updated).toBe(19);
  });

  it('logs in a user whose registration was archived', async () => {
    for (const user of [users.admin, users.alice, users.bob]) {
      const [registered] = await readIndexIds(redis, system.keys.userStream(user.id));
      expect(await redis.xrange(system.keys.identityLog, registered!, registered!)).toEqual([]);
      const answer = await api().post('/auth/login', {
        email: user.email,
        password: user === users.admin ? ADMIN.password : PASSWORD,
      });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body.user).toMatchObject({ id: user.id, email: user.email });
      expect(answer.body.user).toEqual(loginAnswers.get(user.email));
    }
  });
});
