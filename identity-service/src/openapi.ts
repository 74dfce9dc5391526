import {
  ChangeRoleRequest,
  LoginRequest,
  LoginResponse,
  MeResponse,
  RegisterRequest,
  RegisterResponse,
} from '@tasksync/contracts';
import { type ApiRoute, buildOpenApi, operationalApiRoutes } from '@tasksync/platform';

const register = (path: string, summary: string): ApiRoute => ({
  method: 'post',
  path,
  summary,
  auth: false,
  body: RegisterRequest,
  responses: {
    201: { description: 'registered', schema: RegisterResponse },
    400: { description: 'invalid request' },
    409: { description: 'e-mail taken' },
  },
});
const login = (path: string, summary: string): ApiRoute => ({
  method: 'post',
  path,
  summary,
  auth: false,
  body: LoginRequest,
  responses: {
    200: { description: 'logged in', schema: LoginResponse },
    400: { description: 'invalid request' },
    401: { description: 'unknown e-mail or wrong password (one answer for both)' },
    429: { description: 'too many failed attempts for this e-mail', headers: ['Retry-After'] },
  },
});
const me = (path: string, summary: string): ApiRoute => ({
  method: 'get',
  path,
  summary,
  auth: true,
  responses: {
    200: { description: 'the caller', schema: MeResponse },
    401: { description: 'no valid token' },
  },
});

const routes: ApiRoute[] = [
  ...operationalApiRoutes,
  register('/auth/register', 'Register (role member)'),
  login('/auth/login', 'Log in and get a JWT'),
  me('/users/me', 'The caller'),
  {
    method: 'patch',
    path: '/users/{id}/role',
    summary: 'Change a user role (admin)',
    auth: true,
    body: ChangeRoleRequest,
    responses: {
      200: { description: 'changed', schema: RegisterResponse },
      400: { description: 'invalid request' },
      401: { description: 'no valid token' },
      403: { description: 'not an admin' },
      404: { description: 'unknown user' },
    },
  },
  register('/users/register', 'Alias of /auth/register (original TaskSync)'),
  login('/users/login', 'Alias of /auth/login (original TaskSync)'),
  me('/users/profile', 'Alias of /users/me (original TaskSync)'),
];

export const identityOpenApi = () =>
  buildOpenApi({ title: 'TaskSync identity-service', version: '1.0.0' }, routes);
