// The command mix against command-service, each VU in its own private project
// (design §10): create 40 %, change details 20 %,
// move along the status flow 25 %, comment 10 %, delete 5 %. An open model
// (constant arrival rate), so a slow server shows as latency, not as fewer requests.
import {
  bodyOf,
  call,
  dueDateWithin,
  envDuration,
  envNumber,
  expectStatus,
  httpThresholds,
  LABELS,
  loginOnce,
  newIdempotencyKey,
  PRIORITIES,
  pick,
  projectOnce,
  weighted,
} from './lib/config.js';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    commands: {
      executor: 'constant-arrival-rate',
      rate: envNumber('RATE', 100),
      timeUnit: '1s',
      duration: envDuration('DURATION', '1m'),
      preAllocatedVUs: envNumber('VUS', 10),
      maxVUs: envNumber('MAX_VUS', 100),
    },
  },
  thresholds: httpThresholds({ apis: ['command'], scenarios: ['commands'] }),
};

/** @typedef {'pending' | 'in-progress' | 'completed'} Status */
/** @typedef {{ id: string, status: Status }} OwnTask */

/** The next step of the allowed flow (design §3); completed tasks move no further here. */
/** @type {Record<Status, Status | undefined>} */
const NEXT_STATUS = { pending: 'in-progress', 'in-progress': 'completed', completed: undefined };

const MIX = /** @type {const} */ ([
  ['create', 40],
  ['details', 20],
  ['status', 25],
  ['comment', 10],
  ['delete', 5],
]);

/** A VU remembers this many of its own tasks; older ones are forgotten, not deleted. */
const KEPT_TASKS = 500;

// Per VU: the tasks it created and still has, so every command it sends is one
// the API must accept (its own task, an allowed move). Conflicts between VUs
// cannot happen, so any failure is the API's.
/** @type {OwnTask[]} */
const ownTasks = [];

/** @param {string} token */
const createTask = (token) => {
  const res = call('command', 'POST', '/tasks', {
    token,
    headers: { 'Idempotency-Key': newIdempotencyKey() },
    name: 'POST /tasks',
    body: {
      projectId: projectOnce(token),
      title: `load task ${Date.now()}`,
      description: 'Created by the k6 command mix.',
      priority: pick(PRIORITIES),
      labels: [pick(LABELS)],
      dueDate: dueDateWithin(),
    },
  });
  const id = res.status === 201 ? bodyOf(res)?.id : undefined;
  expectStatus(res, 201, 'POST /tasks', {
    'POST /tasks answers X-Event-Position': (r) => Boolean(r.headers['X-Event-Position']),
  });
  if (typeof id === 'string') {
    ownTasks.push({ id, status: 'pending' });
    if (ownTasks.length > KEPT_TASKS) ownTasks.shift();
  }
};

/** @param {string} token @param {OwnTask} task */
const changeDetails = (token, task) => {
  const res = call('command', 'PATCH', `/tasks/${task.id}`, {
    token,
    name: 'PATCH /tasks/:id details',
    body: {
      title: `load task ${Date.now()} (edited)`,
      priority: pick(PRIORITIES),
      labels: [pick(LABELS), pick(LABELS)],
    },
  });
  expectStatus(res, 200, 'PATCH /tasks/:id details');
};

/** @param {string} token @param {OwnTask} task @param {Status} to */
const moveTask = (token, task, to) => {
  const res = call('command', 'PATCH', `/tasks/${task.id}`, {
    token,
    name: 'PATCH /tasks/:id status',
    body: { status: to },
  });
  if (expectStatus(res, 200, 'PATCH /tasks/:id status')) task.status = to;
};

/** @param {string} token @param {OwnTask} task */
const comment = (token, task) => {
  const res = call('command', 'POST', `/tasks/${task.id}/comments`, {
    token,
    name: 'POST /tasks/:id/comments',
    body: { text: `k6 comment at ${new Date().toISOString()}` },
  });
  expectStatus(res, 201, 'POST /tasks/:id/comments');
};

/** @param {string} token @param {OwnTask} task */
const deleteTask = (token, task) => {
  ownTasks.splice(ownTasks.indexOf(task), 1);
  const res = call('command', 'DELETE', `/tasks/${task.id}`, {
    token,
    name: 'DELETE /tasks/:id',
  });
  expectStatus(res, 204, 'DELETE /tasks/:id');
};

export default function () {
  const { token } = loginOnce();
  const action = weighted(MIX);
  // A VU without a task to act on creates one instead, so the mix settles at
  // the weights once each VU has a few tasks.
  if (action === 'status') {
    const movable = ownTasks.filter((task) => NEXT_STATUS[task.status] !== undefined);
    if (movable.length === 0) return createTask(token);
    const task = pick(movable);
    return moveTask(token, task, /** @type {Status} */ (NEXT_STATUS[task.status]));
  }
  if (action === 'create' || ownTasks.length === 0) return createTask(token);
  const task = pick(ownTasks);
  if (action === 'details') return changeDetails(token, task);
  if (action === 'comment') return comment(token, task);
  return deleteTask(token, task);
}
