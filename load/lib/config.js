// Shared by every scenario: where the API is, who the virtual user is,
// and how a request is made and judged. Plain ES module for k6 >= 0.47.
import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';

/** @param {string} url */
const withoutTrailingSlash = (url) => url.replace(/\/+$/, '');

/**
 * Where the API is: the front door (design §12, `TASKSYNC_URL`), which routes
 * every path to its service. `IDENTITY_URL`, `COMMAND_URL`, `QUERY_URL` and
 * `NOTIFIER_URL` send one API straight to its service instead (to measure a
 * service without the door in front).
 */
const door = withoutTrailingSlash(__ENV.TASKSYNC_URL || 'http://localhost:3000');
/** @param {string | undefined} url */
const serviceOr = (url) => (url ? withoutTrailingSlash(url) : door);

export const urls = {
  identity: serviceOr(__ENV.IDENTITY_URL),
  command: serviceOr(__ENV.COMMAND_URL),
  query: serviceOr(__ENV.QUERY_URL),
  notifier: serviceOr(__ENV.NOTIFIER_URL),
};

/**
 * A number from the environment (`-e NAME=…`), or the default.
 * @param {string} name
 * @param {number} fallback
 */
export const envNumber = (name, fallback) => {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number, not ${raw}`);
  return value;
};

/**
 * A duration from the environment (`-e DURATION=2m`), or the default.
 * @param {string} name
 * @param {string} fallback
 */
export const envDuration = (name, fallback) => __ENV[name] || fallback;

const credentials = { email: __ENV.EMAIL || '', password: __ENV.PASSWORD || '' };
if ((credentials.email === '') !== (credentials.password === '')) {
  throw new Error('Set both EMAIL and PASSWORD, or neither (then each VU registers its own user).');
}

/**
 * Every request is tagged `api` with the API it hits, so thresholds hold the
 * command and query APIs to their latency targets without counting bcrypt
 * logins; requests that only prepare a test (setup()) are tagged `api:setup`.
 * @typedef {'identity' | 'command' | 'query'} Api
 */

/** Problem+json answers that failed a check, by problem type, request and status. */
const problems = new Counter('problems');
/** Failures printed per VU before going quiet; the `problems` counter keeps counting. */
const PRINTED_FAILURES_PER_VU = 5;
let printedFailures = 0;

/** @param {unknown} value @returns {value is Record<string, unknown>} */
const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The parsed JSON body, or undefined when there is none or it is not JSON.
 * @param {import('k6/http').Response} res
 * @returns {Record<string, any> | undefined}
 */
export const bodyOf = (res) => {
  if (typeof res.body !== 'string' || res.body === '') return undefined;
  try {
    const parsed = JSON.parse(res.body);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Checks the status and, when it is not the expected one, records the
 * problem+json `type` (RFC 9457) so a failed run says what went wrong, not
 * only that something did.
 * @param {import('k6/http').Response} res
 * @param {number | number[]} expected
 * @param {string} what the request, e.g. 'POST /tasks'
 * @param {Record<string, (res: import('k6/http').Response) => boolean>} [more] further checks
 */
export const expectStatus = (res, expected, what, more = {}) => {
  const statuses = Array.isArray(expected) ? expected : [expected];
  const ok = check(res, {
    [`${what} is ${statuses.join(' or ')}`]: (r) => statuses.includes(r.status),
    ...more,
  });
  if (!ok) {
    const body = bodyOf(res);
    const contentType = res.headers['Content-Type'] || '';
    const type = contentType.includes('problem+json') && body ? String(body.type) : 'none';
    problems.add(1, { problem: type, request: what, status: String(res.status) });
    if (printedFailures < PRINTED_FAILURES_PER_VU) {
      printedFailures++;
      const detail = body?.detail ?? (res.error || (res.body ?? '').toString().slice(0, 200));
      console.warn(`${what}: ${res.status} ${type} ${detail}`);
    }
  }
  return ok;
};

let keySequence = 0;
/** Unique per VU and request, so two VUs of one user never share a create. */
export const newIdempotencyKey = () =>
  `load-${Date.now().toString(36)}-${keySequence++}-${Math.random().toString(36).slice(2, 12)}`;

/**
 * @param {string} token
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
export const jsonHeaders = (token, extra = {}) => ({
  'Content-Type': 'application/json',
  Authorization: `Bearer ${token}`,
  ...extra,
});

/**
 * A request to one of the APIs, tagged with the API and a templated name (one
 * series per route, not per task id).
 * @param {Api} api
 * @param {string} method
 * @param {string} path
 * @param {{ token?: string, body?: unknown, headers?: Record<string, string>, name?: string, setup?: boolean }} [options]
 */
export const call = (api, method, path, options = {}) => {
  /** @type {Record<string, string>} */
  const headers = options.token
    ? jsonHeaders(options.token, options.headers)
    : { ...options.headers };
  if (!options.token && options.body !== undefined) headers['Content-Type'] = 'application/json';
  const body = options.body === undefined ? null : JSON.stringify(options.body);
  return http.request(method, `${urls[api]}${path}`, body, {
    headers,
    tags: { api: options.setup ? 'setup' : api, name: options.name ?? `${method} ${path}` },
  });
};

/**
 * @typedef {{ token: string, userId: string, email: string, expiresAtMs: number }} Session
 */

// k6 runs this module once per VU, so these are per VU.
/** @type {Session | undefined} */
let session;
/** @type {{ email: string, password: string } | undefined} */
let registered;

/** Logs in again this long before the token expires. */
const RENEW_BEFORE_MS = 60_000;

/** @param {string} email @param {string} password @returns {Session} */
const logIn = (email, password) => {
  const res = call('identity', 'POST', '/auth/login', { body: { email, password } });
  const body = bodyOf(res);
  if (!expectStatus(res, 200, 'POST /auth/login') || !body) {
    throw new Error(`cannot log in as ${email}: ${res.status} ${res.body}`);
  }
  return {
    token: String(body.token),
    userId: String(body.user.id),
    email,
    expiresAtMs: Date.now() + Number(body.expiresIn) * 1000,
  };
};

/** A fresh member, for runs without EMAIL/PASSWORD: one per VU. */
const registerFreshUser = () => {
  const email = `load-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  const res = call('identity', 'POST', '/auth/register', {
    body: { email, password, name: 'k6 virtual user' },
  });
  if (!expectStatus(res, 201, 'POST /auth/register')) {
    throw new Error(`cannot register ${email}: ${res.status} ${res.body}`);
  }
  return { email, password };
};

/**
 * The VU's token, logging in (or registering) on first use and again shortly
 * before it expires. Call it from the default function, setup() or a scenario's
 * exec function, not from the init context (k6 allows no requests there).
 * @returns {Session}
 */
export const loginOnce = () => {
  if (session && session.expiresAtMs - Date.now() > RENEW_BEFORE_MS) return session;
  // No `??=`: k6's parser before v0.52 does not know logical assignment.
  if (!credentials.email && !registered) registered = registerFreshUser();
  const { email, password } = registered ?? credentials;
  session = logIn(email, password);
  return session;
};

/**
 * Creates a project (design §10) and returns its id. `open` projects are seen
 * by every user, so VUs that each registered their own user can share one.
 * @param {string} token
 * @param {{ name: string, visibility: 'private' | 'open', setup?: boolean }} project
 * @returns {string}
 */
export const createProject = (token, { name, visibility, setup = false }) => {
  const res = call('command', 'POST', '/projects', {
    token,
    setup,
    name: 'POST /projects',
    headers: { 'Idempotency-Key': newIdempotencyKey() },
    body: { name, visibility },
  });
  const id = bodyOf(res)?.id;
  if (!expectStatus(res, 201, 'POST /projects') || typeof id !== 'string') {
    throw new Error(`cannot create a project: ${res.status} ${res.body}`);
  }
  return id;
};

/** @type {string | undefined} this VU's own project */
let ownProject;

/**
 * The VU's own private project, created on first use: its tasks are its
 * member's alone, as a team's would be.
 * @param {string} token
 */
export const projectOnce = (token) => {
  if (ownProject === undefined) {
    ownProject = createProject(token, {
      name: `k6 project ${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      visibility: 'private',
    });
  }
  return ownProject;
};

/**
 * Redis entry ids are `<ms>-<seq>`; both parts compare as numbers.
 * @param {string} a
 * @param {string} b
 */
const compareEntryIds = (a, b) => {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
};

/**
 * The latest position per log, to send back as `X-Min-Position` (design §2:
 * positions compare only within one log, so one per log).
 */
export class Positions {
  constructor() {
    /** @type {Map<string, string>} */
    this.byLog = new Map();
  }

  /** @param {string | undefined} header an `X-Event-Position` value */
  advance(header) {
    for (const position of (header || '').split(',').filter(Boolean)) {
      const separator = position.indexOf(':');
      const log = position.slice(0, separator);
      const entryId = position.slice(separator + 1);
      const known = this.byLog.get(log);
      if (known === undefined || compareEntryIds(entryId, known) > 0) this.byLog.set(log, entryId);
    }
  }

  /** @returns {string} */
  header() {
    return [...this.byLog].map(([log, entryId]) => `${log}:${entryId}`).join(',');
  }
}

/**
 * @template T
 * @param {readonly T[]} items non-empty
 * @returns {T}
 */
export const pick = (items) => /** @type {T} */ (items[Math.floor(Math.random() * items.length)]);

/**
 * One name drawn by weight, e.g. [['create', 40], ['delete', 5]].
 * @template {string} N
 * @param {readonly (readonly [N, number])[]} table
 * @returns {N}
 */
export const weighted = (table) => {
  const total = table.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = Math.random() * total;
  for (const [name, weight] of table) {
    roll -= weight;
    if (roll < 0) return name;
  }
  return /** @type {readonly [N, number]} */ (table[table.length - 1])[0];
};

export const PRIORITIES = /** @type {const} */ (['low', 'medium', 'high', 'urgent']);
export const LABELS = ['backend', 'frontend', 'ops', 'bug', 'feature', 'docs'];

/** An ISO date (YYYY-MM-DD) within the next `days` days. */
export const dueDateWithin = (days = 60) =>
  new Date(Date.now() + Math.floor(Math.random() * days) * 86_400_000).toISOString().slice(0, 10);

/**
 * The thresholds every HTTP scenario keeps: under 1 % failed requests, the
 * named APIs at p95 < 50 ms and p99 < 100 ms, and over 99 % of each named
 * scenario's checks passing.
 * @param {{ apis: Api[], scenarios: string[] }} scope
 * @returns {Record<string, string[]>}
 */
export const httpThresholds = ({ apis, scenarios }) => {
  /** @type {Record<string, string[]>} */
  const thresholds = { http_req_failed: ['rate<0.01'] };
  for (const api of apis) thresholds[`http_req_duration{api:${api}}`] = ['p(95)<50', 'p(99)<100'];
  for (const scenario of scenarios) thresholds[`checks{scenario:${scenario}}`] = ['rate>0.99'];
  return thresholds;
};
