import { ProblemBody } from '@tasksync/contracts';
import { z } from 'zod';

export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path, e.g. `/tasks/{id}`. */
  path: string;
  summary: string;
  auth: boolean;
  body?: z.ZodType;
  /** Query parameters, from an object schema. */
  query?: z.ZodObject;
  headers?: { name: string; description: string; required?: boolean }[];
  responses: Record<number, { description: string; schema?: z.ZodType; headers?: string[] }>;
}

const schemaOf = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  });
  return rest;
};

/** The JSON Schema of every problem+json answer (RFC 9457, design §3). */
export const problemJsonSchema = () => schemaOf(ProblemBody, 'output');

/** An OpenAPI 3.1 document generated from the contracts' zod schemas, never written by hand. */
export const buildOpenApi = (info: { title: string; version: string }, routes: ApiRoute[]) => {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters = [
      ...[...route.path.matchAll(/\{(\w+)\}/g)].map((match) => ({
        name: match[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...Object.entries(route.query?.shape ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: !(schema as z.ZodType).safeParse(undefined).success,
        schema: schemaOf(schema as z.ZodType, 'input'),
      })),
      ...(route.headers ?? []).map((header) => ({
        name: header.name,
        in: 'header',
        required: header.required ?? false,
        description: header.description,
        schema: { type: 'string' },
      })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      // An error answer is problem+json unless the route documents its own body
      // (the readiness probe's 503 is its checks, as plain JSON).
      const isProblem = Number(status) >= 400 && !response.schema;
      const schema = response.schema ?? (isProblem ? ProblemBody : undefined);
      responses[status] = {
        description: response.description,
        ...(response.headers
          ? {
              headers: Object.fromEntries(
                response.headers.map((name) => [name, { schema: { type: 'string' } }]),
              ),
            }
          : {}),
        ...(schema
          ? {
              content: {
                [isProblem ? 'application/problem+json' : 'application/json']: {
                  schema: schemaOf(schema, 'output'),
                },
              },
            }
          : {}),
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      summary: route.summary,
      ...(route.auth ? { security: [{ bearer: [] }] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    paths,
  };
};

/** What `operationalRoutes` answers on /health and /ready. */
const HealthAnswer = z.strictObject({ status: z.literal('ok') });
const ReadyAnswer = z.strictObject({
  status: z.enum(['ready', 'not-ready']),
  /** Each dependency the service checked, and whether it is ready. */
  checks: z.record(z.string(), z.boolean()),
});

/** Routes every service has (design §3). */
export const operationalApiRoutes: ApiRoute[] = [
  {
    method: 'get',
    path: '/health',
    summary: 'Liveness',
    auth: false,
    responses: { 200: { description: 'alive', schema: HealthAnswer } },
  },
  {
    method: 'get',
    path: '/ready',
    summary: 'Readiness: Redis reachable',
    auth: false,
    responses: {
      200: { description: 'ready', schema: ReadyAnswer },
      503: { description: 'not ready: `checks` says which', schema: ReadyAnswer },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    auth: false,
    responses: { 200: { description: 'metrics' } },
  },
];
