import {
  AddCommentRequest,
  CommentResponse,
  CreateTaskRequest,
  UpdateTaskRequest,
  WriteResponse,
} from '@tasksync/contracts';
import { type ApiRoute, buildOpenApi, operationalApiRoutes } from '@tasksync/platform';

const writeHeaders = [
  {
    name: 'Idempotency-Key',
    description: 'Same user + key within 24 h answers the first result; another body is 422.',
  },
];
const updateHeaders = [
  ...writeHeaders,
  { name: 'If-Match', description: 'ETag of the revision the change is based on; stale is 412.' },
];
const written = ['ETag', 'X-Event-Position'];
const taskErrors = {
  400: { description: 'invalid request' },
  401: { description: 'missing or invalid token' },
  403: { description: 'not allowed for this user' },
  404: { description: 'unknown task' },
  410: { description: 'task deleted' },
  412: { description: 'If-Match is stale' },
  413: { description: 'body over 100 kB' },
  422: { description: 'unknown assignee, or Idempotency-Key reused with another body' },
};

const routes: ApiRoute[] = [
  ...operationalApiRoutes,
  {
    method: 'post',
    path: '/tasks',
    summary: 'Create a task',
    auth: true,
    body: CreateTaskRequest,
    headers: writeHeaders,
    responses: {
      201: { description: 'created', schema: WriteResponse, headers: [...written, 'Location'] },
      400: taskErrors[400],
      401: taskErrors[401],
      409: { description: 'a task with this id exists' },
      413: taskErrors[413],
      422: taskErrors[422],
    },
  },
  ...(['patch', 'put'] as const).map(
    (method): ApiRoute => ({
      method,
      path: '/tasks/{id}',
      summary:
        method === 'patch'
          ? 'Change a task (any subset of fields)'
          : 'Same as PATCH (original TaskSync)',
      auth: true,
      body: UpdateTaskRequest,
      headers: updateHeaders,
      responses: {
        200: {
          description: 'changed (or unchanged: no event)',
          schema: WriteResponse,
          headers: written,
        },
        ...taskErrors,
        409: { description: 'status move not allowed' },
      },
    }),
  ),
  {
    method: 'post',
    path: '/tasks/{id}/comments',
    summary: 'Comment on a task',
    auth: true,
    body: AddCommentRequest,
    headers: updateHeaders,
    responses: {
      201: { description: 'commented', schema: CommentResponse, headers: written },
      ...taskErrors,
    },
  },
  {
    method: 'delete',
    path: '/tasks/{id}',
    summary: 'Delete a task',
    auth: true,
    headers: updateHeaders,
    responses: { 204: { description: 'deleted', headers: written }, ...taskErrors },
  },
];

export const commandOpenApi = () =>
  buildOpenApi({ title: 'TaskSync command-service', version: '1.0.0' }, routes);
