import { expect } from 'vitest';
import { commandOpenApi } from '../../command-service/src/openapi';
import { identityOpenApi } from '../../identity-service/src/openapi';
import { queryOpenApi } from '../../query-service/src/openapi';
import type { ServiceName } from './system';

/** Each API service's OpenAPI document, as its app serves it on GET /openapi.json. */
export const OPENAPI_DOCUMENTS: Record<ServiceName, () => unknown> = {
  identity: identityOpenApi,
  command: commandOpenApi,
  query: queryOpenApi,
};

export interface DocumentedRoute {
  service: ServiceName;
  method: string;
  path: string;
  auth: boolean;
  /** The names of its documented query parameters. */
  query: string[];
}
export const routeLabel = (route: DocumentedRoute) =>
  `${route.service} ${route.method} ${route.path}`;

/**
 * Every route the three API services document. Read from the documents
 * themselves, so tests can be generated from it; API9 proves each service
 * serves exactly this document and exactly these routes.
 */
export const documentedRoutes = (): DocumentedRoute[] =>
  (['identity', 'command', 'query'] as const).flatMap((service) => {
    const { paths } = OPENAPI_DOCUMENTS[service]() as {
      paths: Record<
        string,
        Record<string, { security?: unknown[]; parameters?: { name: string; in: string }[] }>
      >;
    };
    return Object.entries(paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({
        service,
        method: method.toUpperCase(),
        path,
        auth: Array.isArray(operation.security),
        query: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      })),
    );
  });

/** The ids a concrete path is made of: `{id}` by the path's first segment, `{userId}` a member. */
export interface PathIds {
  task: string;
  user: string;
  project: string;
  /** A member of `project` (the `{userId}` of its member routes). */
  member: string;
}

export const concretePath = (path: string, ids: PathIds) => {
  const idOf = path.startsWith('/users')
    ? ids.user
    : path.startsWith('/projects')
      ? ids.project
      : ids.task;
  const concrete = path.replaceAll('{id}', idOf).replaceAll('{userId}', ids.member);
  expect(concrete).not.toContain('{');
  return concrete;
};

/** A documented template as a pattern its concrete paths match. */
export const templatePattern = (template: string) =>
  new RegExp(`^${template.replaceAll(/\{[^}]+\}/g, '[^/]+')}$`);

/** A valid body for each documented write, so that only the token (or who holds it) can be what is refused. */
const VALID_BODIES: Record<string, (email: string) => unknown> = {
  'POST /tasks': () => ({ title: 'through the gate' }),
  'PATCH /tasks/{id}': () => ({ title: 'through the gate' }),
  'PUT /tasks/{id}': () => ({ title: 'through the gate' }),
  'POST /tasks/{id}/comments': () => ({ text: 'through the gate' }),
  'PATCH /users/{id}/role': () => ({ role: 'admin' }),
  'POST /projects': () => ({ name: 'through the gate' }),
  'PATCH /projects/{id}': () => ({ description: 'through the gate' }),
  'PUT /projects/{id}/members/{userId}': () => ({ role: 'viewer' }),
  // `email` is a registered user's, for the add by e-mail.
  'POST /projects/{id}/members': (email) => ({ email, role: 'viewer' }),
};

/** The valid body of a documented route (undefined for one without a body). */
export const validBody = (route: { method: string; path: string }, email: string): unknown =>
  VALID_BODIES[`${route.method} ${route.path}`]?.(email);
