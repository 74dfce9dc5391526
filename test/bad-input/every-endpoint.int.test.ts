import { newId } from '@tasksync/contracts';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiSpec } from '../api-spec';
import {
  headerValue,
  LIST_PARAMS,
  malformedIdSegment,
  malformedJson,
  nonJsonMediaType,
  printable,
  queryString,
  TASK_FIELDS,
  unknownFields,
} from './arbitraries';
import {
  errorsLogged,
  expectSafeAnswer,
  forger,
  redis,
  sendRaw,
  startCommand,
  startIdentity,
  startQuery,
} from './services';

afterAll(() => redis.quit());

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
  spec: ApiSpec,
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
      const answer = (
        await spec.when(() =>
          sendRaw(url, { method, path, headers, body: withBody ? request.body!.raw : undefined }),
        )
      ).thenAppends([]).answer;
      expectSafeAnswer(answer);
    }),
    { numRuns },
  );
};

describe('every endpoint, any bad input', () => {
  it('identity-service: never a 5xx, never internals, never an append', async () => {
    const { url, spec, member, admin, lines } = await startIdentity();
    await fuzzEveryEndpoint(url, spec, ENDPOINTS.identity, [member.token, admin.token], 150);
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('command-service: never a 5xx, never internals, never an append', async () => {
    const { url, spec, creator, admin, lines } = await startCommand();
    await fuzzEveryEndpoint(url, spec, ENDPOINTS.command, [creator.token, admin.token], 150);
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('query-service: never a 5xx, never internals', async () => {
    const { url, spec, reader, lines } = await startQuery();
    await fuzzEveryEndpoint(url, spec, ENDPOINTS.query, [reader.token], 150);
    expect(errorsLogged(lines)).toEqual([]);
  });
});
