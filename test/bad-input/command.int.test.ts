import { readRevisionCount } from '@tasksync/platform';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BODY_LIMIT_BYTES,
  malformedIdempotencyKey,
  malformedIdSegment,
  malformedIdStatus,
  malformedIfMatch,
  malformedJson,
  nonJsonMediaType,
  oversizedBody,
  sentHeader,
  TASK_FIELDS,
  taskFieldViolation,
  text,
  unknownFields,
  validTaskFields,
} from './arbitraries';
import {
  errorsLogged,
  expectInvalid,
  expectRefusal,
  expectSafeAnswer,
  RUNS,
  redis,
  sendRaw,
  startCommand,
} from './services';

afterAll(() => redis.quit());

describe('command-service under bad input', () => {
  it('refuses fields over their limits with 400 naming the field, on every write', async () => {
    const { spec, creator, task } = await startCommand();
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
        const answer = (await spec.when({ method, path, body, token: creator.token })).thenAppends(
          [],
        ).answer;
        expectInvalid(answer, [field]);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses unknown fields (role, createdBy, revision, …) with 400 naming each', async () => {
    const { spec, creator, task } = await startCommand();
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
        const answer = (
          await spec.when({ method, path, body: { ...body, ...extra }, token: creator.token })
        ).thenAppends([]).answer;
        expectInvalid(answer, Object.keys(extra));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses wrong JSON types with 400 naming the field, and hostile JSON shapes with 400', async () => {
    const { url, spec, creator, task, lines } = await startCommand();
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
        const answer = (await spec.when({ method, path, body, token: creator.token })).thenAppends(
          [],
        ).answer;
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
        const answer = (
          await spec.when(() =>
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
          )
        ).thenAppends([]).answer;
        expectRefusal(answer, 400, 'validation');
      }),
      { numRuns: 20 },
    );
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('answers non-JSON media types with 415, malformed JSON with 400 and bad encodings with a 4xx', async () => {
    const { url, spec, creator, task, lines } = await startCommand();
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
        const answer = (
          await spec.when(() =>
            sendRaw(url, {
              method,
              path,
              body,
              headers: { ...headers, authorization: `Bearer ${creator.token}` },
            }),
          )
        ).thenAppends([]).answer;
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
    const { url, spec, creator, task } = await startCommand();
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
        const answer = (await spec.when(() => send(method, path, body, chunked))).thenAppends(
          [],
        ).answer;
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
      (await spec.when(() => send('POST', '/tasks', exactly(BODY_LIMIT_BYTES)))).thenAppends([])
        .answer,
      ['description'],
    );
    expectRefusal(
      (await spec.when(() => send('POST', '/tasks', exactly(BODY_LIMIT_BYTES + 1)))).thenAppends([])
        .answer,
      413,
    );
  });

  it('answers 404 for malformed task ids (400 for broken escapes) and appends nothing', async () => {
    const { spec, creator } = await startCommand();
    const write = fc.constantFrom(
      { method: 'PATCH', suffix: '', body: { title: 'renamed' } },
      { method: 'PUT', suffix: '', body: { title: 'renamed' } },
      { method: 'POST', suffix: '/comments', body: { text: 'hello' } },
      { method: 'DELETE', suffix: '', body: undefined },
    );
    await fc.assert(
      fc.asyncProperty(write, malformedIdSegment, async ({ method, suffix, body }, id) => {
        const answer = (
          await spec.when({ method, path: `/tasks/${id}${suffix}`, body, token: creator.token })
        ).thenAppends([]).answer;
        expectRefusal(answer, malformedIdStatus(id));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers 400 for a malformed If-Match or Idempotency-Key, 412 for a stale If-Match, and changes nothing', async () => {
    const { spec, keys, creator, task } = await startCommand();
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
        const answer = (
          await spec.when({ method, path, body, token: creator.token, headers: { [name]: value } })
        ).thenAppends([]).answer;
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
      const answer = (
        await spec.when({
          method: 'POST',
          path: '/tasks',
          body: { title: 'once' },
          token: creator.token,
          headers: { 'idempotency-key': key },
        })
      ).thenAppends([]).answer;
      expectRefusal(answer, 400, 'bad-request');
    });
    await fc.assert(create, { numRuns: 20 });
    expect(await readRevisionCount(redis, keys.taskStream(task.id))).toBe(1);
  });
});
