import { describe, expect, it } from 'vitest';
import { commandOpenApi } from '../../command-service/src/openapi';
import { identityOpenApi } from '../../identity-service/src/openapi';
import { queryOpenApi } from '../../query-service/src/openapi';
import { API_SERVICES, type ApiService, mergeOpenApi, type OpenApiDocument } from './openapi';
import { createRouter, pathPattern, ROUTES } from './routes';

const documents = {
  identity: identityOpenApi(),
  command: commandOpenApi(),
  query: queryOpenApi(),
} as unknown as Record<ApiService, OpenApiDocument>;

const OPERATIONAL = ['/health', '/ready', '/metrics'];

/** `METHOD /path` of every operation each service documents, but its probes. */
const documented = (service: ApiService) =>
  Object.entries(documents[service].paths)
    .filter(([path]) => !OPERATIONAL.includes(path))
    .flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );

describe('the front door routing table (design §12)', () => {
  it('holds exactly the routes the services document, each to the service that documents it', () => {
    for (const service of API_SERVICES) {
      const inTable = ROUTES.filter((route) => route.to === service).map(
        (route) => `${route.method} ${route.path}`,
      );
      expect(inTable.sort()).toEqual(documented(service).sort());
    }
  });

  it('sends a concrete request of every documented route to its service, the first match winning', () => {
    const route = createRouter();
    for (const service of API_SERVICES) {
      for (const entry of documented(service)) {
        const [method, path] = entry.split(' ') as [string, string];
        const concrete = path.replaceAll(/\{[^}]+\}/g, '0f8fad5b-d9cb-469f-a165-70867728950e');
        expect({ entry, to: route(method, concrete).route?.to }).toEqual({ entry, to: service });
      }
    }
    expect(route('GET', '/users/me').route?.to).toBe('identity');
    expect(route('GET', '/users/profile').route?.to).toBe('identity');
    expect(route('GET', '/users/someone').route?.to).toBe('query');
    expect(route('HEAD', '/tasks').route?.to).toBe('query');
    expect(route('GET', '/socket.io/').route).toMatchObject({ to: 'notifier', websocket: true });
    expect(route('POST', '/socket.io/').route?.to).toBe('notifier');
    expect(route('GET', '/').route?.to).toBe('notifier');
    expect(route('GET', '/docs/swagger-ui.css').route?.to).toBe('door');
  });

  it('says which methods a path serves when the method is not one of them, and none for an unknown path', () => {
    const route = createRouter();
    expect(route('DELETE', '/tasks')).toEqual({ allowed: ['POST', 'GET'] });
    expect(route('POST', '/tasks/x/history')).toEqual({ allowed: ['GET'] });
    expect(route('GET', '/nowhere')).toEqual({ allowed: [] });
    expect(route('GET', '/tasks/a/b/c')).toEqual({ allowed: [] });
    expect(route('GET', '/tasksx')).toEqual({ allowed: [] });
    expect(route('GET', '/socket.iox')).toEqual({ allowed: [] });
  });

  it('matches a template segment by segment and nothing across a slash', () => {
    const pattern = new RegExp(pathPattern('/projects/{id}/members/{userId}'));
    expect(pattern.test('/projects/a/members/b')).toBe(true);
    expect(pattern.test('/projects/a/x/members/b')).toBe(false);
    expect(pattern.test('/projects//members/b')).toBe(false);
    expect(pattern.test('/projects/a/members/b/')).toBe(false);
    expect(new RegExp(pathPattern('/board.js')).test('/boardxjs')).toBe(false);
  });

  it('merges the documents into one, adding what the door answers, and refuses a route the table sends elsewhere', () => {
    const merged = mergeOpenApi(documents);
    expect(merged.openapi).toBe('3.1.0');
    const operations = Object.entries(merged.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, operation]) => ({ path, method, operation })),
    );
    const apiOperations = operations.filter(({ operation }) => operation.tags?.[0] !== 'door');
    expect(
      apiOperations.map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort(),
    ).toEqual(API_SERVICES.flatMap(documented).sort());
    for (const { path, method, operation } of operations) {
      expect(operation.summary, `${method} ${path}`).toMatch(/\S/);
    }
    for (const { path, method, operation } of apiOperations) {
      const statuses = Object.keys(operation.responses);
      expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['502', '503', '504']));
      // Its own error answers, besides the door's: at least the refusal of a bad request.
      expect(
        statuses.filter((status) => status.startsWith('4') && status !== '429'),
        `${method} ${path}`,
      ).not.toEqual([]);
      const limited = ROUTES.find(
        (route) => route.method === method.toUpperCase() && route.path === path,
      )?.limit;
      expect(statuses.includes('429'), `${method} ${path}`).toBe(Boolean(limited));
    }
    expect(Object.keys(merged.paths)).toEqual(
      expect.arrayContaining(['/health', '/ready', '/metrics', '/openapi.json', '/docs']),
    );

    const misrouted = ROUTES.map((route) =>
      route.method === 'GET' && route.path === '/stats'
        ? { ...route, to: 'command' as const }
        : route,
    );
    expect(() => mergeOpenApi(documents, misrouted)).toThrow(
      'GET /stats of the query service is routed to command',
    );
  });
});
