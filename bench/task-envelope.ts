/**
 * What the storage benches fill logs with (bench/index-encodings.ts,
 * bench/archive.ts): task events with the fields the append script writes.
 */
import { randomUUID } from 'node:crypto';

const created = () =>
  JSON.stringify({
    title: 'A task with a title of ordinary length',
    description: 'A description of a task, a sentence or two long, as people write them.',
    status: 'pending',
    assigneeId: null,
    priority: 'high',
    dueDate: null,
    labels: ['bench', 'ops'],
    createdBy: randomUUID(),
    projectId: randomUUID(),
  });
const changed = JSON.stringify({ from: 'pending', to: 'in-progress' });

/**
 * The fields the append script writes for a task's event `rev` (a creation,
 * then status changes), at `at` (ms): what the storage benches fill logs with.
 */
export const taskEnvelope = (taskId: string, rev: number, at = Date.now()) => [
  'id',
  randomUUID(),
  'type',
  rev === 0 ? 'TaskCreated' : 'TaskStatusChanged',
  'v',
  rev === 0 ? '2' : '1',
  'agg',
  taskId,
  'rev',
  String(rev),
  'at',
  new Date(at).toISOString(),
  'actor',
  randomUUID(),
  'corr',
  randomUUID(),
  'data',
  rev === 0 ? created() : changed,
];

/** INFO memory's `used_memory`, in bytes. */
export const usedMemory = async (redis: { info(section: string): Promise<string> }) =>
  Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
