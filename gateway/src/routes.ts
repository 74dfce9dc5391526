/**
 * The front door's routing table (design §12): which service answers each
 * method and path. It is data, read by the Node door (gateway/src/app.ts) and
 * by the nginx configuration generated from it (gateway/src/nginx.ts), so both
 * doors route alike. Every route of every service's OpenAPI document is here,
 * and nothing else but the door's own routes, the board and the live feed
 * (test: gateway/src/routes.unit.test.ts).
 */

/** The services behind the door. */
export type Upstream = 'identity' | 'command' | 'query' | 'notifier';
/** Who answers: a service, or the door itself (its reference page, merged document and probes). */
export type Target = Upstream | 'door';
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
/**
 * The door's rate limits: registrations and log-ins per client address,
 * writes per token (design §12).
 */
export type Limit = 'register' | 'login' | 'write';

export interface Route {
  /** GET also answers HEAD. */
  method: Method;
  /** An OpenAPI path template (`/tasks/{id}`), or a prefix ending in `/*` (any path below it). */
  path: string;
  to: Target;
  limit?: Limit;
  /** The request may upgrade to a WebSocket (Socket.IO). */
  websocket?: true;
}

export const UPSTREAMS: readonly Upstream[] = ['identity', 'command', 'query', 'notifier'];

const identity = (method: Method, path: string, limit?: Limit): Route => ({
  method,
  path,
  to: 'identity',
  ...(limit ? { limit } : {}),
});
const command = (method: Method, path: string): Route => ({
  method,
  path,
  to: 'command',
  limit: 'write',
});
const query = (path: string): Route => ({ method: 'GET', path, to: 'query' });

/**
 * The table. The first route whose method and path match wins: the literal
 * `/users/me` and `/users/profile` (identity) come before `/users/{id}` (query).
 */
export const ROUTES: readonly Route[] = [
  // identity-service: accounts and tokens
  identity('POST', '/auth/register', 'register'),
  identity('POST', '/auth/login', 'login'),
  identity('POST', '/users/register', 'register'),
  identity('POST', '/users/login', 'login'),
  identity('GET', '/users/me'),
  identity('GET', '/users/profile'),
  identity('PATCH', '/users/{id}/role', 'write'),
  // command-service: every write to tasks and projects
  command('POST', '/tasks'),
  command('PATCH', '/tasks/{id}'),
  command('PUT', '/tasks/{id}'),
  command('DELETE', '/tasks/{id}'),
  command('POST', '/tasks/{id}/comments'),
  command('POST', '/projects'),
  command('PATCH', '/projects/{id}'),
  command('POST', '/projects/{id}/members'),
  command('PUT', '/projects/{id}/members/{userId}'),
  command('DELETE', '/projects/{id}/members/{userId}'),
  // query-service: every read
  query('/tasks'),
  query('/tasks/{id}'),
  query('/tasks/{id}/history'),
  query('/users'),
  query('/users/{id}'),
  query('/stats'),
  query('/projects'),
  query('/projects/{id}'),
  query('/projects/{id}/members'),
  // notifier: the live feed and the board's files (the board calls the API through the door)
  { method: 'GET', path: '/socket.io/*', to: 'notifier', websocket: true },
  { method: 'POST', path: '/socket.io/*', to: 'notifier' },
  { method: 'GET', path: '/', to: 'notifier' },
  { method: 'GET', path: '/index.html', to: 'notifier' },
  { method: 'GET', path: '/board.js', to: 'notifier' },
  { method: 'GET', path: '/board.css', to: 'notifier' },
  // the door's own
  { method: 'GET', path: '/openapi.json', to: 'door' },
  { method: 'GET', path: '/docs', to: 'door' },
  { method: 'GET', path: '/docs/*', to: 'door' },
  { method: 'GET', path: '/health', to: 'door' },
  { method: 'GET', path: '/ready', to: 'door' },
  { method: 'GET', path: '/metrics', to: 'door' },
];

/** A route's path as a regular expression source, anchored: `{name}` is one segment. */
export const pathPattern = (path: string) => {
  const literal = (text: string) => text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  if (path.endsWith('/*')) return `^${literal(path.slice(0, -1))}`;
  return `^${path
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : literal(part)))
    .join('')}$`;
};

/**
 * Finds routes fast: by method, then the first whose pattern matches. For a
 * path no route of this method serves, `allowed` lists the methods that do
 * (405), or is empty (404).
 */
export const createRouter = (routes: readonly Route[] = ROUTES) => {
  const compiled = routes.map((route) => ({ route, pattern: new RegExp(pathPattern(route.path)) }));
  const byMethod = new Map<string, typeof compiled>();
  for (const entry of compiled) {
    const list = byMethod.get(entry.route.method) ?? [];
    list.push(entry);
    byMethod.set(entry.route.method, list);
  }
  return (
    method: string,
    path: string,
  ): { route: Route; allowed?: undefined } | { route?: undefined; allowed: Method[] } => {
    const lookup = method === 'HEAD' ? 'GET' : method;
    for (const entry of byMethod.get(lookup) ?? []) {
      if (entry.pattern.test(path)) return { route: entry.route };
    }
    const allowed = new Set<Method>();
    for (const entry of compiled) if (entry.pattern.test(path)) allowed.add(entry.route.method);
    return { allowed: [...allowed] };
  };
};
