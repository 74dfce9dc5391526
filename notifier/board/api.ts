import type { ProblemDetails } from '@tasksync/contracts';

/**
 * The services, at the page's own origin: the board is served by the front
 * door (design §12), which routes each API path to its service.
 */
export const IDENTITY = '';
export const COMMAND = '';
export const QUERY = '';
const PAGE_SIZE = 200;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    problem: unknown,
  ) {
    super(describeProblem(status, problem));
  }
}

/** A problem+json answer as one line: the field errors when there are any, else the detail. */
const describeProblem = (status: number, body: unknown) => {
  const problem = (
    typeof body === 'object' && body !== null ? body : {}
  ) as Partial<ProblemDetails>;
  if (Array.isArray(problem.errors) && problem.errors.length > 0) {
    return problem.errors
      .map(({ path, message }) => (path ? `${path}: ${message}` : message))
      .join('; ');
  }
  return problem.detail || problem.title || `The request failed (HTTP ${status}).`;
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};

export interface CallOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** An answer's body and the read position it reflects (`X-Read-Position`, empty if none). */
export interface Answer<T> {
  data: T;
  readPosition: string;
}

export type Api = <T>(path: string, options?: CallOptions) => Promise<Answer<T>>;

/**
 * JSON calls through the proxy. With a session's token, a 401 means the token
 * expired or was revoked: `onUnauthorized` ends the session. Without one it is
 * a bad login, which the caller reports. Bodies are the services' own answers,
 * trusted as their contracts describe them.
 */
export const createApi =
  ({ token, onUnauthorized }: { token?: string; onUnauthorized?: () => void } = {}): Api =>
  async <T>(path: string, { method = 'GET', body, headers = {} }: CallOptions = {}) => {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        // Never a cached answer: the feed resumes from the read position the answer reports.
        cache: 'no-store',
        headers: {
          Accept: 'application/json',
          ...(body !== undefined && { 'Content-Type': 'application/json' }),
          ...(token && { Authorization: `Bearer ${token}` }),
          ...headers,
        },
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, { detail: 'The server cannot be reached.' });
    }
    const text = await response.text();
    const data = text ? parseJson(text) : null;
    if (!response.ok) {
      if (response.status === 401 && token) onUnauthorized?.();
      throw new ApiError(response.status, data);
    }
    return { data: data as T, readPosition: response.headers.get('X-Read-Position') ?? '' };
  };

/** Follows nextCursor to the end; `headers` go with the first page, the read that sets the position. */
export const fetchAllPages = async <T>(
  api: Api,
  path: string,
  params: Record<string, string>,
  headers: Record<string, string>,
) => {
  const items: T[] = [];
  let cursor: string | null = null;
  let firstPosition: string | null = null;
  do {
    const query = new URLSearchParams({ ...params, limit: String(PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    const { data, readPosition }: Answer<{ items: T[]; nextCursor?: string | null }> = await api(
      `${path}?${query}`,
      { headers: firstPosition === null ? headers : {} },
    );
    firstPosition ??= readPosition;
    items.push(...data.items);
    cursor = data.nextCursor ?? null;
  } while (cursor);
  return { items, position: firstPosition };
};
