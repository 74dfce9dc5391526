/**
 * `npm run migrate-layout`: converts a layout-1 store to layout 2 in place
 * (design §11). Each aggregate's stream becomes an index of its log entry ids
 * under the same key.
 *
 * Copy (may run while layout-1 writers still write): every log is read in
 * batches from its checkpoint; one script per batch, in the log's slot,
 * appends each entry's id to its aggregate's shadow index beside the stream
 * (`<prefix>:{t3}:migrating:task:<id>`), compares the entry with the copy in
 * the aggregate's stream (a difference is recorded, and refuses the switch),
 * and moves the checkpoint, atomically: a kill -9 anywhere resumes exactly.
 *
 * Switch (writers stopped): catch up to the end of every log, check that
 * every aggregate stream (SCAN on every master) and its shadow hold the same
 * number of events and end at the same id, then rename each shadow over its
 * stream (a script per batch of one slot, checking each aggregate again in
 * the same step), check that no log grew meanwhile (a writer still running
 * stops the run), and only then, last, set `layoutVersion` to 2. A key that
 * is already an index with no shadow is done, so a kill -9 during the
 * renames resumes too.
 */
import { createHash } from 'node:crypto';
import { aggregateKeyParts, type KeyLayout } from '@tasksync/contracts';
import { INDEX_ENTRY_BYTES, INDEX_LUA } from '../redis/append';
import { masters, type RedisClient } from '../redis/client';
import type { RawEntry } from '../redis/readers';

/** The phases a run reports progress in: events copied, aggregates verified, aggregates switched. */
export type MigrationPhase = 'copy' | 'verify' | 'switch';

export interface MigrationProgress {
  phase: MigrationPhase;
  done: number;
  total: number;
}

/** An aggregate whose events would not be the same after the switch. */
export interface Mismatch {
  /** The aggregate's key, or the log's for an entry that names no aggregate. */
  key: string;
  /** The log entry concerned, when it is one entry. */
  entryId?: string;
  reason: string;
}

export type MigrationResult =
  | { outcome: 'already-migrated' }
  | { outcome: 'nothing-to-migrate' }
  | { outcome: 'copied'; copiedEvents: number; totalEvents: number }
  | { outcome: 'refused'; mismatches: Mismatch[] }
  | {
      outcome: 'migrated';
      copiedEvents: number;
      totalEvents: number;
      /** Aggregates switched by this run (a resumed run switches those a killed one left). */
      aggregates: number;
      /** How long the run took: what writers were paused for. */
      pausedMs: number;
    };

export interface MigrateLayoutOptions {
  redis: RedisClient;
  keys: KeyLayout;
  /** Log entries per copy script call, and aggregates per switch script call. */
  batchSize?: number;
  /** Copy and verify what can be, without switching: writers may keep running. */
  copyOnly?: boolean;
  onProgress?: (progress: MigrationProgress) => void;
  /** Called as each phase starts (tests use it to act at a known point). */
  onPhase?: (phase: MigrationPhase) => void | Promise<void>;
}

/** A store the migration must not or cannot touch: its message says why and what to do. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/** Lua: entry ids packed as layout 2's index holds them (append.ts's INDEX_LUA), and compared. */
const MIGRATION_LUA = `${INDEX_LUA}
local function lastIndexed(key)
  local len = redis.call('STRLEN', key)
  if len == 0 then return nil end
  return redis.call('GETRANGE', key, len - ${INDEX_ENTRY_BYTES}, len - 1)
end
local function isAfter(id, packed)
  if not packed then return true end
  local dash = string.find(id, '-', 1, true)
  local ms, seq = tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
  local lastMs, lastSeq = struct.unpack('>I8I8', packed)
  return ms > lastMs or (ms == lastMs and seq > lastSeq)
end
`;

/**
 * One batch of one log, atomically: each entry's id appended to its
 * aggregate's shadow index (only when after the shadow's last id, so an entry
 * is never indexed twice), the entry compared with the aggregate stream's
 * copy, and the checkpoint moved. An aggregate whose key is already an index
 * (switched by an earlier run) gets the id in that index, unless it holds it:
 * only an append during a switch leaves entries for one.
 *
 * KEYS: log, progress (hash: after, copied), mismatches (hash), then per aggregate: its key, its shadow.
 * ARGV: the checkpoint the batch was read after, then per entry: aggregate number (0: none), entry id.
 * Answers {'ok', copied} or {'moved', checkpoint} when another run copied past it.
 */
const COPY_SCRIPT = `${MIGRATION_LUA}
local after = redis.call('HGET', KEYS[2], 'after') or '0'
if after ~= ARGV[1] then return {'moved', after} end
local n = (#ARGV - 1) / 2
local logEntries = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[#ARGV])
local kinds = {}
local lasts = {}
local function mismatch(key, id, reason)
  redis.call('HSET', KEYS[3], key .. ' ' .. id, reason)
end
local function sameFields(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end
for i = 1, n do
  local aggregate = tonumber(ARGV[2 * i])
  local id = ARGV[2 * i + 1]
  local entry = logEntries[i]
  if not entry or entry[1] ~= id then return redis.error_reply('log entry ' .. id .. ' is not where it was read') end
  if aggregate == 0 then
    mismatch(KEYS[1], id, 'names no aggregate')
  else
    local key, shadow = KEYS[2 + 2 * aggregate], KEYS[3 + 2 * aggregate]
    local kind = kinds[aggregate]
    if not kind then
      kind = redis.call('TYPE', key)['ok']
      kinds[aggregate] = kind
    end
    local target = shadow
    if kind == 'string' then
      target = key
    elseif kind == 'stream' then
      local copy = redis.call('XRANGE', key, id, id)[1]
      if not copy then
        mismatch(key, id, 'missing from the aggregate stream')
      elseif not sameFields(copy[2], entry[2]) then
        mismatch(key, id, 'differs between the aggregate stream and the log')
      end
    else
      mismatch(key, id, 'the aggregate has no stream (' .. kind .. ')')
    end
    if lasts[target] == nil then lasts[target] = lastIndexed(target) or false end
    if isAfter(id, lasts[target] or nil) then
      lasts[target] = packId(id)
      redis.call('APPEND', target, lasts[target])
    end
  end
end
redis.call('HSET', KEYS[2], 'after', ARGV[#ARGV])
return {'ok', tostring(redis.call('HINCRBY', KEYS[2], 'copied', n))}
`;

/**
 * Aggregates of one slot: for each, checks that its stream and its shadow
 * index hold the same number of events ending at the same id and, with
 * ARGV[1] = 'rename', renames the shadow over the stream in the same step (an
 * empty stream is deleted: layout 2 has no key for an aggregate without
 * events).
 *
 * KEYS: per aggregate, its key and its shadow. Answers per aggregate {'same'},
 * {'switched'} (also when it was already), or {'differs', the stream's events, the shadow's ids}.
 */
const SWITCH_SCRIPT = `${MIGRATION_LUA}
local function switch(key, shadow)
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'string' then
    if redis.call('EXISTS', shadow) == 1 then return {'differs', 'an index already', 'a shadow too'} end
    return {'switched'}
  end
  if kind ~= 'stream' and kind ~= 'none' then return {'differs', kind, ''} end
  local events = 0
  local lastEvent = ''
  if kind == 'stream' then
    events = redis.call('XLEN', key)
    if events > 0 then lastEvent = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1][1] end
  end
  local packed = lastIndexed(shadow)
  local indexed = redis.call('STRLEN', shadow) / ${INDEX_ENTRY_BYTES}
  local lastId = packed and unpackId(packed) or ''
  if events ~= indexed or lastEvent ~= lastId then
    return {'differs', tostring(events) .. ' ending ' .. lastEvent, tostring(indexed) .. ' ending ' .. lastId}
  end
  if ARGV[1] ~= 'rename' then return {'same'} end
  if indexed == 0 then
    redis.call('DEL', key)
  else
    redis.call('RENAME', shadow, key)
  end
  return {'switched'}
end
local answers = {}
for i = 1, #KEYS, 2 do
  answers[#answers + 1] = switch(KEYS[i], KEYS[i + 1])
end
return answers
`;

type ScriptAnswer = [string, ...string[]];

/**
 * Runs a script by its hash and loads it on the node that lacks it. EVALSHA
 * rather than a defined command: the cluster client pipelines neither, so
 * scripts for different masters never share a pipeline (see createRedis).
 */
const scriptRunner = (script: string) => {
  const sha = createHash('sha1').update(script).digest('hex');
  return async (redis: RedisClient, keys: string[], args: string[]): Promise<ScriptAnswer> => {
    try {
      return (await redis.evalsha(sha, keys.length, ...keys, ...args)) as ScriptAnswer;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await redis.eval(script, keys.length, ...keys, ...args)) as ScriptAnswer;
    }
  };
};

const copyBatch = scriptRunner(COPY_SCRIPT);
const switchAggregates = scriptRunner(SWITCH_SCRIPT);

/** A log with the aggregates it holds events of, and the migration's bookkeeping beside it. */
interface MigratingLog {
  key: string;
  aggregateKey: (aggregateId: string) => string;
  /** Hash: `after` (the last entry copied) and `copied` (entries copied so far). */
  progress: string;
  /** Hash: `<aggregate key> <entry id>` → why the switch would change that aggregate. */
  mismatches: string;
}

/**
 * The shadow index beside an aggregate's stream, in its slot:
 * `<prefix>:{t3}:task:x` → `<prefix>:{t3}:migrating:task:x`.
 */
export const shadowKeyOf = (aggregateKey: string) => {
  const { prefix, tag, kind, id } = aggregateKeyParts(aggregateKey)!;
  return `${prefix}:${tag}:migrating:${kind}:${id}`;
};

const isAggregateKey = (keys: KeyLayout, key: string) =>
  aggregateKeyParts(key)?.prefix === keys.prefix;

const migratingLogs = (keys: KeyLayout): MigratingLog[] => {
  const log = (key: string, aggregateKey: (aggregateId: string) => string): MigratingLog => {
    const beside = key.replace(/:log$/, ':migrating');
    return {
      key,
      aggregateKey: (aggregateId) => {
        const aggregate = aggregateKey(aggregateId);
        // A task's stream is in its partition's slot, so in the log's: unless the partition count changed.
        if (!aggregate.startsWith(key.slice(0, -'log'.length)))
          throw new MigrationError(`${aggregate} is not in the slot of ${key}`);
        return aggregate;
      },
      progress: `${beside}:progress`,
      mismatches: `${beside}:mismatches`,
    };
  };
  return [
    ...Array.from({ length: keys.partitions }, (_, p) => log(keys.taskLog(p), keys.taskStream)),
    log(keys.projectLog, keys.projectStream),
    log(keys.identityLog, keys.userStream),
  ];
};

/** Every layout-1 aggregate stream of the store, on every master. */
const scanAggregateStreams = async (redis: RedisClient, keys: KeyLayout) => {
  const found = new Set<string>();
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(
        cursor,
        'MATCH',
        `${keys.prefix}:*`,
        'COUNT',
        1000,
        'TYPE',
        'stream',
      );
      cursor = next;
      for (const key of batch) if (isAggregateKey(keys, key)) found.add(key);
    } while (cursor !== '0');
  }
  return [...found].sort();
};

const readProgress = async (redis: RedisClient, log: MigratingLog) => {
  const [after, copied] = await redis.hmget(log.progress, 'after', 'copied');
  return { after: after ?? '0', copied: Number(copied ?? 0) };
};

/**
 * Copies one log from its checkpoint to its end as it is now, a batch per
 * script call. Reports every batch's entries through `onCopied`.
 */
const copyLog = async (
  redis: RedisClient,
  log: MigratingLog,
  batchSize: number,
  onCopied: (entries: number) => void,
) => {
  const readBatch = async (after: string) =>
    (await redis.xrange(
      log.key,
      after === '0' ? '-' : `(${after}`,
      '+',
      'COUNT',
      batchSize,
    )) as RawEntry[];
  let { after } = await readProgress(redis, log);
  let next = readBatch(after);
  for (;;) {
    const entries = await next;
    if (entries.length === 0) return;
    const last = entries[entries.length - 1]![0];
    // The next batch is read while Redis runs this one's script.
    next = readBatch(last);
    const [outcome, value] = await copyBatch(redis, ...copyCall(log, after, entries));
    if (outcome === 'moved') {
      await next;
      after = value!;
      next = readBatch(after);
      continue;
    }
    after = last;
    onCopied(entries.length);
  }
};

/** The copy script's keys and arguments for a batch read after `after`. */
const copyCall = (log: MigratingLog, after: string, entries: RawEntry[]): [string[], string[]] => {
  const aggregateKeys: string[] = [];
  const numbers = new Map<string, number>();
  const args = [after];
  for (const [id, fields] of entries) {
    const aggregateId = fieldValue(fields, 'agg');
    let number = 0;
    if (aggregateId) {
      const key = log.aggregateKey(aggregateId);
      number = numbers.get(key) ?? 0;
      if (!number) {
        aggregateKeys.push(key, shadowKeyOf(key));
        number = aggregateKeys.length / 2;
        numbers.set(key, number);
      }
    }
    args.push(String(number), id);
  }
  return [[log.key, log.progress, log.mismatches, ...aggregateKeys], args];
};

const fieldValue = (fields: string[], name: string) => {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
};

/** Copies every log, side by side (on a cluster they are on different masters). */
const copyAll = async (
  redis: RedisClient,
  logs: MigratingLog[],
  batchSize: number,
  onProgress: (progress: MigrationProgress) => void,
) => {
  const [progress, lengths] = await Promise.all([
    Promise.all(logs.map((log) => readProgress(redis, log))),
    Promise.all(logs.map((log) => redis.xlen(log.key))),
  ]);
  const total = lengths.reduce((sum, length) => sum + length, 0);
  let done = progress.reduce((sum, p) => sum + p.copied, 0);
  onProgress({ phase: 'copy', done, total });
  await Promise.all(
    logs.map((log) =>
      copyLog(redis, log, batchSize, (entries) => {
        done += entries;
        onProgress({ phase: 'copy', done, total: Math.max(total, done) });
      }),
    ),
  );
  return { copied: done, total: Math.max(total, done) };
};

/**
 * Recorded differences that still hold: an entry compared as different in the
 * copy is compared again, so a store repaired after a refusal can pass.
 */
const standingMismatches = async (redis: RedisClient, log: MigratingLog) => {
  const recorded = await redis.hgetall(log.mismatches);
  const standing: Mismatch[] = [];
  for (const [field, reason] of Object.entries(recorded)) {
    // An entry id holds no space; an aggregate id might.
    const key = field.slice(0, field.lastIndexOf(' '));
    const entryId = field.slice(field.lastIndexOf(' ') + 1);
    if (key !== log.key && (await entryIsCopied(redis, log, key, entryId))) {
      await redis.hdel(log.mismatches, field);
      continue;
    }
    standing.push({ key, entryId, reason });
  }
  return standing;
};

const entryIsCopied = async (redis: RedisClient, log: MigratingLog, key: string, id: string) => {
  if ((await redis.type(key)) !== 'stream') return false;
  const [[copy], [entry]] = (await Promise.all([
    redis.xrange(key, id, id),
    redis.xrange(log.key, id, id),
  ])) as [RawEntry[], RawEntry[]];
  return !!copy && !!entry && JSON.stringify(copy) === JSON.stringify(entry);
};

/** An aggregate key's hash tag: the keys a script may touch together. */
const hashTagOf = (key: string) => aggregateKeyParts(key)!.tag;

/**
 * Runs the switch script on aggregates: `batchSize` of one slot per call, the
 * slots side by side (on a cluster they are on different masters).
 */
const forEachAggregate = async (
  redis: RedisClient,
  aggregateKeys: string[],
  { mode, batchSize }: { mode: 'check' | 'rename'; batchSize: number },
  onDone: (key: string, answer: ScriptAnswer) => void,
) => {
  const bySlot = new Map<string, string[]>();
  for (const key of aggregateKeys) {
    const slotKeys = bySlot.get(hashTagOf(key));
    if (slotKeys) slotKeys.push(key);
    else bySlot.set(hashTagOf(key), [key]);
  }
  await Promise.all(
    [...bySlot.values()].map(async (slotKeys) => {
      for (let i = 0; i < slotKeys.length; i += batchSize) {
        const batch = slotKeys.slice(i, i + batchSize);
        const answers = (await switchAggregates(
          redis,
          batch.flatMap((key) => [key, shadowKeyOf(key)]),
          [mode],
        )) as unknown as ScriptAnswer[];
        for (const [j, answer] of answers.entries()) onDone(batch[j]!, answer);
      }
    }),
  );
};

const differs = (key: string, answer: ScriptAnswer): Mismatch => ({
  key,
  reason: `the stream holds ${answer[1]}, the new index ${answer[2]}`,
});

/** Deletes what the migration kept beside the logs (the shadows are gone by then). */
const dropBookkeeping = (redis: RedisClient, logs: MigratingLog[]) =>
  Promise.all(logs.flatMap((log) => [redis.del(log.progress), redis.del(log.mismatches)]));

/**
 * Migrates a layout-1 store to layout 2 (see the top of this file), or with
 * `copyOnly` does the copy and what can be verified while writers run.
 * Resumable after a kill at any point; on a store already on layout 2 it does
 * nothing. The switch requires command-service and identity-service stopped:
 * an append it notices during the switch stops it with a MigrationError
 * (run again once they are stopped).
 */
export const migrateLayout = async (options: MigrateLayoutOptions): Promise<MigrationResult> => {
  const { redis, keys } = options;
  const batchSize = options.batchSize ?? 500;
  const onProgress = options.onProgress ?? (() => {});
  const logs = migratingLogs(keys);

  const [version, partitions] = await redis.hmget(keys.meta, 'layoutVersion', 'partitions');
  if (version === '2') {
    // A run killed after the switch and before its clean-up leaves these behind.
    await dropBookkeeping(redis, logs);
    return { outcome: 'already-migrated' };
  }
  if (version === null) return { outcome: 'nothing-to-migrate' };
  if (version !== '1')
    throw new MigrationError(`${keys.meta} holds layoutVersion ${version}: not one this migrates.`);
  if (Number(partitions) !== keys.partitions)
    throw new MigrationError(
      `EVENT_PARTITIONS is ${keys.partitions} but the data in Redis was written with ${partitions}; ` +
        `run with EVENT_PARTITIONS=${partitions}.`,
    );

  // Without copyOnly writers must be stopped from here on: an append the
  // switch notices stops it (see below), and the whole run is their pause.
  const started = Date.now();
  await options.onPhase?.('copy');
  const copied = await copyAll(redis, logs, batchSize, onProgress);
  if (options.copyOnly) {
    return { outcome: 'copied', copiedEvents: copied.copied, totalEvents: copied.total };
  }

  await options.onPhase?.('verify');
  const mismatches = (await Promise.all(logs.map((log) => standingMismatches(redis, log)))).flat();
  const streams = await scanAggregateStreams(redis, keys);
  let checked = 0;
  onProgress({ phase: 'verify', done: 0, total: streams.length });
  await forEachAggregate(redis, streams, { mode: 'check', batchSize }, (key, answer) => {
    if (answer[0] === 'differs') mismatches.push(differs(key, answer));
    onProgress({ phase: 'verify', done: ++checked, total: streams.length });
  });
  if (mismatches.length > 0) return { outcome: 'refused', mismatches };

  await options.onPhase?.('switch');
  let switched = 0;
  const writesDuringSwitch: string[] = [];
  onProgress({ phase: 'switch', done: 0, total: streams.length });
  await forEachAggregate(redis, streams, { mode: 'rename', batchSize }, (key, answer) => {
    if (answer[0] === 'differs') writesDuringSwitch.push(key);
    else onProgress({ phase: 'switch', done: ++switched, total: streams.length });
  });
  const logsWritten = (
    await Promise.all(
      logs.map(async (log) => {
        const [{ after }, [newest]] = await Promise.all([
          readProgress(redis, log),
          redis.xrevrange(log.key, '+', '-', 'COUNT', 1) as Promise<RawEntry[]>,
        ]);
        return newest && newest[0] !== after ? [log.key] : [];
      }),
    )
  ).flat();
  if (writesDuringSwitch.length > 0 || logsWritten.length > 0) {
    throw new MigrationError(
      `Events were appended during the switch (${[...logsWritten, ...writesDuringSwitch].slice(0, 5).join(', ')}): ` +
        'stop command-service and identity-service, then run npm run migrate-layout again; it resumes.',
    );
  }

  // Last: the services read layout 2 from here on.
  await redis.hset(keys.meta, 'layoutVersion', '2');
  await dropBookkeeping(redis, logs);
  return {
    outcome: 'migrated',
    copiedEvents: copied.copied,
    totalEvents: copied.total,
    aggregates: streams.length,
    pausedMs: Date.now() - started,
  };
};
