import { z } from 'zod';

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
  [extension: string]: unknown;
}

/** The RFC 9457 body every error answers with, as the OpenAPI documents describe it. */
export const ProblemBody = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export const problemType = (slug: string) => `urn:tasksync:problem:${slug}`;

/** The one error type of TaskSync: it carries its HTTP status and answers as RFC 9457 problem+json. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extra: {
      errors?: { path: string; message: string }[];
      headers?: Record<string, string>;
      extensions?: Record<string, unknown>;
    } = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }

  toJSON(): ProblemDetails {
    return {
      type: problemType(this.slug),
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
      ...this.extra.extensions,
    };
  }
}

export const problems = {
  validation: (errors: { path: string; message: string }[]) =>
    new ProblemError(
      400,
      'validation',
      'Invalid request',
      'The request does not match the schema.',
      {
        errors,
      },
    ),
  badRequest: (detail: string) => new ProblemError(400, 'bad-request', 'Bad request', detail),
  unauthorized: (detail: string) =>
    new ProblemError(401, 'unauthorized', 'Unauthorized', detail, {
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    }),
  forbidden: (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail),
  notFound: (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail),
  conflict: (slug: string, detail: string, extensions?: Record<string, unknown>) =>
    new ProblemError(409, slug, 'Conflict', detail, extensions ? { extensions } : {}),
  gone: (detail: string) => new ProblemError(410, 'gone', 'Gone', detail),
  preconditionFailed: (detail: string, currentRevision: number) =>
    new ProblemError(412, 'precondition-failed', 'Precondition failed', detail, {
      extensions: { currentRevision },
    }),
  unprocessable: (slug: string, detail: string) =>
    new ProblemError(422, slug, 'Unprocessable content', detail),
  tooManyRequests: (detail: string, retryAfterSeconds: number) =>
    new ProblemError(429, 'too-many-requests', 'Too many requests', detail, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  unavailable: (slug: string, detail: string, retryAfterSeconds?: number) =>
    new ProblemError(
      503,
      slug,
      'Service unavailable',
      detail,
      retryAfterSeconds === undefined
        ? {}
        : { headers: { 'Retry-After': String(retryAfterSeconds) } },
    ),
};

/** The `errors` entry for a field or parameter nobody asked for. */
export const unknownField = (key: string, at: string[] = []) => ({
  path: [...at, key].join('.'),
  message: `Unrecognized key: "${key}"`,
});

/**
 * One `{path, message}` per problem. A path is the field's, dotted (`labels.3`),
 * in a body and in a query string alike; `whole` names the parsed value itself
 * (`(body)`, `(query)`, a header). An unknown field is named itself, so the
 * client sees what to drop.
 */
export const zodIssuesToErrors = (issues: z.core.$ZodIssue[], whole = '(body)') =>
  issues.flatMap((issue) => {
    const at = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => unknownField(key, at));
    return [{ path: at.join('.') || whole, message: issue.message }];
  });

/**
 * Parses with a contract schema; a mismatch is a 400 listing every problem.
 * `whole` names the value in the errors: `(body)` unless it came from elsewhere.
 */
export const parseWith = <S extends z.ZodType>(
  schema: S,
  value: unknown,
  whole = '(body)',
): z.output<S> => {
  const result = schema.safeParse(value);
  if (!result.success) throw problems.validation(zodIssuesToErrors(result.error.issues, whole));
  return result.data;
};
