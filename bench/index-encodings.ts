/**
 * How a layout-2 aggregate index should be encoded (design §11), measured:
 * Redis `used_memory` per event for the same events kept as the log alone,
 * the log plus a stream per task (layout 1), the log plus a string of 16-byte
 * binary entry ids per task, and the log plus a list of entry-id strings per
 * task. Each on a fresh redis-server, TASKS tasks × 5 events (a TaskCreated
 * and four small changes, envelopes as the append script writes them).
 *
 *   node --import tsx bench/index-encodings.ts        (TASKS=40000 by default)
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { findRedisServer, freePort, startRedisServer } from '../scripts/redis-server';
import { taskEnvelope, usedMemory } from './task-envelope';

const TASKS = Number(process.env.TASKS ?? 40_000);
const EVENTS_PER_TASK = 5;
const layouts = [
  'log only',
  'layout 1: a stream per task',
  'a string of 16-byte ids',
  'a list of id strings',
] as const;

/** An entry id `<ms>-<seq>` as two big-endian unsigned 64-bit integers. */
const packed = (id: string) => {
  const [ms, seq] = id.split('-');
  const bytes = Buffer.alloc(16);
  bytes.writeBigUInt64BE(BigInt(ms!), 0);
  bytes.writeBigUInt64BE(BigInt(seq!), 8);
  return bytes;
};

const measure = async (layout: (typeof layouts)[number]) => {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed');
  const server = await startRedisServer({ binary, port: await freePort() });
  const redis = new Redis(server.port);
  try {
    const before = await usedMemory(redis);
    const taskIds = Array.from({ length: TASKS }, () => randomUUID());
    for (let rev = 0; rev < EVENTS_PER_TASK; rev++) {
      for (let start = 0; start < TASKS; start += 1_000) {
        const batch = taskIds.slice(start, start + 1_000);
        const logged = redis.pipeline();
        const envelopes = batch.map((taskId) => taskEnvelope(taskId, rev));
        for (const fields of envelopes) logged.xadd('ts:{t0}:log', '*', ...fields);
        const ids = (await logged.exec())!.map(([, id]) => id as string);
        const indexed = redis.pipeline();
        ids.forEach((id, i) => {
          const key = `ts:{t0}:task:${batch[i]}`;
          if (layout === 'layout 1: a stream per task') indexed.xadd(key, id, ...envelopes[i]!);
          else if (layout === 'a string of 16-byte ids') indexed.append(key, packed(id));
          else if (layout === 'a list of id strings') indexed.rpush(key, id);
        });
        await indexed.exec();
      }
    }
    return ((await usedMemory(redis)) - before) / (TASKS * EVENTS_PER_TASK);
  } finally {
    redis.disconnect();
    await server.stop();
  }
};

console.log(`${TASKS} tasks × ${EVENTS_PER_TASK} events, Redis used_memory per event:`);
for (const layout of layouts)
  console.log(`  ${layout}: ${Math.round(await measure(layout))} bytes`);
