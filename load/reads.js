// The read mix against query-service, over tasks that setup() creates in an
// open project of its own (design §10: every VU's user sees it): task lists
// with filters and cursor paging 40 %, one task 30 %, a task's history 15 %,
// /stats 10 %, /users 5 %.
import {
  bodyOf,
  call,
  createProject,
  dueDateWithin,
  envDuration,
  envNumber,
  expectStatus,
  httpThresholds,
  LABELS,
  loginOnce,
  newIdempotencyKey,
  Positions,
  PRIORITIES,
  pick,
  weighted,
} from './lib/config.js';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    reads: {
      executor: 'constant-arrival-rate',
      rate: envNumber('RATE', 200),
      timeUnit: '1s',
      duration: envDuration('DURATION', '1m'),
      preAllocatedVUs: envNumber('VUS', 10),
      maxVUs: envNumber('MAX_VUS', 100),
    },
  },
  thresholds: httpThresholds({ apis: ['query'], scenarios: ['reads'] }),
  // Seeding waits for the projector once; give a slow machine room.
  setupTimeout: '120s',
};

/** @typedef {{ taskIds: string[], label: string, word: string, creatorId: string, projectId: string }} Seed */

const MIX = /** @type {const} */ ([
  ['list', 40],
  ['task', 30],
  ['history', 15],
  ['stats', 10],
  ['users', 5],
]);

/** Pages a list read follows at most. */
const MAX_PAGES = 3;

/**
 * Creates SEED_TASKS tasks (default 200) under a label and a title word of
 * this run's own, moves a third of them on, comments on a fifth, and waits
 * until the read model shows them all.
 * @returns {Seed}
 */
export function setup() {
  const { token, userId } = loginOnce();
  const run = Math.random().toString(36).slice(2, 10);
  const label = `k6-${run}`;
  const word = `seed${run}`;
  const positions = new Positions();
  /** @type {string[]} */
  const taskIds = [];
  const projectId = createProject(token, {
    name: `k6 reads ${run}`,
    visibility: 'open',
    setup: true,
  });
  const count = envNumber('SEED_TASKS', 200);
  for (let i = 0; i < count; i++) {
    const created = call('command', 'POST', '/tasks', {
      token,
      setup: true,
      name: 'POST /tasks',
      headers: { 'Idempotency-Key': newIdempotencyKey() },
      body: {
        projectId,
        title: `${word} task ${i}`,
        description: `Seeded for the k6 read mix, run ${run}.`,
        priority: pick(PRIORITIES),
        labels: [label, pick(LABELS)],
        dueDate: dueDateWithin(),
      },
    });
    const id = bodyOf(created)?.id;
    if (!expectStatus(created, 201, 'seed POST /tasks') || typeof id !== 'string') continue;
    taskIds.push(id);
    positions.advance(created.headers['X-Event-Position']);
    if (i % 3 === 0) {
      const moved = call('command', 'PATCH', `/tasks/${id}`, {
        token,
        setup: true,
        name: 'PATCH /tasks/:id',
        body: { status: 'in-progress' },
      });
      expectStatus(moved, 200, 'seed PATCH /tasks/:id');
      positions.advance(moved.headers['X-Event-Position']);
    }
    if (i % 5 === 0) {
      const commented = call('command', 'POST', `/tasks/${id}/comments`, {
        token,
        setup: true,
        name: 'POST /tasks/:id/comments',
        body: { text: `Seed comment on task ${i}.` },
      });
      expectStatus(commented, 201, 'seed POST /tasks/:id/comments');
      positions.advance(commented.headers['X-Event-Position']);
    }
  }
  if (taskIds.length === 0) throw new Error('setup created no task; is command-service up?');
  const visible = call('query', 'GET', `/tasks?label=${label}&limit=1`, {
    token,
    setup: true,
    name: 'GET /tasks (seed visible)',
    headers: { 'X-Min-Position': positions.header(), 'X-Max-Wait-Ms': '10000' },
  });
  if (!expectStatus(visible, 200, 'seed visible in the read model')) {
    throw new Error(`the read model did not reach ${positions.header()}`);
  }
  return { taskIds, label, word, creatorId: userId, projectId };
}

/** @param {Seed} seed */
const listFilters = (seed) => [
  `projectId=${seed.projectId}`,
  `projectId=${seed.projectId}&status=pending&sort=-createdAt`,
  `label=${seed.label}`,
  `label=${seed.label}&status=in-progress`,
  `status=pending&sort=-createdAt`,
  `priority=${pick(PRIORITIES)}&sort=dueDate`,
  `createdBy=${seed.creatorId}&sort=priority`,
  `q=${seed.word}`,
  `dueBefore=${dueDateWithin(30)}&sort=-dueDate`,
  `label=${pick(LABELS)}&sort=updatedAt`,
];

/** @param {string} token @param {Seed} seed */
const listTasks = (token, seed) => {
  const filter = pick(listFilters(seed));
  const limit = pick([10, 20, 50]);
  /** @type {string | null} */
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const cursorParam = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const res = call('query', 'GET', `/tasks?${filter}&limit=${limit}${cursorParam}`, {
      token,
      name: page === 0 ? 'GET /tasks' : 'GET /tasks (next page)',
    });
    const body = bodyOf(res);
    expectStatus(res, 200, 'GET /tasks', {
      'GET /tasks has items': () => Array.isArray(body?.items),
    });
    cursor = typeof body?.nextCursor === 'string' ? body.nextCursor : null;
    if (!cursor) return;
  }
};

/** @param {string} token @param {Seed} seed */
const readTask = (token, seed) => {
  const id = pick(seed.taskIds);
  const res = call('query', 'GET', `/tasks/${id}`, { token, name: 'GET /tasks/:id' });
  expectStatus(res, 200, 'GET /tasks/:id', {
    'GET /tasks/:id is that task': () => bodyOf(res)?.id === id,
  });
};

/** @param {string} token @param {Seed} seed */
const readHistory = (token, seed) => {
  const id = pick(seed.taskIds);
  const res = call('query', 'GET', `/tasks/${id}/history?limit=2`, {
    token,
    name: 'GET /tasks/:id/history',
  });
  const body = bodyOf(res);
  expectStatus(res, 200, 'GET /tasks/:id/history', {
    'history starts with TaskCreated': () => body?.items?.[0]?.type === 'TaskCreated',
  });
  if (typeof body?.nextCursor !== 'string') return;
  const next = call(
    'query',
    'GET',
    `/tasks/${id}/history?limit=2&cursor=${encodeURIComponent(body.nextCursor)}`,
    { token, name: 'GET /tasks/:id/history (next page)' },
  );
  expectStatus(next, 200, 'GET /tasks/:id/history (next page)');
};

/** @param {string} token */
const readStats = (token) => {
  const res = call('query', 'GET', '/stats', { token, name: 'GET /stats' });
  expectStatus(res, 200, 'GET /stats', {
    'GET /stats counts by status': () => typeof bodyOf(res)?.byStatus === 'object',
  });
};

/** @param {string} token */
const readUsers = (token) => {
  const res = call('query', 'GET', '/users?limit=20', { token, name: 'GET /users' });
  expectStatus(res, 200, 'GET /users', {
    'GET /users has items': () => Array.isArray(bodyOf(res)?.items),
  });
};

/** @param {Seed} seed */
export default function (seed) {
  const { token } = loginOnce();
  const read = weighted(MIX);
  if (read === 'list') return listTasks(token, seed);
  if (read === 'task') return readTask(token, seed);
  if (read === 'history') return readHistory(token, seed);
  if (read === 'stats') return readStats(token);
  return readUsers(token);
}
