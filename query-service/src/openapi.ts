import { type ApiRoute, buildOpenApi, operationalApiRoutes } from '@tasksync/platform';
import { ListTasksQuery } from './tasks/list-tasks';

const consistencyHeaders = [
  {
    name: 'X-Min-Position',
    description: 'Wait until the read model has applied these positions (read-your-writes).',
  },
  {
    name: 'X-Max-Wait-Ms',
    description: 'How long to wait for X-Min-Position (default 2000, max 10000).',
  },
  { name: 'If-None-Match', description: 'ETag of an earlier answer: 304 when unchanged.' },
];
const read = (
  path: string,
  summary: string,
  extra: Record<number, { description: string }> = {},
): ApiRoute => ({
  method: 'get',
  path,
  summary,
  auth: true,
  headers: consistencyHeaders,
  responses: {
    200: {
      description: 'answer, with X-Read-Position and ETag',
      headers: ['X-Read-Position', 'ETag'],
    },
    304: { description: 'unchanged since If-None-Match' },
    400: { description: 'invalid query' },
    401: { description: 'no valid token' },
    503: { description: 'projection-behind: X-Min-Position not reached in time (Retry-After)' },
    ...extra,
  },
});

const routes: ApiRoute[] = [
  ...operationalApiRoutes,
  { ...read('/tasks', 'List tasks: filters, sort, cursor paging'), query: ListTasksQuery },
  read('/tasks/{id}', 'A task with its comments; ?asOf=<ISO time or position> for its past', {
    404: { description: 'unknown task' },
    410: { description: 'deleted task' },
  }),
  read('/tasks/{id}/history', 'A task history, oldest first', {
    404: { description: 'unknown task' },
  }),
  read('/users', 'Public profiles'),
  read('/users/{id}', 'A public profile', { 404: { description: 'unknown user' } }),
  read('/stats', 'Counts by status and by assignee'),
];

export const queryOpenApi = () =>
  buildOpenApi({ title: 'TaskSync query-service', version: '1.0.0' }, routes);
