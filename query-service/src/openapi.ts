import {
  ProjectAnswer,
  ProjectMember,
  StatsAnswer,
  TaskHistoryAnswer,
  TaskListAnswer,
  TaskReadAnswer,
  UserAnswer,
  UserListAnswer,
} from '@tasksync/contracts';
import { type ApiRoute, buildOpenApi, operationalApiRoutes } from '@tasksync/platform';
import { z } from 'zod';
import { ListProjectsQuery } from './projects/read-projects';
import { StatsQuery } from './stats/task-counts';
import { ListTasksQuery } from './tasks/list-tasks';
import { TaskHistoryQuery } from './tasks/task-history';
import { ListUsersQuery } from './users/profiles';

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
  schema?: z.ZodType,
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
      ...(schema ? { schema } : {}),
    },
    304: { description: 'unchanged since If-None-Match' },
    400: { description: 'invalid query' },
    401: { description: 'no valid token' },
    503: { description: 'projection-behind: X-Min-Position not reached in time (Retry-After)' },
    ...extra,
  },
});

// What the caller may not see answers exactly as what does not exist (design §10).
const unseenProject = { 404: { description: 'no project with this id that the caller sees' } };
const unseenTask = {
  404: { description: 'no task with this id, or one of a project the caller does not see' },
};
const TaskQuery = z.strictObject({
  asOf: z
    .string()
    .optional()
    .describe("An ISO time or a position on the task's log: the task as it was then"),
});

const routes: ApiRoute[] = [
  ...operationalApiRoutes,
  {
    ...read(
      '/tasks',
      'List the tasks of the projects the caller sees: filters, sort, cursor paging',
      unseenProject,
      TaskListAnswer,
    ),
    query: ListTasksQuery,
  },
  {
    ...read(
      '/tasks/{id}',
      'A task with its comments; ?asOf=<ISO time or position> for its past (no comments, with deleted and asOf)',
      { ...unseenTask, 410: { description: 'deleted task' } },
      TaskReadAnswer,
    ),
    query: TaskQuery,
  },
  {
    ...read('/tasks/{id}/history', 'A task history, oldest first', unseenTask, TaskHistoryAnswer),
    query: TaskHistoryQuery,
  },
  { ...read('/users', 'Public profiles', {}, UserListAnswer), query: ListUsersQuery },
  read('/users/{id}', 'A public profile', { 404: { description: 'unknown user' } }, UserAnswer),
  {
    ...read(
      '/stats',
      'Live tasks by status and by assignee, of one project or of every project the caller sees',
      unseenProject,
      StatsAnswer,
    ),
    query: StatsQuery,
  },
  {
    ...read(
      '/projects',
      'The projects the caller sees, by name, with their access, member count and tasks by status; archived=true lists the archived ones',
      {},
      z.object({ items: z.array(ProjectAnswer), nextCursor: z.string().nullable() }),
    ),
    query: ListProjectsQuery,
  },
  read(
    '/projects/{id}',
    'A project the caller sees, with their access, member count and tasks by status',
    unseenProject,
    ProjectAnswer,
  ),
  read(
    '/projects/{id}/members',
    'The members of a project the caller sees (owners, editors, viewers; each by name)',
    unseenProject,
    z.object({ items: z.array(ProjectMember) }),
  ),
];

export const queryOpenApi = () =>
  buildOpenApi({ title: 'TaskSync query-service', version: '1.0.0' }, routes);
