import {
  compareEntryIds,
  fieldsToRecord,
  idFromIdempotencyKey,
  type KeyLayout,
  newId,
} from '@tasksync/contracts';
import { createTokenService, type RedisClient, readRevisionCount } from '@tasksync/platform';
import { openReadModelReadOnly } from '@tasksync/platform/read-model';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProcess } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';
import {
  appendUserRegistered,
  client,
  connectTestRedis,
  type FeedEvent,
  type JsonAnswer,
  resumingClient,
  serviceEnv,
  testProcesses,
  waitFor,
  waitForCatchUp,
} from './support';

// One running system (two command-service processes, and one of every other
// service) for the whole file, killed one service at a time: starting six
// processes per scenario would cost more than the scenarios themselves. Each
// scenario writes as its own member, so its assertions cover exactly its tasks.

const redis: RedisClient = connectTestRedis();
const { start, stopAll } = testProcesses();
const stopWriters = new Set<() => Promise<void>>();
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  // Writers first, so no loop keeps knocking on ports whose processes are gone.
  await Promise.allSettled([...stopWriters].map((stop) => stop()));
  await stopAll('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
  await redis.quit();
});

type PostOptions = Parameters<ReturnType<typeof client>['post']>[2];
type ServiceName = 'identity' | 'commandA' | 'commandB' | 'projector' | 'query' | 'notifier';
type LiveEvent = FeedEvent & { actor: string };

/**
 * `lanes` loops of `step` until stopped: a steady stream of requests with
 * `lanes` of them in flight. A step records its own outcome and never throws.
 */
const steadily = (lanes: number, step: (n: number, going: () => boolean) => Promise<void>) => {
  let going = true;
  let n = 0;
  const done = Promise.all(
    Array.from({ length: lanes }, async () => {
      while (going) await step(n++, () => going);
    }),
  );
  void done.catch(() => undefined);
  const stop = async () => {
    going = false;
    stopWriters.delete(stop);
    await done;
  };
  stopWriters.add(stop);
  return stop;
};

/** Resolves once the service answers /health again (or the loop is being stopped). */
const answering = (url: string, going: () => boolean) =>
  waitFor(
    async () =>
      !going() || (await fetch(`${url}/health`).catch(() => undefined))?.ok ? true : undefined,
    { timeoutMs: 60_000, message: `${url} to answer again` },
  );

/** A request that got no answer at all (connection refused or reset) is undefined. */
const attempt = (request: Promise<JsonAnswer>) => request.catch(() => undefined);

/**
 * A tiny round-robin balancer over command-service processes with a passive
 * health check: a request without an answer takes its backend out of the turn
 * until `restore` (a balancer's probe seeing /ready again), so the writer flows
 * through the survivor instead of spinning on a refused port.
 */
const roundRobin = (urls: string[]) => {
  const down = new Set<string>();
  const inFlight = new Map(urls.map((url) => [url, 0]));
  let turn = 0;
  return {
    inFlight: (url: string) => inFlight.get(url)!,
    restore: (url: string) => down.delete(url),
    post: async (path: string, body: unknown, options: PostOptions) => {
      const up = urls.filter((url) => !down.has(url));
      const url = up[turn++ % up.length]!;
      inFlight.set(url, inFlight.get(url)! + 1);
      const answer = await attempt(client(url).post(path, body, options));
      inFlight.set(url, inFlight.get(url)! - 1);
      if (!answer) down.add(url);
      return { url, answer };
    },
  };
};

/** Every TaskCreated of one member in the task logs, in log order: a duplicate shows twice. */
const loggedCreates = async (keys: KeyLayout, userId: string) => {
  const ids: string[] = [];
  for (let p = 0; p < keys.partitions; p++) {
    const entries = (await redis.xrange(keys.taskLog(p), '-', '+')) as [string, string[]][];
    for (const [, fields] of entries) {
      const event = fieldsToRecord(fields);
      if (event.type === 'TaskCreated' && event.actor === userId) ids.push(event.agg!);
    }
  }
  return ids;
};

/** How often each e-mail was registered, from the identity log. */
const registrationsByEmail = async (keys: KeyLayout) => {
  const counts = new Map<string, number>();
  const entries = (await redis.xrange(keys.identityLog, '-', '+')) as [string, string[]][];
  for (const [, fields] of entries) {
    const event = fieldsToRecord(fields);
    if (event.type !== 'UserRegistered') continue;
    const { email } = JSON.parse(event.data!) as { email: string };
    counts.set(email, (counts.get(email) ?? 0) + 1);
  }
  return counts;
};

/** The latest of some positions, one per log, as X-Min-Position takes them. */
const latestPerLog = (positions: string[]) => {
  const latest = new Map<string, string>();
  for (const position of positions) {
    const [log, entryId] = position.split(':') as [string, string];
    const seen = latest.get(log);
    if (!seen || compareEntryIds(entryId, seen) > 0) latest.set(log, entryId);
  }
  return [...latest].map(([log, entryId]) => `${log}:${entryId}`).join(',');
};

const sorted = (ids: Iterable<string>) => [...ids].sort();

const startSystem = async () => {
  const ports = {
    identity: await freePort(),
    notifier: await freePort(),
    secondCommand: await freePort(),
  };
  const { keys, env, readModelPath, urls } = await serviceEnv(redis, {
    IDENTITY_PORT: String(ports.identity),
    NOTIFIER_PORT: String(ports.notifier),
    BCRYPT_COST: '4',
  });
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const services: Record<ServiceName, { entry: string; env: NodeJS.ProcessEnv; url: string }> = {
    identity: { entry: 'identity-service/src/main.ts', env, url: url(ports.identity) },
    commandA: { entry: 'command-service/src/main.ts', env, url: urls.command },
    commandB: {
      entry: 'command-service/src/main.ts',
      env: { ...env, COMMAND_PORT: String(ports.secondCommand) },
      url: url(ports.secondCommand),
    },
    projector: { entry: 'projector/src/main.ts', env, url: urls.projector },
    query: { entry: 'query-service/src/main.ts', env, url: urls.query },
    notifier: { entry: 'notifier/src/main.ts', env, url: url(ports.notifier) },
  };
  const processes = new Map<ServiceName, RunningProcess>();
  const launch = async (name: ServiceName) => {
    const { entry, env: serviceEnvironment, url: serviceUrl } = services[name];
    processes.set(name, await start(entry, serviceEnvironment, serviceUrl));
  };
  await Promise.all((Object.keys(services) as ServiceName[]).map(launch));

  const model = openReadModelReadOnly(readModelPath);
  cleanups.push(() => model.close());
  const tokens = createTokenService({ secret: env.JWT_SECRET!, ttlSeconds: 600 });
  // The live feed, as the board holds it, for the whole file.
  const feed = resumingClient(services.notifier.url, tokens.sign(await newMemberIn(keys)).token);
  cleanups.push(() => feed.socket.disconnect());
  await feed.live;

  // A user of identity-service (with a password) who probes the other services.
  const bystanderAccount = { email: 'bystander@example.com', password: 'bystander-password' };
  const identityApi = client(services.identity.url);
  expect((await identityApi.post('/auth/register', bystanderAccount)).status).toBe(201);
  const bystanderToken = (await identityApi.post('/auth/login', bystanderAccount)).body.token;

  return {
    keys,
    services,
    model,
    feed: feed.received as LiveEvent[],
    api: (name: ServiceName) => client(services[name].url),
    /** A member written straight into the identity log, with a signed token. */
    newMember: async () => {
      const member = await newMemberIn(keys);
      return { ...member, token: tokens.sign(member).token };
    },
    /** SIGKILL right now (the signal leaves before this returns), then waits for the exit. */
    kill: (name: ServiceName) => {
      const process = processes.get(name)!;
      const exited = process.stop('SIGKILL');
      return exited.then((code) => ({ code, signal: process.child.signalCode }));
    },
    restart: launch,
    /** How each service ended, and the tail of its output: a crash shows itself. */
    report: () =>
      [...processes]
        .map(
          ([name, { child, output }]) =>
            `${name} (exit ${child.exitCode ?? child.signalCode ?? 'running'}):\n${output().slice(-2_000)}`,
        )
        .join('\n'),
    /**
     * The services not killed keep answering real requests while `down` is
     * away: a login, a create (through the surviving command-service), its
     * read with read-your-writes, the projector applying it, its live event.
     */
    expectOthersAnswer: async (down: 'identity' | 'command' | 'query') => {
      if (down !== 'identity') {
        expect((await identityApi.post('/auth/login', bystanderAccount)).status).toBe(200);
      }
      const created = await client(
        down === 'command' ? services.commandB.url : services.commandA.url,
      ).post('/tasks', { title: `while ${down} is down` }, { token: bystanderToken });
      expect(created.status).toBe(201);
      const { id, position } = created.body as { id: string; position: string };
      if (down !== 'query') {
        const read = await client(services.query.url).get(`/tasks/${id}`, {
          token: bystanderToken,
          headers: { 'x-min-position': position, 'x-max-wait-ms': '10000' },
        });
        expect({ status: read.status, id: read.body?.id }).toEqual({ status: 200, id });
      }
      await waitFor(
        () => (model.prepare('SELECT 1 FROM tasks WHERE id = ?').get(id) ? true : undefined),
        { message: `the projector to apply a task while ${down} is down` },
      );
      expect((await fetch(`${services.projector.url}/ready`)).status).toBe(200);
      await waitFor(
        () => (feed.received.some((event) => event.aggregateId === id) ? true : undefined),
        { message: `the notifier to deliver a task while ${down} is down` },
      );
    },
  };
};

const newMemberIn = async (keys: KeyLayout) => {
  const userId = newId();
  await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com` });
  return { userId, role: 'member' as const };
};

type System = Awaited<ReturnType<typeof startSystem>>;
type Member = Awaited<ReturnType<System['newMember']>>;

/**
 * One create per task log, after all the others. The feed keeps each log's
 * order, so once these arrive, a duplicate of anything earlier would have too.
 */
const createSentinels = async (system: System, member: Member) => {
  const created: { id: string; position: string }[] = [];
  for (let p = 0; p < system.keys.partitions; p++) {
    let key = '';
    for (let i = 0; ; i++) {
      key = `sentinel-${p}-${i}`;
      if (system.keys.partitionOf(idFromIdempotencyKey(member.userId, key)) === p) break;
    }
    const answer = await system
      .api('commandA')
      .post(
        '/tasks',
        { title: 'sentinel' },
        { token: member.token, headers: { 'idempotency-key': key } },
      );
    expect(answer.status).toBe(201);
    created.push(answer.body);
  }
  return created;
};

/** The read model, and the live feed, hold exactly the member's logged tasks, each once. */
const expectConvergedOn = async (system: System, member: Member, logged: string[]) => {
  await waitForCatchUp(redis, system.keys, system.model);
  const rows = system.model
    .prepare('SELECT id FROM tasks WHERE created_by = ?')
    .all(member.userId) as { id: string }[];
  expect(sorted(rows.map((row) => row.id))).toEqual(sorted(logged));
  const delivered = () =>
    system.feed.filter((e) => e.type === 'TaskCreated' && e.actor === member.userId);
  await waitFor(() => (delivered().length >= logged.length ? true : undefined), {
    timeoutMs: 30_000,
    message: 'the feed to deliver every logged task',
  });
  expect(sorted(delivered().map((event) => event.aggregateId))).toEqual(sorted(logged));
};

let system: System;
beforeAll(async () => {
  system = await startSystem();
});
afterEach(({ task }) => {
  if (task.result?.state === 'fail') console.error(system.report());
});

describe('services killed with SIGKILL under a steady stream of requests', () => {
  it('command-service: nothing acknowledged is lost, every unanswered request retried once gives exactly one task', async () => {
    // Two command-service processes behind a round-robin, as design §8 runs
    // stateless services: the survivor carries the writes while the other is
    // dead, and requests in flight on the dead one are the ones without answer.
    const { services } = system;
    const [a, b] = [services.commandA.url, services.commandB.url];
    const member = await system.newMember();
    const balancer = roundRobin([a, b]);
    const requestOf = (key: string) =>
      [
        '/tasks',
        { title: `task ${key}` },
        { token: member.token, headers: { 'idempotency-key': key } },
      ] as const;
    const acknowledged = new Map<string, { id: string; url: string }>();
    const unanswered: string[] = [];
    const refused: number[] = [];
    const stop = steadily(3, async (n) => {
      const key = `create-${n}`;
      const { url, answer } = await balancer.post(...requestOf(key));
      if (!answer) unanswered.push(key);
      else if (answer.status === 201) acknowledged.set(key, { id: answer.body.id, url });
      else refused.push(answer.status);
    });
    const acknowledgedBy = (url: string) =>
      [...acknowledged.values()].filter((ack) => ack.url === url).length;

    await waitFor(() => (acknowledgedBy(a) >= 15 && acknowledgedBy(b) >= 15 ? true : undefined));
    // Killed while a request to it is in flight, so at least one loses its answer.
    await waitFor(() => (balancer.inFlight(a) > 0 ? true : undefined));
    expect(await system.kill('commandA')).toEqual({ code: null, signal: 'SIGKILL' });
    const survivorAtKill = acknowledgedBy(b);
    await waitFor(() => (acknowledgedBy(b) >= survivorAtKill + 20 ? true : undefined), {
      message: 'the surviving command-service to acknowledge 20 more',
    });
    await system.expectOthersAnswer('command');

    await system.restart('commandA');
    balancer.restore(a);
    const restartedAt = acknowledgedBy(a);
    await waitFor(() => (acknowledgedBy(a) >= restartedAt + 10 ? true : undefined), {
      message: 'the restarted command-service to acknowledge 10',
    });
    await stop();
    expect(refused).toEqual([]);
    expect(unanswered.length).toBeGreaterThan(0);
    for (const [key, { id }] of acknowledged) {
      expect(id).toBe(idFromIdempotencyKey(member.userId, key));
    }

    // Retried with the same key: a request whose append happened before the kill
    // is replayed (same task, no new event), any other one appends now.
    const appendedBeforeRetry = new Set<string>();
    for (const key of unanswered) {
      const id = idFromIdempotencyKey(member.userId, key);
      if (await redis.exists(system.keys.taskStream(id))) appendedBeforeRetry.add(key);
    }
    const retried: string[] = [];
    for (const key of unanswered) {
      const answer = await client(a).post(...requestOf(key));
      expect(answer.status, key).toBe(201);
      expect(answer.body.id).toBe(idFromIdempotencyKey(member.userId, key));
      expect(answer.headers.get('idempotent-replayed') === 'true', key).toBe(
        appendedBeforeRetry.has(key),
      );
      retried.push(answer.body.id);
    }
    // What the killed process acknowledged is replayed by its successor, not appended again.
    const acknowledgedByA = [...acknowledged].filter(([, ack]) => ack.url === a);
    for (const [key, { id }] of acknowledgedByA) {
      const answer = await client(a).post(...requestOf(key));
      expect({ status: answer.status, id: answer.body.id }).toEqual({ status: 201, id });
      expect(answer.headers.get('idempotent-replayed')).toBe('true');
    }

    const sentinels = await createSentinels(system, member);
    const expected = [
      ...[...acknowledged.values()].map((ack) => ack.id),
      ...retried,
      ...sentinels.map((s) => s.id),
    ];
    expect(new Set(expected).size).toBe(expected.length);
    const logged = await loggedCreates(system.keys, member.userId);
    expect(sorted(logged)).toEqual(sorted(expected));
    for (const id of expected)
      expect(await readRevisionCount(redis, system.keys.taskStream(id)), id).toBe(1);
    await expectConvergedOn(system, member, logged);
    console.info(
      `command-service kill: ${acknowledged.size} acknowledged (${acknowledgedByA.length} by the killed process), ` +
        `${unanswered.length} unanswered of which ${appendedBeforeRetry.size} had been appended; ` +
        `${logged.length} logged with ${sentinels.length} sentinels`,
    );
  });

  it('identity-service: every acknowledged registration logs in after the restart, an unanswered one retried is 201 or 409, never two users', async () => {
    const identity = system.services.identity.url;
    const api = client(identity);
    interface Account {
      email: string;
      password: string;
    }
    const acknowledged: Account[] = [];
    const unanswered: Account[] = [];
    const refused: number[] = [];
    const logins = new Map<number | 'none', number>();
    let registrationsInFlight = 0;
    const stop = steadily(3, async (n, going) => {
      const account = { email: `user-${n}@example.com`, password: `password-${n}` };
      registrationsInFlight++;
      const registered = await attempt(api.post('/auth/register', account));
      registrationsInFlight--;
      if (!registered) {
        unanswered.push(account);
        await answering(identity, going);
      } else if (registered.status !== 201) refused.push(registered.status);
      else {
        acknowledged.push(account);
        const login = (await attempt(api.post('/auth/login', account)))?.status ?? 'none';
        logins.set(login, (logins.get(login) ?? 0) + 1);
      }
    });

    await waitFor(() => (acknowledged.length >= 20 ? true : undefined));
    await waitFor(() => (registrationsInFlight > 0 ? true : undefined));
    expect(await system.kill('identity')).toEqual({ code: null, signal: 'SIGKILL' });
    await system.expectOthersAnswer('identity');
    await system.restart('identity');
    const restartedAt = acknowledged.length;
    await waitFor(() => (acknowledged.length >= restartedAt + 10 ? true : undefined), {
      message: 'the restarted identity-service to register 10',
    });
    await stop();
    expect(refused).toEqual([]);
    expect([...logins.keys()].every((status) => status === 200 || status === 'none')).toBe(true);
    expect(unanswered.length).toBeGreaterThan(0);

    // A registration appended before the kill holds its e-mail: the retry is 409, otherwise 201.
    let taken = 0;
    for (const account of unanswered) {
      const appended = (await redis.exists(system.keys.email(account.email))) === 1;
      const retried = await api.post('/auth/register', account);
      expect(retried.status, account.email).toBe(appended ? 409 : 201);
      if (appended) taken++;
    }
    // Either way the account exists once, with the password it was registered with.
    for (const account of [...acknowledged, ...unanswered]) {
      const login = await api.post('/auth/login', account);
      expect({ status: login.status, email: login.body?.user?.email }, account.email).toEqual({
        status: 200,
        email: account.email,
      });
    }
    const registrations = await registrationsByEmail(system.keys);
    const ours = [...registrations].filter(([email]) => /^user-\d+@example\.com$/.test(email));
    expect(ours.map(([email]) => email).sort()).toEqual(
      [...acknowledged, ...unanswered].map((account) => account.email).sort(),
    );
    expect(ours.filter(([, count]) => count !== 1)).toEqual([]);
    console.info(
      `identity-service kill: ${acknowledged.length} acknowledged, ${unanswered.length} unanswered ` +
        `(${taken} had been registered: 409 on retry), ${ours.length} users, each registered once`,
    );
  });

  it('query-service: restarted on the same read model it is ready and reads exactly the logged tasks', async () => {
    const member = await system.newMember();
    const commands = system.api('commandA');
    const query = system.api('query');
    const acknowledged: { id: string; position: string }[] = [];
    const writeFailures: (number | 'none')[] = [];
    const stopWriter = steadily(2, async (n) => {
      const answer = await attempt(
        commands.post(
          '/tasks',
          { title: `read me ${n}` },
          { token: member.token, headers: { 'idempotency-key': `query-kill-${n}` } },
        ),
      );
      if (answer?.status === 201) acknowledged.push(answer.body);
      else writeFailures.push(answer?.status ?? 'none');
    });
    const reads = { ok: 0, unanswered: 0, inFlight: 0, other: [] as number[] };
    const stopReaders = steadily(2, async (n, going) => {
      const last = acknowledged[acknowledged.length - 1];
      // Lists, and the newest task with read-your-writes, while writes flow.
      const [path, headers] =
        n % 2 || !last
          ? [`/tasks?createdBy=${member.userId}&limit=20`, {}]
          : [`/tasks/${last.id}`, { 'x-min-position': last.position, 'x-max-wait-ms': '10000' }];
      reads.inFlight++;
      const answer = await attempt(query.get(path, { token: member.token, headers }));
      reads.inFlight--;
      if (!answer) {
        reads.unanswered++;
        await answering(system.services.query.url, going);
      } else if (answer.status === 200) reads.ok++;
      else reads.other.push(answer.status);
    });

    await waitFor(() => (reads.ok >= 30 && acknowledged.length >= 20 ? true : undefined));
    await waitFor(() => (reads.inFlight > 0 ? true : undefined));
    expect(await system.kill('query')).toEqual({ code: null, signal: 'SIGKILL' });
    const writtenAtKill = acknowledged.length;
    await waitFor(() => (acknowledged.length >= writtenAtKill + 20 ? true : undefined), {
      message: 'command-service to acknowledge 20 more while the query-service is down',
    });
    await system.expectOthersAnswer('query');
    // The projector kept the read model current while nobody read it.
    const writtenWhileDown = acknowledged.slice(writtenAtKill);
    await waitFor(
      () =>
        writtenWhileDown.every((task) =>
          system.model.prepare('SELECT 1 FROM tasks WHERE id = ?').get(task.id),
        )
          ? true
          : undefined,
      { message: 'the read model to hold the tasks written while the query-service was down' },
    );

    await system.restart('query');
    expect((await query.get('/ready')).status).toBe(200);
    const readAtRestart = reads.ok;
    await waitFor(() => (reads.ok >= readAtRestart + 20 ? true : undefined), {
      message: 'the restarted query-service to answer 20 reads',
    });
    await stopReaders();
    await stopWriter();
    expect(writeFailures).toEqual([]);
    expect(reads.other).toEqual([]);
    expect(reads.unanswered).toBeGreaterThan(0);

    const sentinels = await createSentinels(system, member);
    const written = [...acknowledged, ...sentinels];
    const logged = await loggedCreates(system.keys, member.userId);
    expect(sorted(logged)).toEqual(sorted(written.map((task) => task.id)));
    await expectConvergedOn(system, member, logged);

    // The restarted query-service answers exactly the logged tasks, read-your-writes.
    const minPosition = latestPerLog(written.map((task) => task.position));
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await query.get(
        `/tasks?createdBy=${member.userId}&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
        { token: member.token, headers: { 'x-min-position': minPosition } },
      );
      expect(page.status).toBe(200);
      listed.push(...page.body.items.map((task: { id: string }) => task.id));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(sorted(listed)).toEqual(sorted(logged));
    // Nothing of the whole file's writes is missing from the read model.
    let everyCreate = 0;
    for (let p = 0; p < system.keys.partitions; p++) {
      const entries = (await redis.xrange(system.keys.taskLog(p), '-', '+')) as [
        string,
        string[],
      ][];
      everyCreate += entries.filter(
        ([, fields]) => fieldsToRecord(fields).type === 'TaskCreated',
      ).length;
    }
    const { n } = system.model.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number };
    expect(n).toBe(everyCreate);
    console.info(
      `query-service kill: ${reads.ok} reads answered, ${reads.unanswered} unanswered; ` +
        `${written.length} tasks written (${writtenWhileDown.length} while it was down), ${listed.length} listed`,
    );
  });
});
