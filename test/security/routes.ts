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
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    return Object.entries(paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({
        service,
        method: method.toUpperCase(),
        path,
        auth: Array.isArray(operation.security),
      })),
    );
  });

export const concretePath = (path: string, ids: { task: string; user: string }) => {
  const concrete = path.replace(/\{id\}/, path.startsWith('/users') ? ids.user : ids.task);
  expect(concrete).not.toContain('{');
  return concrete;
};

/** A valid body for each documented write, so that only the token can be what is refused. */
export const VALID_BODIES: Record<string, unknown> = {
  'POST /tasks': { title: 'through the gate' },
  'PATCH /tasks/{id}': { title: 'through the gate' },
  'PUT /tasks/{id}': { title: 'through the gate' },
  'POST /tasks/{id}/comments': { text: 'through the gate' },
  'PATCH /users/{id}/role': { role: 'admin' },
};
