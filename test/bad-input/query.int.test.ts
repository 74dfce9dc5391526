import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  badLimit,
  LIST_PARAMS,
  malformedIdSegment,
  malformedIdStatus,
  printable,
  queryString,
  text,
} from './arbitraries';
import { expectInvalid, expectRefusal, RUNS, redis, startQuery } from './services';

afterAll(() => redis.quit());

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
