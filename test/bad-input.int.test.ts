import { randomBytes } from 'node:crypto';
import { type KeyLayout, newId, type Role } from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import { appendToStream, createMetrics, createTokenService } from '@tasksync/platform';
import fc from 'fast-check';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { buildIdentityApp } from '../identity-service/src/app';
import { createPasswordHasher } from '../identity-service/src/users/passwords';
import { listenCommandService, startNotifier as startInProcess, startReadSide } from './in-process';
import {
  appendUserRegistered,
  capturingLogger,
  client,
  connectTestRedis,
  expectProblem,
  forgedTokens,
  type JsonAnswer,
  jsonAnswer,
  listen,
  testKeys,
  waitFor,
  waitForCatchUp,
} from './support';

/*
 * Bad input, generated, against every HTTP endpoint of identity-service,
 * command-service and query-service and against the notifier's handshake
 * (design §3, §6, §7): never a 5xx, never internals, every 4xx problem+json,
 * and nothing appended. No fixed seed: each run explores new inputs, and
 * fast-check prints the seed and the shrunk counterexample of a failure.
 */

const redis = connectTestRedis();
afterAll(() => redis.quit());
const SECRET = randomBytes(32).toString('base64url');
const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
/** Well-formed tokens signed with another secret. */
const forger = createTokenService({ secret: `${SECRET}-forged`, ttlSeconds: 3600 });
/** express.json's limit '100kb': the bytes library counts 1 kB as 1,024 bytes. */
const BODY_LIMIT_BYTES = 100 * 1024;
const RUNS = 40;
/** What a stack trace leaves in text: frames, file positions, module paths. */
const STACK_TRACE =
  /\bat (?:async )?[\w$.<>[\] ]+ \(|\bat (?:file|node):|\.[cm]?[jt]sx?:\d+:\d+|node_modules|&nbsp;at /;

/** Any answer to bad input: below 500, no internals, and a 4xx is RFC 9457 problem+json. */
const expectSafeAnswer = (answer: JsonAnswer) => {
  expect(answer.status, answer.text).toBeLessThan(500);
  expect(answer.text).not.toMatch(STACK_TRACE);
  if (answer.status >= 400) {
    expectProblem(answer, answer.status);
    expect(answer.body.type).toMatch(/^urn:tasksync:problem:[a-z-]+$/);
  }
};

/** A refusal with exactly this status (and problem type). */
const expectRefusal = (answer: JsonAnswer, status: number, slug?: string) => {
  expectSafeAnswer(answer);
  expectProblem(answer, status, slug);
};

/** A 400 validation problem whose `errors` name exactly these paths. */
const expectInvalid = (answer: JsonAnswer, paths: readonly string[]) => {
  expectRefusal(answer, 400, 'validation');
  const named = (answer.body.errors as { path: string; message: string }[]).map((e) => e.path);
  expect(named.sort()).toEqual([...paths].sort());
};

/** The length of every log: an append, an idempotency record or an e-mail claim adds to one. */
const logLengths = async (keys: KeyLayout) =>
  Object.fromEntries(
    await Promise.all(keys.logs().map(async (log) => [log.name, await redis.xlen(log.key)])),
  );

/** Runs a refused write and checks that no log grew. */
const refusedWrite = async (keys: KeyLayout, write: () => Promise<JsonAnswer>) => {
  const before = await logLengths(keys);
  const answer = await write();
  expect(await logLengths(keys)).toEqual(before);
  return answer;
};

/** Log lines at level error or worse: an unexpected error that bad input must never cause. */
const errorsLogged = (lines: string[]) =>
  lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);

/** A user with a UserRegistered in the identity log and a real signed token. */
const registeredUser = async (keys: KeyLayout, role: Role = 'member') => {
  const userId = newId();
  await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com`, role });
  return { userId, role, token: tokens.sign({ userId, role }).token };
};

interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | undefined;
  /** Sends the body in pieces without Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
}

/** A request with any body and headers, answered as support's client answers. */
const sendRaw = async (baseUrl: string, request: RawRequest): Promise<JsonAnswer> => {
  const bytes = request.body === undefined ? undefined : Buffer.from(request.body);
  const body =
    bytes && request.chunked
      ? new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < bytes.length; at += 8_192) {
              controller.enqueue(bytes.subarray(at, at + 8_192));
            }
            controller.close();
          },
        })
      : bytes;
  const init = { method: request.method, headers: request.headers, body, duplex: 'half' };
  return jsonAnswer(await fetch(`${baseUrl}${request.path}`, init as RequestInit));
};

const charIn = (from: number, to: number) =>
  fc.integer({ min: from, max: to }).map((code) => String.fromCharCode(code));
/** Printable ASCII, space included. */
const printable = charIn(0x20, 0x7e);
/**
 * Characters of one UTF-16 unit and 1 to 3 UTF-8 bytes, none of them blank:
 * `trim()` keeps every one, so a string's length is the length the schema sees.
 */
const wordChar = fc.constantFrom('a', 'Z', '7', '-', '_', '!', 'é', 'ß', 'ж', '中', '€');
const text = (minLength: number, maxLength: number) =>
  fc.string({ unit: wordChar, minLength, maxLength });

/** Names a client might slip in, and random ones. */
const fieldName = fc.oneof(
  fc.constantFrom(
    'role',
    'createdBy',
    'revision',
    'id',
    'deleted',
    '__proto__',
    'constructor',
    'toString',
    'Title',
    'title ',
    'a.b',
    '0',
  ),
  fc.string({ unit: printable, minLength: 1, maxLength: 12 }),
);
/** One to three fields none of which is in `known`. */
const unknownFields = (known: readonly string[]) =>
  fc.dictionary(
    fieldName.filter((name) => !known.includes(name)),
    fc.jsonValue({ maxDepth: 2 }),
    { minKeys: 1, maxKeys: 3 },
  );

const isJsonObjectOrArray = (raw: string) => {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null;
  } catch {
    return false;
  }
};
/**
 * Bodies body-parser's strict JSON refuses: cut-off or mangled JSON, random
 * text, and JSON that is neither an object nor an array.
 */
const malformedJson = fc
  .oneof(
    fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat()).map(([value, cut]) => {
      const json = JSON.stringify(value);
      return json.slice(0, cut % Math.max(json.length, 1));
    }),
    fc.string({ unit: printable, minLength: 1, maxLength: 80 }),
    fc
      .oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(null))
      .map((v) => JSON.stringify(v)),
    fc.constantFrom('{', '[', '{"title":', "{'title':'x'}", '{"title":"x",}', '{title:"x"}', 'NaN'),
  )
  .filter((raw) => raw.trim() !== '' && !isJsonObjectOrArray(raw));

const JSON_MEDIA_TYPE = /^application\/json\s*(?:;|$)/i;
/** Media types other than application/json (with or without parameters). */
const nonJsonMediaType = fc
  .oneof(
    fc.constantFrom(
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/jsonx',
      'application/json-patch+json',
      'application/problem+json',
      'application/ld+json',
      'json',
      '*/*',
      'application/*',
    ),
    fc.string({ unit: printable, minLength: 1, maxLength: 40 }),
  )
  .map((type) => type.trim())
  .filter((type) => type !== '' && !JSON_MEDIA_TYPE.test(type));

/** A path segment that is not a uuid: random text (encoded), near-uuids and broken escapes. */
const malformedIdSegment = fc
  .oneof(
    fc.string({ unit: printable, minLength: 1, maxLength: 60 }).map(encodeURIComponent),
    fc.uuid({ version: 7 }).map((id) => id.slice(0, -1)),
    fc.uuid({ version: 7 }).map((id) => `${id}0`),
    fc.uuid({ version: 7 }).map((id) => id.replaceAll('-', '')),
    fc.uuid({ version: 7 }).map((id) => encodeURIComponent(` ${id}`)),
    fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', 'null', 'undefined', '0', '-1', 'me'),
  )
  .filter((segment) => {
    try {
      return !['.', '..'].includes(decodeURIComponent(segment));
    } catch {
      return true;
    }
  });
/** What a malformed id is answered with: 404 (no such resource), 400 for a broken escape. */
const malformedIdStatus = (segment: string) => {
  try {
    decodeURIComponent(segment);
    return 404;
  } catch {
    return 400;
  }
};

/** Header values fetch can send (no CR, LF or NUL; it strips outer blanks). */
const headerValue = fc.oneof(
  fc.string({ unit: printable, maxLength: 40 }),
  fc.string({ unit: charIn(0x20, 0xff), maxLength: 20 }).filter((v) => !/[\x7f-\x9f]/.test(v)),
);
const sentHeader = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, '');

/** If-Match values that are not an ETag this API sends (`"3"`, `W/"3"`) nor `*`. */
const malformedIfMatch = fc
  .oneof(
    headerValue,
    fc.constantFrom('"abc"', '"-1"', '"1.5"', `"${'9'.repeat(16)}"`, 'W/', '"1", "2"', '**'),
  )
  .filter((value) => {
    const sent = sentHeader(value);
    return sent !== '*' && !/^(?:W\/)?"?\d{1,15}"?$/.test(sent);
  });

/** Idempotency-Keys outside 1 to 255 visible ASCII characters. */
const malformedIdempotencyKey = fc
  .oneof(
    fc.constant(''),
    fc.string({ unit: charIn(0x21, 0x7e), minLength: 256, maxLength: 400 }),
    fc
      .tuple(fc.string({ unit: charIn(0x21, 0x7e), minLength: 1, maxLength: 20 }), fc.string())
      .map(([a, b]) => `${a} ${b}x`),
    fc
      .tuple(fc.string({ maxLength: 10 }), charIn(0xa0, 0xff))
      .map(([a, latin1]) => `k${a}${latin1}`),
  )
  .filter((value) => !/^[\x21-\x7e]{1,255}$/.test(sentHeader(value)));

/** A body over the limit: one big field, or a small body padded with blanks. */
const oversizedBody = fc
  .record({
    bytes: fc.integer({ min: BODY_LIMIT_BYTES + 1, max: 3 * BODY_LIMIT_BYTES }),
    shape: fc.constantFrom('field', 'padding'),
    filler: fc.constantFrom('x', 'é', '中'),
    chunked: fc.boolean(),
  })
  .map(({ bytes, shape, filler, chunked }) => {
    const head = shape === 'field' ? '{"description":"' : '{"title":"t"';
    const tail = shape === 'field' ? '"}' : '}';
    const room = bytes - Buffer.byteLength(head + tail);
    const fill =
      shape === 'field'
        ? filler.repeat(Math.ceil(room / Buffer.byteLength(filler)))
        : ' '.repeat(room);
    return { body: head + fill + tail, chunked };
  });

const startIdentity = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const { app } = buildIdentityApp({
    redis,
    keys,
    tokens,
    passwords: await createPasswordHasher(4),
    logger,
    metrics: createMetrics('identity-bad-input'),
    now: () => new Date(),
    newId,
    loginThrottle: { maxFailures: 10, windowSeconds: 900 },
  });
  const server = await listen(app);
  onTestFinished(server.close);
  const [member, admin] = await Promise.all([registeredUser(keys), registeredUser(keys, 'admin')]);
  return { api: client(server.url), url: server.url, keys, member, admin, lines };
};

const startCommand = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const server = await listenCommandService({ redis, keys, tokens, logger });
  onTestFinished(server.close);
  const [creator, admin] = await Promise.all([registeredUser(keys), registeredUser(keys, 'admin')]);
  const api = client(server.url);
  const created = await api.post('/tasks', { title: 'target' }, { token: creator.token });
  expect(created.status).toBe(201);
  const task = created.body as { id: string; revision: number };
  return { api, url: server.url, keys, creator, admin, task, lines };
};

const startQuery = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const commandServer = await listenCommandService({ redis, keys, tokens, logger });
  const readSide = await startReadSide({ redis, keys, tokens, logger });
  onTestFinished(async () => {
    await readSide.close();
    await commandServer.close();
  });
  const reader = await registeredUser(keys);
  const commands = client(commandServer.url);
  const created = await commands.post('/tasks', { title: 'to read' }, { token: reader.token });
  expect(created.status).toBe(201);
  const comment = await commands.post(
    `/tasks/${created.body.id}/comments`,
    { text: 'hello' },
    { token: reader.token },
  );
  expect(comment.status).toBe(201);
  await waitForCatchUp(redis, keys, readSide.db);
  return {
    api: client(readSide.url),
    url: readSide.url,
    keys,
    reader,
    taskId: created.body.id as string,
    reachedPosition: comment.body.position as string,
    lines,
  };
};

const startNotifier = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const notifier = await startInProcess(
    { redis, keys, tokens, logger },
    { origins: ['http://allowed.example'] },
  );
  const sockets: Socket[] = [];
  onTestFinished(async () => {
    for (const socket of sockets) socket.disconnect();
    await notifier.close();
  });
  const { url } = notifier;
  const connect = (auth: unknown, transport: 'websocket' | 'polling' = 'websocket') => {
    const socket = connectClient(url, {
      auth: auth as Record<string, unknown>,
      transports: [transport],
      reconnection: false,
      forceNew: true,
      timeout: 5_000,
    });
    sockets.push(socket);
    return socket;
  };
  return { url, keys, connect, lines };
};

type HandshakeError = Error & { data?: { status?: number; detail?: string } };
type HandshakeOutcome =
  | { kind: 'connected' }
  | { kind: 'refused'; error: HandshakeError }
  | { kind: 'closed'; reason: string }
  | { kind: 'no answer' };

/**
 * How a handshake ends: accepted, refused (`connect_error`), cut (`disconnect`),
 * or not at all within 3 s (a hang, which no outcome may be).
 */
const handshakeOutcome = (socket: Socket) =>
  new Promise<HandshakeOutcome>((resolve) => {
    const hang = setTimeout(() => end({ kind: 'no answer' }), 3_000);
    // Resolved before disconnecting: disconnect() emits its own 'disconnect' at once.
    const end = (outcome: HandshakeOutcome) => {
      clearTimeout(hang);
      resolve(outcome);
      socket.disconnect();
    };
    socket.once('connect', () => end({ kind: 'connected' }));
    socket.once('connect_error', (error) => end({ kind: 'refused', error }));
    socket.once('disconnect', (reason) => end({ kind: 'closed', reason }));
  });

/** Appends one TaskCreated as the command-service would. */
const appendTaskCreated = async (keys: KeyLayout, actor: string) => {
  const taskId = newId();
  const result = await appendToStream(redis, {
    streamKey: keys.taskStream(taskId),
    logKey: keys.taskLog(keys.partitionOf(taskId)),
    aggregateId: taskId,
    expectedRevision: 'none',
    events: [
      {
        id: newId(),
        ...taskCreated(actor, { title: 'still served' }),
        at: new Date().toISOString(),
        actor,
        corr: 'bad-input',
      },
    ],
  });
  expect(result.outcome).toBe('appended');
  return taskId;
};

describe('identity-service under bad input', () => {
  const registerPaths = fc.constantFrom('/auth/register', '/users/register');
  const loginPaths = fc.constantFrom('/auth/login', '/users/login');

  it('refuses passwords outside 8 to 72 UTF-8 bytes, long names and non-e-mails with 400 naming the field', async () => {
    const { api, keys } = await startIdentity();
    const passwordUnit = fc.constantFrom('a', '7', ' ', 'é', '中', '😀');
    const password = fc.oneof(
      fc.string({ unit: passwordUnit, maxLength: 7 }),
      fc.string({ unit: passwordUnit, minLength: 73, maxLength: 120 }),
      fc.constantFrom('1234567', `${'é'.repeat(36)}a`, '😀'.repeat(19), 'a'.repeat(73)),
    );
    const violation = fc.oneof(
      password
        .filter((p) => Buffer.byteLength(p) < 8 || Buffer.byteLength(p) > 72)
        .map((p) => ({ body: { password: p }, path: 'password' })),
      text(101, 160).map((name) => ({ body: { name }, path: 'name' })),
      fc
        .string({ unit: printable, maxLength: 40 })
        .filter((e) => !e.includes('@'))
        .map((email) => ({ body: { email }, path: 'email' })),
    );
    await fc.assert(
      fc.asyncProperty(registerPaths, violation, async (path, { body, path: field }) => {
        const answer = await refusedWrite(keys, () =>
          api.post(path, { email: 'new@example.com', password: 'long enough', ...body }),
        );
        expectInvalid(answer, [field]);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses unknown fields with 400 naming each, on register, login and role change', async () => {
    const { api, keys, admin, member } = await startIdentity();
    const request = fc.oneof(
      fc.record({
        path: registerPaths,
        body: fc.constant({ email: 'new@example.com', password: 'long enough' }),
        extra: unknownFields(['email', 'password', 'name']),
      }),
      fc.record({
        path: loginPaths,
        body: fc.constant({ email: `${member.userId}@example.com`, password: 'whatever' }),
        extra: unknownFields(['email', 'password']),
      }),
      fc.record({
        path: fc.constant(`/users/${member.userId}/role`),
        body: fc.constant({ role: 'admin' }),
        extra: unknownFields(['role']),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ path, body, extra }) => {
        const method = path.endsWith('/role') ? 'PATCH' : 'POST';
        const answer = await refusedWrite(keys, () =>
          api.request(method, path, { body: { ...body, ...extra }, token: admin.token }),
        );
        expectInvalid(answer, Object.keys(extra));
      }),
      { numRuns: RUNS },
    );
    // More refused logins as the member than the 10 failures the throttle allows: a
    // refused login is not a failed one, so a wrong password is still a 401, not a 429.
    const email = `${member.userId}@example.com`;
    for (let attempt = 0; attempt <= 10; attempt++) {
      expectInvalid(await api.post('/auth/login', { email, password: 'wrong', attempt }), [
        'attempt',
      ]);
    }
    expectRefusal(await api.post('/auth/login', { email, password: 'wrong' }), 401, 'unauthorized');
  });

  it('refuses over-long login fields, unknown roles and malformed user ids without appending', async () => {
    const { api, keys, admin, member } = await startIdentity();
    const request = fc.oneof(
      fc.record({
        path: loginPaths,
        body: text(255, 300).map((local) => ({ email: local, password: 'whatever' })),
        expected: fc.constant({ status: 400, paths: ['email'] }),
      }),
      fc.record({
        path: loginPaths,
        body: text(1_001, 1_200).map((password) => ({ email: 'a@example.com', password })),
        expected: fc.constant({ status: 400, paths: ['password'] }),
      }),
      fc.record({
        path: fc.constant(`/users/${member.userId}/role`),
        body: fc
          .jsonValue({ maxDepth: 1 })
          .filter((role) => role !== 'admin' && role !== 'member')
          .map((role) => ({ role })),
        expected: fc.constant({ status: 400, paths: ['role'] }),
      }),
      fc.record({
        path: malformedIdSegment.map((id) => `/users/${id}/role`),
        body: fc.constant({ role: 'admin' }),
        expected: fc.constant({ status: 404, paths: [] as string[] }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ path, body, expected }) => {
        const method = path.endsWith('/role') ? 'PATCH' : 'POST';
        const answer = await refusedWrite(keys, () =>
          api.request(method, path, { body, token: admin.token }),
        );
        if (expected.status === 400) expectInvalid(answer, expected.paths);
        else expectRefusal(answer, malformedIdStatus(path.split('/')[2]!));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers non-JSON media types with 415 and malformed JSON with 400, appending nothing', async () => {
    const { url, keys, admin, member, lines } = await startIdentity();
    const target = fc.constantFrom(
      { method: 'POST', path: '/auth/register' },
      { method: 'POST', path: '/users/register' },
      { method: 'POST', path: '/auth/login' },
      { method: 'POST', path: '/users/login' },
      { method: 'PATCH', path: `/users/${member.userId}/role` },
    );
    const badBody = fc.oneof(
      nonJsonMediaType.map((type) => ({
        contentType: type,
        body: '{"email":"new@example.com","password":"long enough","role":"admin"}',
        status: 415,
      })),
      malformedJson.map((body) => ({ contentType: 'application/json', body, status: 400 })),
    );
    await fc.assert(
      fc.asyncProperty(target, badBody, async ({ method, path }, { contentType, body, status }) => {
        const answer = await refusedWrite(keys, () =>
          sendRaw(url, {
            method,
            path,
            body,
            headers: { 'content-type': contentType, authorization: `Bearer ${admin.token}` },
          }),
        );
        expectRefusal(answer, status);
      }),
      { numRuns: RUNS },
    );
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('answers bodies over 100 kB with 413, with or without Content-Length', async () => {
    const { url, keys, admin, member } = await startIdentity();
    const path = fc.constantFrom(
      '/auth/register',
      '/users/register',
      '/auth/login',
      `/users/${member.userId}/role`,
    );
    await fc.assert(
      fc.asyncProperty(path, oversizedBody, async (target, { body, chunked }) => {
        const answer = await refusedWrite(keys, () =>
          sendRaw(url, {
            method: target.endsWith('/role') ? 'PATCH' : 'POST',
            path: target,
            body,
            chunked,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` },
          }),
        );
        expectRefusal(answer, 413, 'payload-too-large');
      }),
      { numRuns: 15 },
    );
  });
});

const priority = fc.constantFrom('low', 'medium', 'high', 'urgent');
/** Fields valid on a create or a change, any subset. */
const validTaskFields = fc.record(
  {
    description: text(0, 200),
    priority,
    dueDate: fc.constantFrom('2026-12-31', '2028-02-29', null),
    labels: fc.uniqueArray(text(1, 40), { maxLength: 20 }),
  },
  { requiredKeys: [] },
);
/** One field over its limit (design §3), and the error path that must name it. */
const taskFieldViolation = fc.oneof(
  text(201, 260).map((title) => ({ fields: { title }, path: 'title' })),
  text(10_001, 10_200).map((description) => ({ fields: { description }, path: 'description' })),
  fc
    .array(text(1, 40), { minLength: 21, maxLength: 40 })
    .map((labels) => ({ fields: { labels }, path: 'labels' })),
  fc
    .tuple(fc.array(text(1, 40), { maxLength: 19 }), text(41, 80), fc.nat())
    .map(([labels, long, at]) => {
      const index = at % (labels.length + 1);
      const withLong = [...labels.slice(0, index), long, ...labels.slice(index)];
      return { fields: { labels: withLong }, path: `labels.${index}` };
    }),
);
const TASK_FIELDS = [
  'title',
  'description',
  'status',
  'assigneeId',
  'priority',
  'dueDate',
  'labels',
] as const;

describe('command-service under bad input', () => {
  it('refuses fields over their limits with 400 naming the field, on every write', async () => {
    const { api, keys, creator, task } = await startCommand();
    const write = fc.oneof(
      fc.tuple(validTaskFields, taskFieldViolation).map(([fields, violation]) => ({
        method: 'POST',
        path: '/tasks',
        body: { title: 'ok', ...fields, ...violation.fields },
        field: violation.path,
      })),
      fc
        .tuple(fc.constantFrom('PATCH', 'PUT'), validTaskFields, taskFieldViolation)
        .map(([method, fields, violation]) => ({
          method,
          path: `/tasks/${task.id}`,
          body: { ...fields, ...violation.fields },
          field: violation.path,
        })),
      text(5_001, 5_300).map((comment) => ({
        method: 'POST',
        path: `/tasks/${task.id}/comments`,
        body: { text: comment },
        field: 'text',
      })),
    );
    await fc.assert(
      fc.asyncProperty(write, async ({ method, path, body, field }) => {
        const answer = await refusedWrite(keys, () =>
          api.request(method, path, { body, token: creator.token }),
        );
        expectInvalid(answer, [field]);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses unknown fields (role, createdBy, revision, …) with 400 naming each', async () => {
    const { api, keys, creator, task } = await startCommand();
    const write = fc.oneof(
      fc.record({
        method: fc.constant('POST'),
        path: fc.constant('/tasks'),
        body: fc.constant({ title: 'ok' }),
        extra: unknownFields(TASK_FIELDS),
      }),
      fc.record({
        method: fc.constantFrom('PATCH', 'PUT'),
        path: fc.constant(`/tasks/${task.id}`),
        body: validTaskFields,
        extra: unknownFields(TASK_FIELDS),
      }),
      fc.record({
        method: fc.constant('POST'),
        path: fc.constant(`/tasks/${task.id}/comments`),
        body: fc.constant({ text: 'hi' }),
        extra: unknownFields(['text']),
      }),
    );
    await fc.assert(
      fc.asyncProperty(write, async ({ method, path, body, extra }) => {
        const answer = await refusedWrite(keys, () =>
          api.request(method, path, { body: { ...body, ...extra }, token: creator.token }),
        );
        expectInvalid(answer, Object.keys(extra));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses wrong JSON types with 400 naming the field, and hostile JSON shapes with 400', async () => {
    const { api, url, keys, creator, task, lines } = await startCommand();
    // Finite only: JSON.stringify sends NaN as null, which dueDate and assigneeId take.
    const notString = fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.object({ maxDepth: 1 }),
    );
    /** A field and a value of a type it never takes. */
    const wrongType = fc.oneof(
      fc.record({
        field: fc.constantFrom('title', 'description', 'status', 'priority'),
        value: notString,
      }),
      fc.record({
        field: fc.constantFrom('assigneeId', 'dueDate'),
        value: notString,
      }),
      fc.record({
        field: fc.constant('labels'),
        value: fc.oneof(fc.string(), fc.integer(), fc.object()),
      }),
    );
    const write = fc.oneof(
      wrongType.map(({ field, value }) => ({
        method: 'POST',
        path: '/tasks',
        body: { title: 'ok', [field]: value },
        field,
      })),
      fc.tuple(fc.constantFrom('PATCH', 'PUT'), wrongType).map(([method, { field, value }]) => ({
        method,
        path: `/tasks/${task.id}`,
        body: { [field]: value },
        field,
      })),
      notString.map((value) => ({
        method: 'POST',
        path: `/tasks/${task.id}/comments`,
        body: { text: value },
        field: 'text',
      })),
    );
    await fc.assert(
      fc.asyncProperty(write, async ({ method, path, body, field }) => {
        const answer = await refusedWrite(keys, () =>
          api.request(method, path, { body, token: creator.token }),
        );
        expectRefusal(answer, 400, 'validation');
        const paths = answer.body.errors.map((e: { path: string }) => e.path.split('.')[0]);
        expect(paths).toContain(field);
      }),
      { numRuns: RUNS },
    );

    // Well-formed JSON a parser or a validator could choke on, all under 100 kB.
    const nested = (depth: number, leaf: string) =>
      `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
    const hostile = fc.oneof(
      fc.integer({ min: 1_000, max: 45_000 }).map((depth) => nested(depth, '1')),
      fc.integer({ min: 1_000, max: 40_000 }).map((depth) => `{"title":${nested(depth, '"x"')}}`),
      fc
        .integer({ min: 1_000, max: 15_000 })
        .map((depth) => `{"title":"ok","zz":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
      fc
        .integer({ min: 21, max: 15_000 })
        .map((count) => JSON.stringify({ title: 'ok', labels: Array(count).fill('a') })),
      fc
        .integer({ min: 100, max: 6_000 })
        .map((count) =>
          JSON.stringify(
            Object.fromEntries([
              ['title', 'ok'],
              ...Array.from({ length: count }, (_, i) => [`k${i}`, i]),
            ]),
          ),
        ),
    );
    const target = fc.constantFrom(
      { method: 'POST', path: '/tasks' },
      { method: 'PATCH', path: `/tasks/${task.id}` },
      { method: 'POST', path: `/tasks/${task.id}/comments` },
    );
    await fc.assert(
      fc.asyncProperty(target, hostile, async ({ method, path }, body) => {
        expect(Buffer.byteLength(body)).toBeLessThanOrEqual(BODY_LIMIT_BYTES);
        const answer = await refusedWrite(keys, () =>
          sendRaw(url, {
            method,
            path,
            body,
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${creator.token}`,
              'idempotency-key': 'hostile',
            },
          }),
        );
        expectRefusal(answer, 400, 'validation');
      }),
      { numRuns: 20 },
    );
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('answers non-JSON media types with 415, malformed JSON with 400 and bad encodings with a 4xx', async () => {
    const { url, keys, creator, task, lines } = await startCommand();
    const target = fc.constantFrom(
      { method: 'POST', path: '/tasks' },
      { method: 'PATCH', path: `/tasks/${task.id}` },
      { method: 'PUT', path: `/tasks/${task.id}` },
      { method: 'POST', path: `/tasks/${task.id}/comments` },
      { method: 'DELETE', path: `/tasks/${task.id}` },
    );
    const badBody = fc.oneof(
      nonJsonMediaType.map((type) => ({
        headers: { 'content-type': type },
        body: '{"title":"x","text":"x"}',
        status: 415 as number | undefined,
      })),
      malformedJson.map((body) => ({
        headers: { 'content-type': 'application/json' },
        body,
        status: 400 as number | undefined,
      })),
      fc.constantFrom('latin1', 'iso-8859-1', 'utf-16', 'utf-32le', 'bogus').map((charset) => ({
        headers: { 'content-type': `application/json; charset=${charset}` },
        body: '{"title":"x","text":"x"}',
        status: undefined as number | undefined,
      })),
      fc
        .tuple(fc.constantFrom('gzip', 'deflate', 'br', 'compress', 'bogus'), fc.string())
        .map(([encoding, body]) => ({
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
          body: `not ${encoding}: ${body}`,
          status: undefined as number | undefined,
        })),
    );
    await fc.assert(
      fc.asyncProperty(target, badBody, async ({ method, path }, { headers, body, status }) => {
        const answer = await refusedWrite(keys, () =>
          sendRaw(url, {
            method,
            path,
            body,
            headers: { ...headers, authorization: `Bearer ${creator.token}` },
          }),
        );
        if (status) expectRefusal(answer, status);
        else {
          expectSafeAnswer(answer);
          expect(answer.status).toBeGreaterThanOrEqual(400);
        }
      }),
      { numRuns: RUNS },
    );
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('answers bodies over 100 kB with 413 on every write, and takes 100 kB exactly to the schema', async () => {
    const { url, keys, creator, task } = await startCommand();
    const target = fc.constantFrom(
      { method: 'POST', path: '/tasks' },
      { method: 'PATCH', path: `/tasks/${task.id}` },
      { method: 'PUT', path: `/tasks/${task.id}` },
      { method: 'POST', path: `/tasks/${task.id}/comments` },
      { method: 'DELETE', path: `/tasks/${task.id}` },
    );
    const send = (method: string, path: string, body: string, chunked = false) =>
      sendRaw(url, {
        method,
        path,
        body,
        chunked,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${creator.token}` },
      });
    await fc.assert(
      fc.asyncProperty(target, oversizedBody, async ({ method, path }, { body, chunked }) => {
        const answer = await refusedWrite(keys, () => send(method, path, body, chunked));
        expectRefusal(answer, 413, 'payload-too-large');
      }),
      { numRuns: 15 },
    );
    // The limit is 102,400 bytes: one byte more is 413, exactly that reaches the schema.
    const exactly = (bytes: number) => {
      const head = '{"title":"t","description":"';
      return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
    };
    expectInvalid(
      await refusedWrite(keys, () => send('POST', '/tasks', exactly(BODY_LIMIT_BYTES))),
      ['description'],
    );
    expectRefusal(
      await refusedWrite(keys, () => send('POST', '/tasks', exactly(BODY_LIMIT_BYTES + 1))),
      413,
    );
  });

  it('answers 404 for malformed task ids (400 for broken escapes) and appends nothing', async () => {
    const { api, keys, creator } = await startCommand();
    const write = fc.constantFrom(
      { method: 'PATCH', suffix: '', body: { title: 'renamed' } },
      { method: 'PUT', suffix: '', body: { title: 'renamed' } },
      { method: 'POST', suffix: '/comments', body: { text: 'hello' } },
      { method: 'DELETE', suffix: '', body: undefined },
    );
    await fc.assert(
      fc.asyncProperty(write, malformedIdSegment, async ({ method, suffix, body }, id) => {
        const answer = await refusedWrite(keys, () =>
          api.request(method, `/tasks/${id}${suffix}`, { body, token: creator.token }),
        );
        expectRefusal(answer, malformedIdStatus(id));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers 400 for a malformed If-Match or Idempotency-Key, 412 for a stale If-Match, and changes nothing', async () => {
    const { api, keys, creator, task } = await startCommand();
    const write = fc.constantFrom(
      { method: 'PATCH', path: `/tasks/${task.id}`, body: { title: 'renamed' } },
      { method: 'PUT', path: `/tasks/${task.id}`, body: { priority: 'urgent' } },
      { method: 'POST', path: `/tasks/${task.id}/comments`, body: { text: 'hello' } },
      { method: 'DELETE', path: `/tasks/${task.id}`, body: undefined },
    );
    const header = fc.oneof(
      malformedIfMatch.map((value) => ({ name: 'if-match', value, status: 400 })),
      malformedIdempotencyKey.map((value) => ({ name: 'idempotency-key', value, status: 400 })),
      fc
        .integer({ min: task.revision + 1, max: 999_999_999_999_999 })
        .chain((revision) => fc.constantFrom(`"${revision}"`, `W/"${revision}"`, String(revision)))
        .map((value) => ({ name: 'if-match', value, status: 412 })),
    );
    await fc.assert(
      fc.asyncProperty(write, header, async ({ method, path, body }, { name, value, status }) => {
        const answer = await refusedWrite(keys, () =>
          api.request(method, path, { body, token: creator.token, headers: { [name]: value } }),
        );
        expectRefusal(answer, status, status === 412 ? 'precondition-failed' : 'bad-request');
        if (name === 'idempotency-key') {
          const record = keys.idempotency(
            keys.partitionOf(task.id),
            creator.userId,
            sentHeader(value),
          );
          expect(await redis.exists(record)).toBe(0);
        }
      }),
      { numRuns: RUNS },
    );
    const create = fc.asyncProperty(malformedIdempotencyKey, async (key) => {
      const answer = await refusedWrite(keys, () =>
        api.post(
          '/tasks',
          { title: 'once' },
          { token: creator.token, headers: { 'idempotency-key': key } },
        ),
      );
      expectRefusal(answer, 400, 'bad-request');
    });
    await fc.assert(create, { numRuns: 20 });
    expect(await redis.xlen(keys.taskStream(task.id))).toBe(1);
  });
});

const LIST_PARAMS = [
  'status',
  'assigneeId',
  'createdBy',
  'label',
  'priority',
  'q',
  'dueBefore',
  'dueAfter',
  'sort',
  'limit',
  'cursor',
];
/** A query string from name/value pairs, each part percent-encoded. */
const queryString = (params: Record<string, string>) =>
  Object.entries(params)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');

/** `limit` values outside 1 to 200 or not an integer. */
const badLimit = fc.oneof(
  fc.integer({ min: 201, max: 2 ** 40 }).map(String),
  fc.integer({ min: -(2 ** 40), max: 0 }).map(String),
  fc.integer({ min: 1, max: 199 }).map((n) => `${n}.5`),
  fc.string({ unit: printable, maxLength: 10 }).map((s) => `x${s}`),
  fc.constantFrom('', '1e3', '0x100', 'Infinity', 'NaN', '201', '-0.5'),
);

describe('query-service under bad input', () => {
  it('refuses unknown query parameters with 400 naming each parameter', async () => {
    const { api, reader, taskId } = await startQuery();
    const path = fc.constantFrom(
      { path: '/tasks', known: LIST_PARAMS },
      { path: '/users', known: ['limit', 'cursor'] as string[] },
      { path: `/tasks/${taskId}/history`, known: ['limit', 'cursor'] as string[] },
      // Routes without a list schema are as strict.
      { path: `/tasks/${taskId}`, known: ['asOf'] as string[] },
      { path: `/users/${reader.userId}`, known: [] as string[] },
      { path: '/stats', known: [] as string[] },
    );
    await fc.assert(
      fc.asyncProperty(
        path.chain(({ path, known }) =>
          fc.record({
            path: fc.constant(path),
            params: fc.dictionary(
              fc
                .string({ unit: printable, minLength: 1, maxLength: 12 })
                .filter((name) => !known.includes(name)),
              fc.string({ unit: printable, maxLength: 20 }),
              { minKeys: 1, maxKeys: 3 },
            ),
          }),
        ),
        async ({ path, params }) => {
          const answer = await api.get(`${path}?${queryString(params)}`, {
            token: reader.token,
          });
          expectInvalid(answer, Object.keys(params));
        },
      ),
      { numRuns: RUNS },
    );
    const bogus = await api.get('/users?bogus=1', { token: reader.token });
    expect(bogus.body.errors).toEqual([{ path: 'bogus', message: 'Unrecognized key: "bogus"' }]);
  });

  it('refuses page sizes outside 1 to 200 and malformed list parameters with 400 naming them', async () => {
    const { api, reader, taskId } = await startQuery();
    const listParam = fc.oneof(
      fc.record({ name: fc.constant('limit'), value: badLimit }),
      fc.record({
        name: fc.constantFrom('status', 'priority', 'sort'),
        value: fc.string({ unit: printable, maxLength: 12 }).map((s) => `x${s}`),
      }),
      fc.record({
        name: fc.constantFrom('assigneeId', 'createdBy'),
        value: fc.oneof(
          fc.constant('you'),
          fc.uuid({ version: 7 }).map((id) => id.slice(1)),
        ),
      }),
      fc.record({
        name: fc.constantFrom('dueBefore', 'dueAfter'),
        value: fc.constantFrom('2026-13-01', '2026-02-30', 'tomorrow', '31/12/2026', '2026-1-1'),
      }),
      fc.record({ name: fc.constant('label'), value: text(41, 60) }),
      fc.record({ name: fc.constant('q'), value: text(201, 260) }),
      fc.record({ name: fc.constant('cursor'), value: text(601, 700) }),
    );
    const request = fc.oneof(
      listParam.map(({ name, value }) => ({ path: '/tasks', name, value })),
      fc.record({
        path: fc.constantFrom('/users', `/tasks/${taskId}/history`),
        name: fc.constant('limit'),
        value: badLimit,
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ path, name, value }) => {
        const answer = await api.get(`${path}?${queryString({ [name]: value })}`, {
          token: reader.token,
        });
        expectInvalid(answer, [name]);
      }),
      { numRuns: RUNS },
    );
    // A parameter given twice is a list, which no parameter takes.
    expectInvalid(await api.get('/tasks?limit=5&limit=6', { token: reader.token }), ['limit']);
  });

  it('refuses cursors it never gave and asOf values that are neither time nor position with 400', async () => {
    const { api, reader, taskId } = await startQuery();
    const garbage = fc.string({ unit: printable, minLength: 1, maxLength: 60 });
    const request = fc.oneof(
      garbage.map((cursor) => `/tasks?${queryString({ cursor: `~${cursor}` })}`),
      fc
        .record({
          s: fc.string().filter((sort) => sort !== 'createdAt'),
          k: fc.jsonValue({ maxDepth: 1 }),
          id: fc.jsonValue(),
        })
        .map((c) => Buffer.from(JSON.stringify(c)).toString('base64url'))
        .map((cursor) => `/tasks?sort=createdAt&${queryString({ cursor })}`),
      garbage.map((c) => `/tasks/${taskId}/history?${queryString({ cursor: `x${c}` })}`),
      garbage.map((c) => `/users?${queryString({ cursor: `x${c}` })}`),
      garbage
        .map((asOf) => `~${asOf}`)
        .filter((asOf) => Number.isNaN(Date.parse(asOf)))
        .map((asOf) => `/tasks/${taskId}?${queryString({ asOf })}`),
    );
    await fc.assert(
      fc.asyncProperty(request, async (path) => {
        expectRefusal(await api.get(path, { token: reader.token }), 400);
      }),
      { numRuns: RUNS },
    );
  });

  it('answers 404 for malformed ids on every read by id (400 for broken escapes)', async () => {
    const { api, reader } = await startQuery();
    const path = fc
      .tuple(fc.constantFrom('/tasks/', '/users/'), malformedIdSegment, fc.boolean())
      .map(([base, id, history]) => ({
        path: base === '/tasks/' && history ? `${base}${id}/history` : `${base}${id}`,
        id,
      }));
    await fc.assert(
      fc.asyncProperty(path, async ({ path, id }) => {
        const answer = await api.get(path, { token: reader.token });
        expectRefusal(answer, malformedIdStatus(id));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a malformed X-Min-Position or X-Max-Wait-Ms with 400, never a wait or a 5xx', async () => {
    const { api, reader, reachedPosition } = await startQuery();
    const path = fc.constantFrom('/tasks', '/users', '/stats', `/users/${reader.userId}`);
    const headers = fc.oneof(
      fc
        .oneof(
          fc.string({ unit: printable, maxLength: 40 }).map((s) => `x${s}`),
          fc.constantFrom('t0', 't0:', 't0:1', 'id:1-', `t0:${'9'.repeat(21)}-0`, 't0:1-0,soon'),
          fc.nat({ max: 99 }).map((n) => `t${n + 10}:1-0`),
        )
        .map((position) => ({ 'x-min-position': position })),
      fc
        .oneof(
          fc.integer({ min: 10_001 }).map(String),
          fc.integer({ max: -1 }).map(String),
          fc.integer({ min: 0, max: 9_999 }).map((n) => `${n}.5`),
          fc.string({ unit: printable, maxLength: 10 }).map((s) => `x${s}`),
        )
        .map((wait) => ({ 'x-min-position': reachedPosition, 'x-max-wait-ms': wait })),
    );
    await fc.assert(
      fc.asyncProperty(path, headers, async (target, given) => {
        const answer = await api.get(target, { token: reader.token, headers: given });
        expectRefusal(answer, 400);
      }),
      { numRuns: RUNS },
    );
    const garbled = await api.get('/tasks', {
      token: reader.token,
      headers: { 'x-min-position': 'soon' },
    });
    expect(garbled.body.errors.map((e: { path: string }) => e.path)).toEqual(['X-Min-Position']);
  });
});

interface Endpoint {
  method: string;
  /** `:id` is replaced by a generated id. */
  path: string;
}
const OPERATIONAL: Endpoint[] = ['/health', '/ready', '/metrics', '/openapi.json'].map((path) => ({
  method: 'GET',
  path,
}));
const ENDPOINTS: Record<'identity' | 'command' | 'query', Endpoint[]> = {
  identity: [
    { method: 'POST', path: '/auth/register' },
    { method: 'POST', path: '/auth/login' },
    { method: 'POST', path: '/users/register' },
    { method: 'POST', path: '/users/login' },
    { method: 'GET', path: '/users/me' },
    { method: 'GET', path: '/users/profile' },
    { method: 'PATCH', path: '/users/:id/role' },
    ...OPERATIONAL,
  ],
  command: [
    { method: 'POST', path: '/tasks' },
    { method: 'PATCH', path: '/tasks/:id' },
    { method: 'PUT', path: '/tasks/:id' },
    { method: 'POST', path: '/tasks/:id/comments' },
    { method: 'DELETE', path: '/tasks/:id' },
    ...OPERATIONAL,
  ],
  query: [
    { method: 'GET', path: '/tasks' },
    { method: 'GET', path: '/tasks/:id' },
    { method: 'GET', path: '/tasks/:id/history' },
    { method: 'GET', path: '/users' },
    { method: 'GET', path: '/users/:id' },
    { method: 'GET', path: '/stats' },
    ...OPERATIONAL,
  ],
};

/**
 * Any request to one of `endpoints`, none of which may write: ids are malformed
 * or unknown, and every JSON body carries a field no schema has.
 */
const anyBadRequest = (endpoints: Endpoint[], validTokens: string[]) =>
  fc.record({
    endpoint: fc.constantFrom(...endpoints),
    otherMethod: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'), {
      freq: 4,
    }),
    id: fc.oneof(malformedIdSegment, fc.uuid({ version: 7 })),
    query: fc.dictionary(
      fc.oneof(fc.constantFrom(...LIST_PARAMS, 'asOf'), fc.string({ minLength: 1, maxLength: 8 })),
      fc.string({ unit: printable, maxLength: 20 }),
      { maxKeys: 3 },
    ),
    authorization: fc.option(
      fc.oneof(
        fc.constantFrom(...validTokens).map((token) => `Bearer ${token}`),
        fc.constant(`Bearer ${forger.sign({ userId: newId(), role: 'admin' }).token}`),
        headerValue,
        headerValue.map((value) => `Bearer ${value}`),
      ),
    ),
    headers: fc.dictionary(
      fc.constantFrom(
        'if-match',
        'idempotency-key',
        'x-request-id',
        'x-max-wait-ms',
        'if-none-match',
        'accept',
      ),
      headerValue,
      { maxKeys: 3 },
    ),
    // A garbled X-Min-Position only: a well-formed one ahead of the model is a 503 by design.
    minPosition: fc.option(headerValue.map((value) => `x${value}`)),
    body: fc.option(
      fc.oneof(
        fc.record({ type: fc.constant('application/json'), raw: malformedJson }),
        fc.record({ type: nonJsonMediaType, raw: fc.json() }),
        fc.record({
          type: fc.constant('application/json'),
          raw: fc
            .tuple(fc.object({ maxDepth: 2 }), unknownFields([...TASK_FIELDS, 'email', 'role']))
            .map(([fields, extra]) => JSON.stringify({ ...fields, ...extra, 'zz-unknown': 1 })),
        }),
      ),
    ),
  });

const fuzzEveryEndpoint = async (
  url: string,
  keys: KeyLayout,
  endpoints: Endpoint[],
  validTokens: string[],
  numRuns: number,
) => {
  await fc.assert(
    fc.asyncProperty(anyBadRequest(endpoints, validTokens), async (request) => {
      const method = request.otherMethod ?? request.endpoint.method;
      const query = queryString(request.query);
      const path = `${request.endpoint.path.replace(':id', request.id)}${query ? `?${query}` : ''}`;
      const headers: Record<string, string> = { ...request.headers };
      if (request.authorization !== null) headers.authorization = request.authorization;
      if (request.minPosition !== null) headers['x-min-position'] = request.minPosition;
      const withBody = request.body !== null && method !== 'GET';
      if (withBody) headers['content-type'] = request.body!.type;
      const answer = await refusedWrite(keys, () =>
        sendRaw(url, { method, path, headers, body: withBody ? request.body!.raw : undefined }),
      );
      expectSafeAnswer(answer);
    }),
    { numRuns },
  );
};

describe('every endpoint, any bad input', () => {
  it('identity-service: never a 5xx, never internals, never an append', async () => {
    const { url, keys, member, admin, lines } = await startIdentity();
    await fuzzEveryEndpoint(url, keys, ENDPOINTS.identity, [member.token, admin.token], 150);
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('command-service: never a 5xx, never internals, never an append', async () => {
    const { url, keys, creator, admin, lines } = await startCommand();
    await fuzzEveryEndpoint(url, keys, ENDPOINTS.command, [creator.token, admin.token], 150);
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('query-service: never a 5xx, never internals', async () => {
    const { url, keys, reader, lines } = await startQuery();
    await fuzzEveryEndpoint(url, keys, ENDPOINTS.query, [reader.token], 150);
    expect(errorsLogged(lines)).toEqual([]);
  });
});

describe('notifier handshake under bad input', () => {
  it('refuses garbage auth with connect_error unauthorized/401 or bad-handshake/400, and keeps serving', async () => {
    const notifier = await startNotifier();
    const { userId } = await registeredUser(notifier.keys);
    const expired = (await forgedTokens(userId)).expired(SECRET);
    const valid = tokens.sign({ userId, role: 'member' }).token;
    const nonString = fc.oneof(
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.object({ maxDepth: 1 }),
    );
    const token = fc.oneof(
      fc.constant({ kind: 'missing' as const, value: undefined as unknown }),
      nonString.map((value) => ({ kind: 'missing' as const, value })),
      fc.constant({ kind: 'missing' as const, value: '' }),
      fc.string({ minLength: 1, maxLength: 300 }).map((value) => ({ kind: 'bad' as const, value })),
      fc
        .array(fc.base64String({ minLength: 4, maxLength: 60 }), { minLength: 3, maxLength: 3 })
        .map((parts) => ({ kind: 'bad' as const, value: parts.join('.') })),
      fc.constantFrom(
        { kind: 'bad' as const, value: forger.sign({ userId, role: 'admin' }).token },
        { kind: 'bad' as const, value: expired },
        { kind: 'bad' as const, value: `${valid}x` },
      ),
      fc
        .integer({ min: 8_193, max: 12_000 })
        .map((n) => ({ kind: 'tooLong' as const, value: 'x'.repeat(n) })),
      fc.constant({ kind: 'valid' as const, value: valid as unknown }),
    );
    const since = fc.oneof(
      fc.constant({ bad: false, value: undefined as unknown }),
      fc.constantFrom('', 't0:0-0', 'id:0-0, t0:0-0').map((value) => ({ bad: false, value })),
      fc.string({ unit: printable, maxLength: 60 }).map((s) => ({ bad: true, value: `x${s}` })),
      nonString.map((value) => ({ bad: true, value })),
      fc.integer({ min: 21, max: 60 }).map((digits) => ({
        bad: true,
        value: `t0:${'9'.repeat(digits)}-0`,
      })),
      // Over the 4,000 characters a position list may have, yet well inside a 16 KB frame.
      fc
        .integer({ min: 450, max: 1_200 })
        .map((count) => Array.from({ length: count }, (_, i) => `t0:${i}-0`).join(','))
        .filter((list) => list.length > 4_000)
        .map((value) => ({ bad: true, value })),
    );
    const tasks = fc.oneof(
      fc.constant({ bad: false, value: undefined as unknown }),
      fc
        .uniqueArray(fc.uuid({ version: 7 }), { minLength: 1, maxLength: 5 })
        .map((value) => ({ bad: false, value })),
      fc.constant({ bad: true, value: [] }),
      nonString
        .filter((value) => !Array.isArray(value) || value.length > 0)
        .map((value) => ({ bad: true, value })),
      fc
        .tuple(fc.array(fc.uuid({ version: 7 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }))
        .filter(([, odd]) => typeof odd !== 'string' || !/^[0-9a-f-]{36}$/i.test(odd))
        .map(([ids, odd]) => ({ bad: true, value: [...ids, odd] })),
      fc.integer({ min: 101, max: 150 }).map((n) => ({
        bad: true,
        value: Array.from({ length: n }, () => newId()),
      })),
    );
    const extra = fc.dictionary(
      fc.string({ maxLength: 10 }).filter((name) => !['token', 'since', 'tasks'].includes(name)),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 3 },
    );
    const handshake = fc
      .record({
        token,
        since,
        tasks,
        extra,
        transport: fc.constantFrom('websocket' as const, 'polling' as const),
      })
      .filter((h) => h.token.kind !== 'valid' || h.since.bad || h.tasks.bad)
      .map((h) => {
        const auth: Record<string, unknown> = { ...h.extra };
        if (h.token.value !== undefined) auth.token = h.token.value;
        if (h.since.value !== undefined) auth.since = h.since.value;
        if (h.tasks.value !== undefined) auth.tasks = h.tasks.value;
        return { ...h, auth };
      })
      // A CONNECT frame over 16 KB is cut instead: the next test covers that.
      .filter((h) => JSON.stringify(h.auth).length < 15_000);

    const bystander = notifier.connect({ token: valid });
    await new Promise<void>((resolve) => bystander.once('connect', () => resolve()));

    await fc.assert(
      fc.asyncProperty(handshake, async (h) => {
        const outcome = await handshakeOutcome(notifier.connect(h.auth, h.transport));
        expect(outcome.kind, JSON.stringify(outcome)).toBe('refused');
        const { message, data } = (outcome as { error: HandshakeError }).error;
        const refusal = { message, status: data?.status };
        const unauthorized = { message: 'unauthorized', status: 401 };
        const badHandshake = { message: 'bad-handshake', status: 400 };
        const shapeBad = h.since.bad || h.tasks.bad || h.token.kind === 'tooLong';
        if (h.token.kind === 'missing' || !shapeBad) expect(refusal).toEqual(unauthorized);
        else if (h.token.kind === 'valid') expect(refusal).toEqual(badHandshake);
        // Both a bad token and a bad shape: either refusal is right.
        else expect([unauthorized, badHandshake]).toContainEqual(refusal);
        expect(data?.detail).toEqual(expect.any(String));
        expect(data?.detail).not.toMatch(STACK_TRACE);
      }),
      { numRuns: 60 },
    );

    expect(bystander.connected).toBe(true);
    const fresh = notifier.connect({ token: valid });
    expect(await handshakeOutcome(fresh)).toEqual({ kind: 'connected' });
    expect((await fetch(`${notifier.url}/health`)).status).toBe(200);
    expect(errorsLogged(notifier.lines)).toEqual([]);
  });

  it('cuts a connection that sends a frame over 16 KB, or a handshake over 16 KB, and keeps serving the others', async () => {
    const notifier = await startNotifier();
    const { userId, token } = await registeredUser(notifier.keys);
    const live = (socket: Socket) =>
      new Promise<void>((resolve) => socket.once('live', () => resolve()));
    const bystander = notifier.connect({ token });
    const received: string[] = [];
    bystander.on('event', (event: { aggregateId: string }) => received.push(event.aggregateId));
    await live(bystander);

    const oversized = fc.oneof(
      fc
        .integer({ min: 16_385, max: 64_000 })
        .map((size) => ({ kind: 'frame' as const, payload: 'x'.repeat(size) as unknown })),
      fc
        .integer({ min: 16_385, max: 64_000 })
        .map((size) => ({ kind: 'frame' as const, payload: randomBytes(size) as unknown })),
      fc
        .integer({ min: 16_385, max: 40_000 })
        .map((size) => ({ kind: 'handshake' as const, payload: 'x'.repeat(size) as unknown })),
    );
    await fc.assert(
      fc.asyncProperty(oversized, async ({ kind, payload }) => {
        if (kind === 'handshake') {
          const outcome = await handshakeOutcome(notifier.connect({ token, pad: payload }));
          expect(outcome.kind).not.toBe('connected');
        } else {
          const flooding = notifier.connect({ token });
          await live(flooding);
          const cut = new Promise((resolve) => flooding.once('disconnect', resolve));
          flooding.emit('anything', payload);
          expect(await cut).toBe('transport close');
        }
        expect(bystander.connected).toBe(true);
      }),
      { numRuns: 12 },
    );

    // The others are still served: the bystander gets a new event, a new client goes live.
    const taskId = await appendTaskCreated(notifier.keys, userId);
    await waitFor(() => (received.includes(taskId) ? true : undefined), {
      message: 'the bystander to receive the new event',
    });
    const fresh = notifier.connect({ token });
    await live(fresh);
    expect(fresh.connected).toBe(true);
    expect(errorsLogged(notifier.lines)).toEqual([]);
  });
});
