import { DOCS_CSP } from './docs';
import type { Rate, RateLimits } from './limits';
import { pathPattern, ROUTES, type Route, UPSTREAMS, type Upstream } from './routes';

/**
 * The front door as nginx (design §12), generated from the same routing table
 * as the Node door: `docker-compose.yml` runs it (gateway/nginx/tasksync.conf,
 * kept in step by `npm run door-files` and checked by a test), and the tests
 * run Debian's nginx on it. It is the `http`-level part of a configuration
 * (what nginx's `conf.d/*.conf` holds).
 *
 * - A `map` of "method path" to the service sends each request where the table
 *   says; a path it does not know is 404, a method it does not route there
 *   405 with `Allow`, both problem+json like every TaskSync answer.
 * - The door's own routes: `/openapi.json` and `/docs` from `staticRoot` (the
 *   merged document and the reference page, written by `npm run door-files`),
 *   `/health` and `/ready` answered by nginx itself (it cannot ask the
 *   services; `/metrics` is the Node door's only).
 * - Rate limits (`limit_req`) keyed by client address for registrations and
 *   log-ins, by the Authorization header for writes: nginx's leaky bucket at
 *   the same mean rate, with the whole limit as burst. 429 problem+json with
 *   `Retry-After` (when one more request drips through).
 * - Bodies stream both ways (no buffering), WebSocket upgrades pass on the
 *   live feed, Host is kept, X-Forwarded-For set, X-Request-Id kept or made.
 */
export interface NginxOptions {
  /** What `listen` says: a port, or address:port. */
  listen: string | number;
  /**
   * Each service as host:port, or several for a group. A client's Socket.IO
   * requests must reach the notifier that holds its session (polling), so the
   * notifiers are chosen by client address.
   */
  upstreams: Record<Upstream, readonly string[]>;
  /** The directory with openapi.json and docs/ (npm run door-files). */
  staticRoot: string;
  rates: RateLimits | undefined;
  /** How long a service may take to answer (504 after). */
  timeoutSeconds: number;
}

const problemJson = (status: number, slug: string, title: string, detail: string) =>
  JSON.stringify({ type: `urn:tasksync:problem:${slug}`, title, status, detail }).replaceAll(
    "'",
    "\\'",
  );

/** The request as the maps match it. */
const KEY = '"$request_method $uri"';

/** A route's regular expression over "METHOD /path" (GET also matches HEAD). */
const routeRegex = (route: Route) => {
  const method = route.method === 'GET' ? '(GET|HEAD)' : route.method;
  return `"~^${method} ${pathPattern(route.path).slice(1)}"`;
};

/** Requests per minute for nginx (it counts per second or per minute), at least 1. */
const perMinute = (rate: Rate) => Math.max(1, Math.round((rate.limit * 60_000) / rate.windowMs));

export const nginxConfig = (options: NginxOptions, routes: readonly Route[] = ROUTES) => {
  const forwarded = routes.filter((route) => route.to !== 'door');
  const lines: string[] = [
    '# The TaskSync front door for nginx, generated from gateway/src/routes.ts',
    '# (npm run door-files): edit the table, not this file.',
    '',
    'map $http_upgrade $tasksync_connection {',
    '  default upgrade;',
    "  '' '';",
    '}',
    '',
    '# X-Request-Id: the client’s when it is a usable id, else one nginx makes.',
    'map $http_x_request_id $tasksync_request_id {',
    '  "~^[A-Za-z0-9_.:@-]{1,128}$" $http_x_request_id;',
    '  default $request_id;',
    '}',
    '',
    '# Which service answers: the routing table, first match wins.',
    `map ${KEY} $tasksync_upstream {`,
    '  default "";',
    ...forwarded.map((route) => `  ${routeRegex(route)} ${route.to};`),
    '  # CORS preflights: to the service of the path (each answers for FRONTEND_URL).',
    ...preflights(forwarded).map(([pattern, to]) => `  "~^OPTIONS ${pattern.slice(1)}" ${to};`),
    '}',
    '',
    '# The methods a known path serves, for 405 answers.',
    'map $uri $tasksync_allow {',
    '  default "";',
    ...allowedByPath(routes).map(([pattern, methods]) => `  "~${pattern}" "${methods}";`),
    '}',
    '',
  ];
  if (options.rates) {
    const limited = (limit: string) =>
      forwarded.filter((route) => route.limit === limit).map(routeRegex);
    for (const [limit, key] of [
      ['register', '$binary_remote_addr'],
      ['login', '$binary_remote_addr'],
      ['write', '$http_authorization'],
    ] as const) {
      const rate = options.rates[limit];
      lines.push(
        `# ${limit}: ${rate.limit} per ${rate.windowMs / 1000} s, keyed by ${key === '$binary_remote_addr' ? 'client address' : 'token'}.`,
        `map ${KEY} $tasksync_limit_${limit} {`,
        '  default "";',
        ...limited(limit).map(
          (regex) =>
            `  ${regex} ${key === '$http_authorization' ? '"t:$http_authorization"' : key};`,
        ),
        '}',
        `limit_req_zone $tasksync_limit_${limit} zone=tasksync_${limit}:10m rate=${perMinute(rate)}r/m;`,
        '',
      );
    }
  }
  for (const service of UPSTREAMS) {
    lines.push(
      `upstream ${service} {`,
      ...(service === 'notifier' && options.upstreams[service].length > 1 ? ['  ip_hash;'] : []),
      ...options.upstreams[service].map((server) => `  server ${server};`),
      '  keepalive 64;',
      '}',
    );
  }
  const retryAfter = options.rates
    ? Math.max(...Object.values(options.rates).map((rate) => Math.ceil(60 / perMinute(rate))))
    : 1;
  lines.push(
    '',
    'server {',
    `  listen ${options.listen};`,
    '  server_tokens off;',
    '  client_max_body_size 0; # each service refuses what is too large, as problem+json',
    '  proxy_http_version 1.1;',
    '  proxy_request_buffering off;',
    '  proxy_buffering off;',
    `  proxy_read_timeout ${options.timeoutSeconds}s;`,
    `  proxy_send_timeout ${options.timeoutSeconds}s;`,
    '  proxy_connect_timeout 5s;',
    '  proxy_set_header Host $http_host;',
    '  proxy_set_header Upgrade $http_upgrade;',
    '  proxy_set_header Connection $tasksync_connection;',
    '  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '  proxy_set_header X-Forwarded-Host $http_host;',
    '  proxy_set_header X-Forwarded-Proto $scheme;',
    '  proxy_set_header X-Request-Id $tasksync_request_id;',
    '  default_type application/problem+json;',
    '  error_page 404 = @not_found;',
    '  error_page 405 = @method_not_allowed;',
    '  error_page 429 = @rate_limited;',
    '  error_page 502 = @bad_gateway;',
    '  error_page 503 = @unavailable;',
    '  error_page 504 = @timeout;',
    '',
    '  location / {',
    '    if ($tasksync_allow = "") { return 404; }',
    '    if ($tasksync_upstream = "") { return 405; }',
    ...(options.rates
      ? [
          // The first request is within the rate; the burst takes the rest of the limit.
          `    limit_req zone=tasksync_register burst=${options.rates.register.limit - 1} nodelay;`,
          `    limit_req zone=tasksync_login burst=${options.rates.login.limit - 1} nodelay;`,
          `    limit_req zone=tasksync_write burst=${options.rates.write.limit - 1} nodelay;`,
          '    limit_req_status 429;',
        ]
      : []),
    '    proxy_pass http://$tasksync_upstream;',
    '  }',
    '',
    '  location = /health { default_type application/json; return 200 \'{"status":"ok"}\'; }',
    '  location = /ready { default_type application/json; return 200 \'{"status":"ready"}\'; }',
    `  location = /openapi.json { default_type application/json; alias ${options.staticRoot}/openapi.json; }`,
    '  location = /docs {',
    `    alias ${options.staticRoot}/docs/index.html;`,
    '    default_type text/html;',
    `    add_header Content-Security-Policy "${DOCS_CSP}" always;`,
    '    add_header X-Content-Type-Options nosniff always;',
    '    add_header Referrer-Policy no-referrer always;',
    '  }',
    '  location /docs/ {',
    `    alias ${options.staticRoot}/docs/;`,
    '    types { text/css css; text/javascript js; image/png png; }',
    `    add_header Content-Security-Policy "${DOCS_CSP}" always;`,
    '    add_header X-Content-Type-Options nosniff always;',
    '  }',
    '',
    ...[
      ['not_found', 404, 'not-found', 'Not found', 'No route here.', ''],
      [
        'method_not_allowed',
        405,
        'method-not-allowed',
        'Method not allowed',
        'This method is not served on this path.',
        '    add_header Allow $tasksync_allow always;',
      ],
      [
        'rate_limited',
        429,
        'rate-limited',
        'Too many requests',
        'Too many requests: try again later.',
        `    add_header Retry-After ${retryAfter} always;`,
      ],
      [
        'bad_gateway',
        502,
        'bad-gateway',
        'Bad gateway',
        'The service broke off its answer or is not reachable.',
        '',
      ],
      [
        'unavailable',
        503,
        'service-unavailable',
        'Service unavailable',
        'The service is not reachable.',
        '    add_header Retry-After 5 always;',
      ],
      [
        'timeout',
        504,
        'gateway-timeout',
        'Gateway timeout',
        'The service did not answer in time.',
        '',
      ],
    ].flatMap(([name, status, slug, title, detail, header]) => [
      `  location @${name} {`,
      ...(header ? [header as string] : []),
      '    default_type application/problem+json;',
      `    return ${status} '${problemJson(status as number, slug as string, title as string, detail as string)}';`,
      '  }',
    ]),
    '}',
    '',
  );
  return lines.join('\n');
};

/** Each path pattern a service serves, with the first service that serves it. */
const preflights = (routes: readonly Route[]): [string, string][] => {
  const first = new Map<string, string>();
  for (const route of routes) {
    const pattern = pathPattern(route.path);
    if (!first.has(pattern)) first.set(pattern, route.to);
  }
  return [...first];
};

/** Each path pattern with the methods routed on it ("GET, HEAD" for GET), in table order. */
const allowedByPath = (routes: readonly Route[]): [string, string][] => {
  const byPattern = new Map<string, string[]>();
  for (const route of routes) {
    const pattern = pathPattern(route.path);
    const methods = byPattern.get(pattern) ?? [];
    methods.push(...(route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]));
    byPattern.set(pattern, methods);
  }
  return [...byPattern].map(([pattern, methods]) => [pattern, [...new Set(methods)].join(', ')]);
};
