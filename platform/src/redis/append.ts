import { eventVersions, isValidEventData, type NewEvent } from '@tasksync/contracts';
import type { RedisClient } from './client';

export type ExpectedRevision = 'any' | 'none' | number;

/**
 * How events are kept (design §11). Layout 1: each aggregate has a stream of
 * its own holding a copy of its events. Layout 2: each event is stored once,
 * in its log; an aggregate keeps only an index of its events' log entry ids,
 * a string of fixed-width 16-byte ids (see `INDEX_ENTRY_BYTES`) in the same
 * slot, whose length gives its revision.
 */
export type StoreLayout = 1 | 2;

/**
 * Bytes per event in a layout-2 index: an entry id `<ms>-<seq>` as two
 * big-endian unsigned 64-bit integers. Chosen by measurement
 * (bench/index-encodings.ts): 200,000 events (40,000 tasks × 5) cost 324
 * bytes each in the log alone, 388 with this index, 391 with a list of id
 * strings and 1,200 with layout 1's stream per task. A string also answers a
 * revision (STRLEN) and any range of revisions (GETRANGE) in O(1), without
 * parsing.
 */
export const INDEX_ENTRY_BYTES = 16;

/** Lua: an entry id packed for a layout-2 index, and back. Entry id parts stay below 2^53. */
export const INDEX_LUA = `
local function packId(id)
  local dash = string.find(id, '-', 1, true)
  return struct.pack('>I8I8', tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1)))
end
local function unpackId(bytes, at)
  local ms, seq = struct.unpack('>I8I8', bytes, at)
  return string.format('%.0f-%.0f', ms, seq)
end
`;

/**
 * One Lua script appends atomically (design §3): it checks the idempotency
 * record, the unique keys and the expected revision, XADDs every event to its
 * log and then records it for its aggregate under the same entry id (layout
 * 1: a copy in the aggregate's stream; layout 2: the id appended to the
 * aggregate's index), and stores the idempotency record. An event's position
 * is therefore its log entry id, whatever the layout.
 *
 * KEYS: aggregate stream or index, log, [idempotency key], unique keys…, set keys…, hash keys…
 * ARGV: expected, hasIdem, idemTtl, idemHash, idemStatus, idemBody,
 *       nUnique, nSet, nEvents, aggregateId, nHash, unique values…, set values…,
 *       per hash key: field, value ('' deletes the field),
 *       then per event: id, type, v, at, actor, corr, data
 */
const appendScript = (layout: StoreLayout) => `${INDEX_LUA}
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
local len = ${layout === 1 ? "redis.call('XLEN', KEYS[1])" : `redis.call('STRLEN', KEYS[1]) / ${INDEX_ENTRY_BYTES}`}
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
${
  layout === 1
    ? `  redis.call('XADD', KEYS[1], position, 'id', ARGV[a], 'type', ARGV[a + 1], 'v', ARGV[a + 2],
    'agg', agg, 'rev', rev, 'at', ARGV[a + 3], 'actor', ARGV[a + 4], 'corr', ARGV[a + 5], 'data', ARGV[a + 6])`
    : "  redis.call('APPEND', KEYS[1], packId(position))"
}
  a = a + 7
end
if nEvents == 0 and len > 0 then
  position = ${
    layout === 1
      ? "redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1][1]"
      : `unpackId(redis.call('GETRANGE', KEYS[1], -${INDEX_ENTRY_BYTES}, -1), 1)`
  }
end
local revision = tostring(current + nEvents)
if hasIdem then
  redis.call('SET', KEYS[3], ARGV[4] .. '\\n' .. ARGV[5] .. '\\n' .. revision .. '\\n' .. position .. '\\n' .. ARGV[6], 'EX', ARGV[3])
end
return {'ok', revision, position}
`;

/**
 * Layout 2: an aggregate's log entries from a revision on, in one call (design
 * §11). KEYS: index, log. ARGV: first revision, how many (0: all). Answers XRANGE's shape, one
 * entry per indexed id; an id the log no longer holds (archived) comes as
 * `[id]` with no fields, for the caller to read from the archive.
 */
const READ_INDEXED_SCRIPT = `${INDEX_LUA}
local count = tonumber(ARGV[2])
local last = count > 0 and (tonumber(ARGV[1]) + count) * ${INDEX_ENTRY_BYTES} - 1 or -1
local bytes = redis.call('GETRANGE', KEYS[1], tonumber(ARGV[1]) * ${INDEX_ENTRY_BYTES}, last)
local entries = {}
for at = 1, string.len(bytes), ${INDEX_ENTRY_BYTES} do
  local id = unpackId(bytes, at)
  local found = redis.call('XRANGE', KEYS[2], id, id)
  entries[#entries + 1] = found[1] or {id}
end
return entries
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
type ReadIndexedCommand = (numKeys: number, ...args: string[]) => Promise<[string, string[]?][]>;

/** The name the append script is defined under on every client, per layout. */
export const APPEND_COMMAND = 'tasksyncAppend';
const APPEND_COMMANDS: Record<StoreLayout, string> = { 1: APPEND_COMMAND, 2: 'tasksyncAppendV2' };
const READ_INDEXED_COMMAND = 'tasksyncReadIndexed';
/** Every script command TaskSync defines on a client (the cluster client sends them unpipelined). */
export const SCRIPT_COMMANDS = [...Object.values(APPEND_COMMANDS), READ_INDEXED_COMMAND];

type Scripted = RedisClient & Record<string, AppendCommand | ReadIndexedCommand | undefined>;

/**
 * Defines the append scripts (and layout 2's read) on a client. createRedis
 * and duplicateRedis do it before the client sends anything: a pipeline copies
 * the scripts defined when it is made, and auto-pipelining queues a command
 * into the pipeline already open this tick, so a script defined later is
 * missing there (the append fails, and ioredis then throws outside any
 * promise, ending the process).
 */
export const defineAppendCommand = <C extends RedisClient>(redis: C): C => {
  const client = redis as unknown as Scripted;
  if (!client[APPEND_COMMAND]) {
    for (const layout of [1, 2] as const)
      client.defineCommand(APPEND_COMMANDS[layout], { lua: appendScript(layout) });
    client.defineCommand(READ_INDEXED_COMMAND, { lua: READ_INDEXED_SCRIPT });
  }
  return redis;
};

const scriptCommand = <T>(redis: RedisClient, name: string) => {
  const client = defineAppendCommand(redis) as unknown as Scripted;
  return (client[name] as T & { bind: (self: unknown) => T }).bind(client);
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

/**
 * Appends events atomically with an expected revision; see `appendScript`.
 * `streamKey` is the aggregate's stream (layout 1) or index (layout 2).
 */
export const appendToStream = async (
  redis: RedisClient,
  request: AppendRequest,
  layout: StoreLayout = 2,
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
    // Nothing a reader would refuse is ever written: logs are never fixed (archived
    // entries are kept as written).
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
  const [outcome, first, second] = await scriptCommand<AppendCommand>(
    redis,
    APPEND_COMMANDS[layout],
  )(keys.length, ...keys, ...args);
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

/**
 * Layout 2: an aggregate's log entries from revision `fromRevision` on (at
 * most `count` of them; 0 for all), by its index, in one script call (see
 * READ_INDEXED_SCRIPT). `missing` lists
 * the indexed entry ids the log no longer holds (archived), in order.
 */
export const readIndexed = async (
  redis: RedisClient,
  indexKey: string,
  logKey: string,
  fromRevision = 0,
  count = 0,
): Promise<{ entries: [id: string, fields: string[]][]; missing: string[] }> => {
  const answer = await scriptCommand<ReadIndexedCommand>(redis, READ_INDEXED_COMMAND)(
    2,
    indexKey,
    logKey,
    String(fromRevision),
    String(count),
  );
  const entries: [string, string[]][] = [];
  const missing: string[] = [];
  for (const [id, fields] of answer) {
    if (fields) entries.push([id, fields]);
    else missing.push(id);
  }
  return { entries, missing };
};
