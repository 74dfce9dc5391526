import {
  AddCommentRequest,
  AddMemberRequest,
  CommentResponse,
  CreateProjectRequest,
  CreateTaskRequest,
  MemberWriteResponse,
  SetMemberRequest,
  UpdateProjectRequest,
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
  403: { description: "not allowed for this user in the task's project" },
  404: { description: 'unknown task, or one in a project the caller cannot see' },
  409: { description: 'project-archived: the project is read-only' },
  410: { description: 'task deleted' },
  412: { description: 'If-Match is stale' },
  413: { description: 'body over 100 kB' },
  422: {
    description:
      'unknown-assignee, assignee-cannot-see-project, or Idempotency-Key reused with another body',
  },
};
const projectErrors = {
  400: { description: 'invalid request' },
  401: { description: 'missing or invalid token' },
  403: { description: 'only its owners or an admin may manage the project' },
  404: { description: 'unknown project, or one the caller cannot see' },
  409: { description: 'project-archived: the project is read-only' },
  412: { description: 'If-Match is stale' },
  413: { description: 'body over 100 kB' },
  422: { description: 'Idempotency-Key reused with another body' },
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
      403: { description: 'a viewer of the project: may not create tasks in it' },
      404: { description: 'unknown project, or one the caller cannot see' },
      409: { description: 'project-archived, or a task with this id exists' },
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
        404: {
          description:
            'unknown task, one the caller cannot see, or a move to a project the caller cannot see',
        },
        409: { description: 'status move not allowed, or project-archived (source or target)' },
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
  {
    method: 'post',
    path: '/projects',
    summary: 'Create a project; the caller becomes its owner (default visibility: private)',
    auth: true,
    body: CreateProjectRequest,
    headers: writeHeaders,
    responses: {
      201: { description: 'created', schema: WriteResponse, headers: [...written, 'Location'] },
      400: projectErrors[400],
      401: projectErrors[401],
      409: { description: 'a project with this id exists' },
      413: projectErrors[413],
      422: projectErrors[422],
    },
  },
  {
    method: 'patch',
    path: '/projects/{id}',
    summary:
      'Change, archive or restore a project (`archived: false` restores an archived one, with the other changes after it)',
    auth: true,
    body: UpdateProjectRequest,
    headers: updateHeaders,
    responses: {
      200: {
        description: 'changed (or unchanged: no event)',
        schema: WriteResponse,
        headers: written,
      },
      ...projectErrors,
    },
  },
  {
    method: 'put',
    path: '/projects/{id}/members/{userId}',
    summary: "Add a member, or change a member's role",
    auth: true,
    body: SetMemberRequest,
    headers: updateHeaders,
    responses: {
      200: {
        description: 'added or changed (or unchanged: no event)',
        schema: MemberWriteResponse,
        headers: written,
      },
      ...projectErrors,
      409: {
        description:
          'last-owner (demoting the only owner), member-limit (1,000 members), or project-archived',
      },
      422: { description: 'unknown-user, or Idempotency-Key reused with another body' },
    },
  },
  {
    method: 'post',
    path: '/projects/{id}/members',
    summary: "Add a member by e-mail, or change that member's role (the board's add member)",
    auth: true,
    body: AddMemberRequest,
    headers: updateHeaders,
    responses: {
      200: {
        description: 'added or changed (or unchanged: no event)',
        schema: MemberWriteResponse,
        headers: written,
      },
      ...projectErrors,
      409: {
        description:
          'last-owner (demoting the only owner), member-limit (1,000 members), or project-archived',
      },
      422: { description: 'unknown-email, or Idempotency-Key reused with another body' },
    },
  },
  {
    method: 'delete',
    path: '/projects/{id}/members/{userId}',
    summary: 'Remove a member, or leave (a member removing themselves)',
    auth: true,
    headers: updateHeaders,
    responses: {
      204: { description: 'removed', headers: written },
      401: projectErrors[401],
      403: projectErrors[403],
      404: { description: 'unknown project, one the caller cannot see, or not a member' },
      409: { description: 'last-owner (the only owner), or project-archived' },
      412: projectErrors[412],
      422: projectErrors[422],
    },
  },
];

export const commandOpenApi = () =>
  buildOpenApi({ title: 'TaskSync command-service', version: '1.0.0' }, routes);
