import { eventVersions, isValidEventData, type NewEvent } from '@tasksync/contracts';
import type { RedisClient } from './client';

export type ExpectedRevision = 'any' | 'none' | number;

/**
 * One Lua script appends atomically (design §3): it checks the idempotency
 * record, the unique keys and the expected revision, XADDs every event to its
 * log and then, under the same entry id, to the aggregate stream, and stores
 * the idempotency record. Because the aggregate stream reuses the log's entry
 * ids, an event's position is its id in either stream.
 *
 * KEYS: aggregate stream, log, [idempotency key], unique keys…, set keys…, hash keys…
 * ARGV: expected, hasIdem, idemTtl, idemHash, idemStatus, idemBody,
 *       nUnique, nSet, nEvents, aggregateId, nHash, unique values…, set values…,
 *       per hash key: field, value ('' deletes the field),
 *       then per event: id, type, v, at, actor, corr, data
 */
const APPEND_SCRIPT = `
local hasIdem = ARGV[2] == '1'
local k = 3
if hasIdem then
  local record = redis.call('GET', KEYS[3])
  if record then return {'duplicate', record} end
  k = 4
end
local nUnique = tonumber(ARGV[7])
local nSet = tonumber(ARGV[8])
local nEvents = tonumber(ARGV[9])
local agg = ARGV[10]
local nHash = tonumber(ARGV[11])
for i = 1, nUnique do
  if redis.call('EXISTS', KEYS[k + i - 1]) == 1 then return {'unique', tostring(i)} end
end
local len = redis.call('XLEN', KEYS[1])
local current = len - 1
local expected = ARGV[1]
if expected == 'none' then
  if len > 0 then return {'conflict', tostring(current)} end
elseif expected ~= 'any' then
  if tonumber(expected) ~= current then return {'conflict', tostring(current)} end
end
local a = 12
for i = 1, nUnique + nSet do
  redis.call('SET', KEYS[k + i - 1], ARGV[a])
  a = a + 1
end
for i = 1, nHash do
  local key = KEYS[k + nUnique + nSet + i - 1]
  if ARGV[a + 1] == '' then
    redis.call('HDEL', key, ARGV[a])
  else
    redis.call('HSET', key, ARGV[a], ARGV[a + 1])
  end
  a = a + 2
end
local position = ''
for i = 1, nEvents do
  local rev = tostring(current + i)
  position = redis.call('XADD', KEYS[2], '*', 'id', ARGV[a], 'type', ARGV[a + 1], 'v', ARGV[a + 2],
    'agg', agg, 'rev', rev, 'at', ARGV[a + 3], 'actor', ARGV[a + 4], 'corr', ARGV[a + 5], 'data', ARGV[a + 6])
  redis.call('XADD', KEYS[1], position, 'id', ARGV[a], 'type', ARGV[a + 1], 'v', ARGV[a + 2],
    'agg', agg, 'rev', rev, 'at', ARGV[a + 3], 'actor', ARGV[a + 4], 'corr', ARGV[a + 5], 'data', ARGV[a + 6])
  a = a + 7
end
if nEvents == 0 and len > 0 then
  position = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1][1]
end
local revision = tostring(current + nEvents)
if hasIdem then
  redis.call('SET', KEYS[3], ARGV[4] .. '\\n' .. ARGV[5] .. '\\n' .. revision .. '\\n' .. position .. '\\n' .. ARGV[6], 'EX', ARGV[3])
end
return {'ok', revision, position}
`;

export interface IdempotencyRecord {
  requestHash: string;
  status: number;
  revision: number;
  /** Log entry id of the last event (or the stream's last event for a no-op). */
  entryId: string;
  /** JSON body without revision and position; see `respondWithRecord`. */
  body: string;
}

export interface AppendRequest {
  streamKey: string;
  logKey: string;
  aggregateId: string;
  expectedRevision: ExpectedRevision;
  events: NewEvent[];
  idempotency?: {
    key: string;
    requestHash: string;
    status: number;
    body: string;
    ttlSeconds: number;
  };
  /** Keys that must not exist yet; they are set to the value with the append (e.g. an e-mail). */
  unique?: { key: string; value: string }[];
  /** Keys written with the append, never into a log (e.g. credentials). */
  set?: { key: string; value: string }[];
  /** Hash fields written (or, with value null, deleted) with the append: write-side indexes. */
  hash?: { key: string; field: string; value: string | null }[];
}

export type AppendResult =
  | { outcome: 'appended'; revision: number; entryId: string }
  | { outcome: 'conflict'; currentRevision: number }
  | { outcome: 'duplicate'; record: IdempotencyRecord }
  | { outcome: 'unique-violation'; key: string };

type AppendCommand = (numKeys: number, ...args: string[]) => Promise<[string, string, string?]>;

/** The name the append script is defined under on every client. */
export const APPEND_COMMAND = 'tasksyncAppend';

/**
 * Defines the append script on a client. createRedis and duplicateRedis do it
 * before the client sends anything: a pipeline copies the scripts defined when
 * it is made, and auto-pipelining queues a command into the pipeline already
 * open this tick, so a script defined later is missing there (the append
 * fails, and ioredis then throws outside any promise, ending the process).
 */
export const defineAppendCommand = <C extends RedisClient>(redis: C): C => {
  const client = redis as RedisClient & { [APPEND_COMMAND]?: AppendCommand };
  if (!client[APPEND_COMMAND]) client.defineCommand(APPEND_COMMAND, { lua: APPEND_SCRIPT });
  return redis;
};

const appendCommand = (redis: RedisClient): AppendCommand => {
  const client = defineAppendCommand(redis) as RedisClient & { [APPEND_COMMAND]: AppendCommand };
  return client[APPEND_COMMAND].bind(client);
};

export const parseIdempotencyRecord = (raw: string): IdempotencyRecord => {
  const [requestHash, status, revision, entryId, ...body] = raw.split('\n');
  return {
    requestHash: requestHash!,
    status: Number(status),
    revision: Number(revision),
    entryId: entryId!,
    body: body.join('\n'),
  };
};

/** Appends events atomically with an expected revision; see APPEND_SCRIPT. */
export const appendToStream = async (
  redis: RedisClient,
  request: AppendRequest,
): Promise<AppendResult> => {
  const unique = request.unique ?? [];
  const set = request.set ?? [];
  const hash = request.hash ?? [];
  const idem = request.idempotency;
  const keys = [
    request.streamKey,
    request.logKey,
    ...(idem ? [idem.key] : []),
    ...unique.map((u) => u.key),
    ...set.map((s) => s.key),
    ...hash.map((h) => h.key),
  ];
  const args = [
    String(request.expectedRevision),
    idem ? '1' : '0',
    String(idem?.ttlSeconds ?? 0),
    idem?.requestHash ?? '',
    String(idem?.status ?? 0),
    idem?.body ?? '',
    String(unique.length),
    String(set.length),
    String(request.events.length),
    request.aggregateId,
    String(hash.length),
    ...unique.map((u) => u.value),
    ...set.map((s) => s.value),
    ...hash.flatMap((h) => [h.field, h.value ?? '']),
  ];
  for (const event of request.events) {
    // Nothing a reader would refuse is ever written: logs are never trimmed or fixed.
    if (!isValidEventData(event.type, event.data)) {
      throw new Error(`refusing to append an invalid ${event.type}`);
    }
    args.push(
      event.id,
      event.type,
      String(eventVersions[event.type]),
      event.at,
      event.actor,
      event.corr,
      JSON.stringify(event.data),
    );
  }
  const [outcome, first, second] = await appendCommand(redis)(keys.length, ...keys, ...args);
  switch (outcome) {
    case 'ok':
      return { outcome: 'appended', revision: Number(first), entryId: second ?? '' };
    case 'conflict':
      return { outcome: 'conflict', currentRevision: Number(first) };
    case 'duplicate':
      return { outcome: 'duplicate', record: parseIdempotencyRecord(first) };
    case 'unique':
      return { outcome: 'unique-violation', key: unique[Number(first) - 1]!.key };
    default:
      throw new Error(`append script answered ${outcome}`);
  }
};
