import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { paths } from './api';

export type { components, operations, paths } from './api';

export type TaskSyncClient = Client<paths>;

/**
 * A typed client for the TaskSync API behind the front door (design §12):
 * openapi-fetch over the types generated from the merged OpenAPI document
 * (client/src/api.ts, `npm run client`). Paths, parameters, bodies and answers
 * are checked by TypeScript; `token` is sent as `Authorization: Bearer`.
 *
 *   const api = createTaskSyncClient('http://localhost:3000', { token });
 *   const { data, error, response } = await api.POST('/tasks', { body: { title: 'Ship it' } });
 */
export const createTaskSyncClient = (
  baseUrl: string,
  options: { token?: string | undefined } & Omit<ClientOptions, 'baseUrl'> = {},
): TaskSyncClient => {
  const { token, headers, ...rest } = options;
  return createClient<paths>({
    baseUrl,
    ...rest,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
};
