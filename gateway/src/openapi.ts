import { buildOpenApi, operationalApiRoutes, problemJsonSchema } from '@tasksync/platform';
import { createRouter, ROUTES, type Route, type Upstream } from './routes';

/** The part of an OpenAPI 3.1 document the door reads and writes. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  components?: Record<string, Record<string, unknown>>;
  paths: Record<string, Record<string, OpenApiOperation>>;
  [key: string]: unknown;
}
interface OpenApiOperation {
  summary?: string;
  tags?: string[];
  responses: Record<string, unknown>;
  [key: string]: unknown;
}

export type ApiService = Exclude<Upstream, 'notifier'>;
export const API_SERVICES: readonly ApiService[] = ['identity', 'command', 'query'];

/** Each service's own probes: behind one door, `/health`, `/ready` and `/metrics` are the door's. */
const OPERATIONAL = new Set([...operationalApiRoutes.map((route) => route.path), '/openapi.json']);

/** The door's own routes, as the merged document lists them. */
export const doorOpenApi = () =>
  buildOpenApi({ title: 'TaskSync front door', version: '1.0.0' }, [
    {
      method: 'get',
      path: '/health',
      summary: 'Liveness of the door',
      auth: false,
      responses: { 200: { description: 'alive' } },
    },
    {
      method: 'get',
      path: '/ready',
      summary: 'Readiness: every service behind the door is ready',
      auth: false,
      responses: {
        200: { description: 'ready' },
        503: { description: 'a service is not ready; `checks` says which' },
      },
    },
    {
      method: 'get',
      path: '/metrics',
      summary: "The door's Prometheus metrics",
      auth: false,
      responses: { 200: { description: 'metrics' } },
    },
    {
      method: 'get',
      path: '/openapi.json',
      summary: 'This document: every service’s API merged, as the door routes it',
      auth: false,
      responses: { 200: { description: 'the OpenAPI 3.1 document' } },
    },
    {
      method: 'get',
      path: '/docs',
      summary: 'The API reference page (Swagger UI) for this document',
      auth: false,
      responses: { 200: { description: 'an HTML page' } },
    },
  ]);

const problem = (description: string, headers?: string[]) => ({
  description,
  ...(headers
    ? { headers: Object.fromEntries(headers.map((name) => [name, { schema: { type: 'string' } }])) }
    : {}),
  content: { 'application/problem+json': { schema: problemJsonSchema() } },
});

/** What the door itself may answer on a route it forwards. */
const doorAnswers = (route: Route): Record<string, unknown> => ({
  ...(route.limit
    ? {
        429: problem(
          route.limit === 'write'
            ? 'too many writes with this token (the door’s rate limit)'
            : 'too many requests from this address (the door’s rate limit)',
          ['Retry-After'],
        ),
      }
    : {}),
  502: problem('the service broke off its answer'),
  503: problem('the service is not reachable', ['Retry-After']),
  504: problem('the service did not answer in time'),
});

/**
 * One OpenAPI 3.1 document for the whole API behind the door (design §12):
 * every operation of the services' own documents, tagged with its service,
 * with the answers the door adds (429 on rate-limited routes; 502, 503, 504),
 * and the door's own routes. An operation the routing table does not send to
 * the service that documents it is an error: the table and the documents
 * must agree.
 */
export const mergeOpenApi = (
  documents: Record<ApiService, OpenApiDocument>,
  routes: readonly Route[] = ROUTES,
): OpenApiDocument => {
  const route = createRouter(routes);
  const paths: OpenApiDocument['paths'] = {};
  for (const service of API_SERVICES) {
    for (const [path, operations] of Object.entries(documents[service].paths)) {
      if (OPERATIONAL.has(path)) continue;
      for (const [method, operation] of Object.entries(operations)) {
        const concrete = path.replaceAll(/\{[^}]+\}/g, 'x');
        const found = route(method.toUpperCase(), concrete).route;
        if (found?.to !== service)
          throw new Error(
            `${method.toUpperCase()} ${path} of the ${service} service is routed to ${found?.to ?? 'nothing'}`,
          );
        paths[path] ??= {};
        paths[path][method] = {
          ...operation,
          tags: [service],
          responses: { ...operation.responses, ...doorAnswers(found) },
        };
      }
    }
  }
  const door = doorOpenApi();
  for (const [path, operations] of Object.entries(door.paths)) {
    paths[path] = Object.fromEntries(
      Object.entries(operations).map(([method, operation]) => [
        method,
        { ...(operation as OpenApiOperation), tags: ['door'] },
      ]),
    );
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'TaskSync API',
      version: documents.command.info.version,
      description:
        'Every TaskSync route behind one base URL. Writes go to the command-service, reads to the query-service, accounts to the identity-service; the live feed is Socket.IO on `/socket.io`.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    tags: [
      { name: 'identity', description: 'Accounts and tokens (identity-service)' },
      { name: 'command', description: 'Writes: tasks and projects (command-service)' },
      { name: 'query', description: 'Reads (query-service)' },
      { name: 'door', description: 'The front door itself' },
    ],
    paths,
  };
};
