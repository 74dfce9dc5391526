import { fnv1a32 } from './ids';

/**
 * The Redis key layout of design §2. Every key carries a hash tag so the layout
 * runs unchanged on Redis Cluster: a task's stream, its partition's log and its
 * idempotency records share `{t<P>}`; everything of identity shares `{id}`;
 * projects and their log share `{p}` (design §10).
 */
export interface KeyLayout {
  readonly prefix: string;
  readonly partitions: number;
  partitionOf(taskId: string): number;
  taskLog(partition: number): string;
  taskStream(taskId: string): string;
  idempotency(partition: number, userId: string, key: string): string;
  /**
   * The tasks of a project in a partition that have an assignee (a hash:
   * task id → assignee id), kept by the append script with the task's events:
   * what the process manager reads to unassign those who lost access.
   */
  assignedTasks(partition: number, projectId: string): string;
  projectLog: string;
  projectStream(projectId: string): string;
  /** Stored response of an idempotent project command, in the projects' slot. */
  projectIdempotency(userId: string, key: string): string;
  identityLog: string;
  userStream(userId: string): string;
  /**
   * The log an aggregate's key (task, project or user) indexes: the log of its
   * hash tag, `<prefix>:{t3}:task:<id>` → `<prefix>:{t3}:log`.
   */
  logOf(aggregateKey: string): string;
  email(normalizedEmail: string): string;
  credentials(userId: string): string;
  loginFailures(normalizedEmail: string): string;
  deadLetters(logKey: string, group: string): string;
  /**
   * The lease one archiver holds on a log (design §11), beside the log (same
   * hash tag), so its trim checks the lease in the same script.
   */
  archiverLease(logKey: string): string;
  meta: string;
  /** Pub/sub channel on which a projector group announces each new checkpoint. */
  checkpointChannel(group: string): string;
  /** The lease one projector of a group holds while it writes the read model. */
  projectorLease(group: string): string;
  /**
   * Pub/sub channel for switching a group's read model file (replay --swap):
   * `handover <owner>`, `released`, `swapped`.
   */
  readModelControl(group: string): string;
  /** All logs a reader of every event follows, with their position names. */
  logs(): { name: string; key: string }[];
  logKeyByName(name: string): string | undefined;
}

export const createKeyLayout = (prefix: string, partitions: number): KeyLayout => {
  const partitionOf = (taskId: string) => fnv1a32(taskId) % partitions;
  const taskLog = (p: number) => `${prefix}:{t${p}}:log`;
  const identityLog = `${prefix}:{id}:log`;
  const projectLog = `${prefix}:{p}:log`;
  const logs = () => [
    ...Array.from({ length: partitions }, (_, p) => ({ name: `t${p}`, key: taskLog(p) })),
    { name: 'p', key: projectLog },
    { name: 'id', key: identityLog },
  ];
  return {
    prefix,
    partitions,
    partitionOf,
    taskLog,
    taskStream: (taskId) => `${prefix}:{t${partitionOf(taskId)}}:task:${taskId}`,
    idempotency: (p, userId, key) => `${prefix}:{t${p}}:idem:${userId}:${key}`,
    assignedTasks: (p, projectId) => `${prefix}:{t${p}}:assigned:${projectId}`,
    projectLog,
    projectStream: (projectId) => `${prefix}:{p}:project:${projectId}`,
    projectIdempotency: (userId, key) => `${prefix}:{p}:idem:${userId}:${key}`,
    identityLog,
    userStream: (userId) => `${prefix}:{id}:user:${userId}`,
    logOf: (aggregateKey) => {
      if (!aggregateKey.startsWith(`${prefix}:`))
        throw new Error(`${aggregateKey} is not an aggregate's key`);
      return logOfAggregateKey(aggregateKey);
    },
    email: (email) => `${prefix}:{id}:email:${email}`,
    credentials: (userId) => `${prefix}:{id}:cred:${userId}`,
    loginFailures: (email) => `${prefix}:{id}:login-failures:${email}`,
    // The dead-letter stream sits beside its log: same hash tag, same slot.
    deadLetters: (logKey, group) => logKey.replace(/:log$/, `:dlq:${group}`),
    archiverLease: (logKey) => logKey.replace(/:log$/, ':archiver-lease'),
    meta: `${prefix}:meta`,
    checkpointChannel: (group) => `${prefix}:checkpoints:${group}`,
    projectorLease: (group) => `${prefix}:lock:projector:${group}`,
    readModelControl: (group) => `${prefix}:read-model:${group}`,
    logs,
    logKeyByName: (name) => logs().find((log) => log.name === name)?.key,
  };
};

/**
 * The log an aggregate's key indexes, whatever the prefix: the log of its hash
 * tag (`<prefix>:{t3}:task:<id>` → `<prefix>:{t3}:log`); see KeyLayout.logOf.
 */
export const logOfAggregateKey = (aggregateKey: string): string => {
  const parts = aggregateKeyParts(aggregateKey);
  if (!parts) throw new Error(`${aggregateKey} is not an aggregate's key`);
  return `${parts.prefix}:${parts.tag}:log`;
};

/**
 * A task's, project's or user's key in its parts (`<prefix>:{t3}:task:<id>`:
 * prefix, hash tag, kind, id); undefined for any other key.
 */
export const aggregateKeyParts = (key: string) => {
  const match = /^(.*):(\{(?:t\d+|p|id)\}):(task|project|user):([^:{}]+)$/.exec(key);
  return match ? { prefix: match[1]!, tag: match[2]!, kind: match[3]!, id: match[4]! } : undefined;
};

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();
