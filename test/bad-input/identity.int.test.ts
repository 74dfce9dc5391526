import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  malformedIdSegment,
  malformedIdStatus,
  malformedJson,
  nonJsonMediaType,
  oversizedBody,
  printable,
  text,
  unknownFields,
} from './arbitraries';
import {
  errorsLogged,
  expectInvalid,
  expectRefusal,
  RUNS,
  redis,
  sendRaw,
  startIdentity,
} from './services';

afterAll(() => redis.quit());

describe('identity-service under bad input', () => {
  const registerPaths = fc.constantFrom('/auth/register', '/users/register');
  const loginPaths = fc.constantFrom('/auth/login', '/users/login');

  it('refuses passwords outside 8 to 72 UTF-8 bytes, long names and non-e-mails with 400 naming the field', async () => {
    const { spec } = await startIdentity();
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
        const answer = (
          await spec.when({
            method: 'POST',
            path,
            body: { email: 'new@example.com', password: 'long enough', ...body },
          })
        ).thenAppends([]).answer;
        expectInvalid(answer, [field]);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses unknown fields with 400 naming each, on register, login and role change', async () => {
    const { api, spec, admin, member } = await startIdentity();
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
        const answer = (
          await spec.when({ method, path, body: { ...body, ...extra }, token: admin.token })
        ).thenAppends([]).answer;
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
    const { spec, admin, member } = await startIdentity();
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
        const answer = (await spec.when({ method, path, body, token: admin.token })).thenAppends(
          [],
        ).answer;
        if (expected.status === 400) expectInvalid(answer, expected.paths);
        else expectRefusal(answer, malformedIdStatus(path.split('/')[2]!));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers non-JSON media types with 415 and malformed JSON with 400, appending nothing', async () => {
    const { url, spec, admin, member, lines } = await startIdentity();
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
        const answer = (
          await spec.when(() =>
            sendRaw(url, {
              method,
              path,
              body,
              headers: { 'content-type': contentType, authorization: `Bearer ${admin.token}` },
            }),
          )
        ).thenAppends([]).answer;
        expectRefusal(answer, status);
      }),
      { numRuns: RUNS },
    );
    expect(errorsLogged(lines)).toEqual([]);
  });

  it('answers bodies over 100 kB with 413, with or without Content-Length', async () => {
    const { url, spec, admin, member } = await startIdentity();
    const path = fc.constantFrom(
      '/auth/register',
      '/users/register',
      '/auth/login',
      `/users/${member.userId}/role`,
    );
    await fc.assert(
      fc.asyncProperty(path, oversizedBody, async (target, { body, chunked }) => {
        const answer = (
          await spec.when(() =>
            sendRaw(url, {
              method: target.endsWith('/role') ? 'PATCH' : 'POST',
              path: target,
              body,
              chunked,
              headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${admin.token}`,
              },
            }),
          )
        ).thenAppends([]).answer;
        expectRefusal(answer, 413, 'payload-too-large');
      }),
      { numRuns: 15 },
    );
  });
});
