import { createTaskSyncClient, type paths, type TaskSyncClient } from '@tasksync/client';
import type { ProblemDetails } from '@tasksync/contracts';

export type { TaskSyncClient };

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

/**
 * Never a cached answer: the feed resumes from the read position the answer reports.
 * A constant spread in, since Node's RequestInit type (the unit tests compile this
 * module without the DOM) has no `cache`.
 */
const NO_STORE = { cache: 'no-store' } as const;

/**
 * The typed client (`@tasksync/client`) as the board uses it: paths, parameters and
 * bodies are checked against the merged OpenAPI document, and every call fails the
 * same way, here rather than at each call: a non-2xx answer throws `ApiError` with
 * its problem, a network failure `ApiError(0)`. With a session's token, a 401 means
 * the token expired or was revoked: `onUnauthorized` ends the session. Without one
 * it is a bad login, which the caller reports.
 */
export const createBoardClient = ({
  baseUrl,
  token,
  onUnauthorized,
}: {
  /** The page's own origin: the front door routes each API path to its service (design §12). */
  baseUrl: string;
  token?: string;
  onUnauthorized?: () => void;
}): TaskSyncClient => {
  const client = createTaskSyncClient(baseUrl, {
    token,
    ...NO_STORE,
    headers: { Accept: 'application/json' },
  });
  client.use({
    onError: () => new ApiError(0, { detail: 'The server cannot be reached.' }),
    async onResponse({ response }) {
      if (response.ok) return undefined;
      if (response.status === 401 && token) onUnauthorized?.();
      const text = await response.text();
      throw new ApiError(response.status, text ? parseJson(text) : null);
    },
  });
  return client;
};

/** An answer's body and the read position it reflects (`X-Read-Position`, empty if none). */
export interface Answer<T> {
  data: T;
  readPosition: string;
}

/** The body the document gives a 2xx answer; `unknown` where it gives none. */
type Documented<D> = [Exclude<D, undefined>] extends [never] ? unknown : Exclude<D, undefined>;

/** A call's answer: it resolves only for a 2xx (the client throws otherwise), so its body is there. */
export const answer = async <D>(
  call: Promise<{ data?: D; response: Response }>,
): Promise<Answer<Documented<D>>> => {
  const { data, response } = await call;
  return {
    data: data as Documented<D>,
    readPosition: response.headers.get('X-Read-Position') ?? '',
  };
};

/** The body the merged document gives the 200 answer of GET `P`. */
type GetAnswer<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer A } } } };
}
  ? A
  : never;

/** A task as the query-service lists it (GET /tasks). */
export type TaskView = GetAnswer<'/tasks'>['items'][number];
/** GET /tasks/{id} without `asOf` (which the board never sends): the task now, with its comments. */
type TaskWithComments = Extract<GetAnswer<'/tasks/{id}'>, { comments: unknown }>;
export type Comment = TaskWithComments['comments'][number];
/** A person as the board knows them: the part of a profile the feed's user events carry too. */
export type BoardUser = Pick<GetAnswer<'/users'>['items'][number], 'id' | 'name' | 'role'>;

/** A task with its comments, as GET /tasks/{id} answers it. */
export const readTask = async (
  client: TaskSyncClient,
  id: string,
  headers: Record<string, string> = {},
): Promise<TaskWithComments> => {
  const { data } = await answer(client.GET('/tasks/{id}', { params: { path: { id } }, headers }));
  return data as TaskWithComments;
};

/** What the pages of each list path the board reads hold. */
interface ListItems {
  '/tasks': TaskView;
  '/users': GetAnswer<'/users'>['items'][number];
  '/projects': GetAnswer<'/projects'>['items'][number];
}
type ListPath = keyof ListItems;
type ListQuery<P extends ListPath> = Omit<
  NonNullable<paths[P]['get']['parameters']['query']>,
  'limit' | 'cursor'
>;

/** GET of a list path, for the paths as one union (openapi-fetch types one path per call). */
type ListGet = (
  path: ListPath,
  init: { params: { query: Record<string, unknown> }; headers: Record<string, string> },
) => Promise<{ data?: unknown; response: Response }>;

/** Follows nextCursor to the end; `headers` go with the first page, the read that sets the position. */
export const fetchAllPages = async <P extends ListPath>(
  client: TaskSyncClient,
  path: P,
  query: ListQuery<P>,
  headers: Record<string, string>,
) => {
  const get: ListGet = client.GET;
  const items: ListItems[P][] = [];
  let cursor: string | null = null;
  let firstPosition: string | null = null;
  do {
    const { data, readPosition }: Answer<unknown> = await answer(
      get(path, {
        params: { query: { ...query, limit: PAGE_SIZE, ...(cursor && { cursor }) } },
        headers: firstPosition === null ? headers : {},
      }),
    );
    const page = data as { items: ListItems[P][]; nextCursor: string | null };
    firstPosition ??= readPosition;
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return { items, position: firstPosition };
};
