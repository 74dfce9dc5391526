import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  concretePath,
  documentedRoutes,
  OPENAPI_DOCUMENTS,
  routeLabel,
  templatePattern,
} from './routes';
import { expectSafeProblem, rawRequest, redis, type System, startSystem } from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

describe('API9 improper inventory management', () => {
  it('documents in /openapi.json exactly the routes each API service serves, and exactly which need a token', async () => {
    const [member, colleague] = [await sys.register('member'), await sys.register('colleague')];
    const project = await sys.createProject(member.token, { visibility: 'private' });
    await sys.addMember(member, project.id, colleague, 'viewer');
    const task = await sys.createTask(member.token, { projectId: project.id });
    const documented = documentedRoutes();
    for (const service of ['identity', 'command', 'query'] as const) {
      // The routes above come from the document each service serves.
      expect((await sys.api[service].get('/openapi.json')).body).toEqual(
        OPENAPI_DOCUMENTS[service](),
      );
    }
    const ids = {
      task: task.id,
      user: member.userId,
      project: project.id,
      member: colleague.userId,
    };
    const candidates = new Set([
      ...documented.map((route) => route.path),
      '/',
      '/openapi.json',
      '/admin',
      '/debug',
      '/docs',
      '/swagger.json',
      '/openapi.yaml',
      '/.env',
      '/config',
      '/events',
      '/auth/logout',
      '/auth/refresh',
      '/users/{id}/password',
      '/tasks/{id}/events',
      '/tasks/{id}/comments/{id}',
      '/projects/{id}/archive',
      '/projects/{id}/restore',
      '/projects/{id}/tasks',
      '/projects/{id}/members/{userId}/role',
      '/projects/{id}/leave',
      '/members',
    ]);
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    for (const service of ['identity', 'command', 'query'] as const) {
      const expected = documented
        .filter((route) => route.service === service)
        .map((route) => `${route.method} ${route.path}`);
      /** The documented route a request falls under (`/users/me` is a `/users/{id}`), if any. */
      const documentedAs = (method: string, concrete: string) =>
        expected.find((label) => {
          const [documentedMethod, template] = label.split(' ') as [string, string];
          return documentedMethod === method && templatePattern(template).test(concrete);
        });
      const served = new Set<string>();
      for (const path of candidates) {
        for (const method of methods) {
          const concrete = concretePath(path, ids);
          const answer = await sys.api[service].request(method, concrete, {
            token: sys.admin.token,
            headers: { 'content-type': 'application/json' },
          });
          const unrouted =
            answer.status === 404 && String(answer.body?.detail).startsWith('No route for ');
          if (!unrouted) served.add(documentedAs(method, concrete) ?? `${method} ${path}`);
        }
      }
      // The document itself is served beside what it documents.
      expect({ service, served: [...served].sort() }).toEqual({
        service,
        served: [...expected, 'GET /openapi.json'].sort(),
      });
    }
    // `security` in the document says which routes answer 401 without a token.
    for (const route of documented) {
      const answer = await sys.api[route.service].request(
        route.method,
        concretePath(route.path, ids),
        { headers: { 'content-type': 'application/json' } },
      );
      expect({ route: routeLabel(route), unauthorized: answer.status === 401 }).toEqual({
        route: routeLabel(route),
        unauthorized: route.auth,
      });
    }
  });

  it('routes through the front door only what the documents list, and the board', async () => {
    // The door's own probes answer for it; no service's probes or internals are reachable through it.
    expect((await rawRequest(sys.urls.door, { path: '/health' })).body).toEqual({ status: 'ok' });
    for (const path of [
      '/api/identity/health',
      '/api/query/tasks',
      '/projector/ready',
      '/redis',
      '/admin',
      '/tasks/x/y/z',
      '/internal/metrics',
    ]) {
      const answer = await rawRequest(sys.urls.door, { path });
      expectSafeProblem(answer, 404, 'not-found');
      expect(answer.body.detail).toBe(`No route for GET ${path}.`);
    }
  });
});
