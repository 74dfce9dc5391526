// People using the board, each in their own private project (design §10):
// list, open a task, create one, move it, comment on it, with 1 to 3 s of
// think time between steps. Every read after a write sends
// the write's X-Event-Position as X-Min-Position (read your writes, design §6),
// and checks that the write is there.
import { sleep } from 'k6';
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
} from './lib/config.js';

const users = envNumber('VUS', 20);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    mixed: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: envDuration('RAMP', '30s'), target: users },
        { duration: envDuration('DURATION', '2m'), target: users },
        { duration: envDuration('RAMP', '30s'), target: 0 },
      ],
      gracefulRampDown: '30s',
    },
  },
  thresholds: httpThresholds({ apis: ['command', 'query'], scenarios: ['mixed'] }),
};

const think = () => sleep(1 + Math.random() * 2);

/**
 * A read that must reflect the write that answered `position`.
 * @param {string} token
 * @param {string} path
 * @param {string} name
 * @param {import('k6/http').Response} write
 */
const readAfter = (token, path, name, write) =>
  call('query', 'GET', path, {
    token,
    name,
    headers: { 'X-Min-Position': write.headers['X-Event-Position'] || '' },
  });

export default function () {
  const { token } = loginOnce();

  const projectId = projectOnce(token);
  const board = call('query', 'GET', `/tasks?projectId=${projectId}&limit=20`, {
    token,
    name: 'GET /tasks',
  });
  const items = bodyOf(board)?.items;
  expectStatus(board, 200, 'GET /tasks');
  think();

  if (Array.isArray(items) && items.length > 0) {
    const opened = pick(items).id;
    const task = call('query', 'GET', `/tasks/${opened}`, { token, name: 'GET /tasks/:id' });
    // Others may delete what the list showed a moment ago: 410 is an honest answer.
    expectStatus(task, [200, 410], 'GET /tasks/:id');
    think();
  }

  const created = call('command', 'POST', '/tasks', {
    token,
    name: 'POST /tasks',
    headers: { 'Idempotency-Key': newIdempotencyKey() },
    body: {
      projectId,
      title: `mixed ${Date.now()}`,
      priority: pick(PRIORITIES),
      labels: [pick(LABELS)],
      dueDate: dueDateWithin(),
    },
  });
  const id = bodyOf(created)?.id;
  if (!expectStatus(created, 201, 'POST /tasks') || typeof id !== 'string') return;
  const afterCreate = readAfter(token, `/tasks/${id}`, 'GET /tasks/:id after a write', created);
  expectStatus(afterCreate, 200, 'read your create', {
    'read your create: the new task': () => bodyOf(afterCreate)?.status === 'pending',
  });
  think();

  const moved = call('command', 'PATCH', `/tasks/${id}`, {
    token,
    name: 'PATCH /tasks/:id status',
    body: { status: 'in-progress' },
  });
  if (!expectStatus(moved, 200, 'PATCH /tasks/:id status')) return;
  const afterMove = readAfter(token, `/tasks/${id}`, 'GET /tasks/:id after a write', moved);
  expectStatus(afterMove, 200, 'read your move', {
    'read your move: in-progress': () => bodyOf(afterMove)?.status === 'in-progress',
  });
  think();

  const commented = call('command', 'POST', `/tasks/${id}/comments`, {
    token,
    name: 'POST /tasks/:id/comments',
    body: { text: 'Looking into it.' },
  });
  const commentId = bodyOf(commented)?.commentId;
  if (!expectStatus(commented, 201, 'POST /tasks/:id/comments')) return;
  const afterComment = readAfter(
    token,
    `/tasks/${id}/history?limit=10`,
    'GET /tasks/:id/history after a write',
    commented,
  );
  expectStatus(afterComment, 200, 'read your comment', {
    'read your comment: in the history': () =>
      (bodyOf(afterComment)?.items ?? []).some(
        /** @param {{ type: string, data: { commentId?: string } }} event */
        (event) => event.type === 'CommentAdded' && event.data.commentId === commentId,
      ),
  });
  think();

  const completed = call('command', 'PATCH', `/tasks/${id}`, {
    token,
    name: 'PATCH /tasks/:id status',
    body: { status: 'completed' },
  });
  if (!expectStatus(completed, 200, 'PATCH /tasks/:id status')) return;
  const mine = readAfter(
    token,
    '/tasks?createdBy=me&status=completed&sort=-updatedAt&limit=50',
    'GET /tasks after a write',
    completed,
  );
  expectStatus(mine, 200, 'read your completion', {
    'read your completion: listed as completed': () =>
      (bodyOf(mine)?.items ?? []).some(
        /** @param {{ id: string }} task */ (task) => task.id === id,
      ),
  });
  think();
}
