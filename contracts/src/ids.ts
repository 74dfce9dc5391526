import { validate as uuidValidate, v5 as uuidv5 } from 'uuid';

/** Namespace for ids derived from (user, Idempotency-Key): a retried create lands on the same task. */
const IDEMPOTENT_CREATE_NAMESPACE = '6f1c3b1e-6d9a-4d7e-9a51-3f0f3d6f2a10';

export type IdGenerator = () => string;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 10 * 1024;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * A uuid v7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. The
 * randomness comes from a pooled buffer refilled 1,000 ids at a time: one
 * call into the system's random source per id is a call per event on the
 * write path, and each call costs far more than the 10 bytes it returns.
 */
export const newId: IdGenerator = () => {
  if (poolOffset + 10 > POOL_SIZE) {
    // Web Crypto, so the same code runs in Node and in the browser.
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const r = poolOffset;
  poolOffset += 10;
  const ms = Date.now();
  const high = Math.floor(ms / 0x10000);
  const time = `${(high >>> 0).toString(16).padStart(8, '0')}${(ms & 0xffff).toString(16).padStart(4, '0')}`;
  return (
    `${time.slice(0, 8)}-${time.slice(8, 12)}-` +
    `7${HEX[pool[r]! & 0x0f]!.slice(1)}${HEX[pool[r + 1]!]}-` +
    `${HEX[(pool[r + 2]! & 0x3f) | 0x80]}${HEX[pool[r + 3]!]}-` +
    `${HEX[pool[r + 4]!]}${HEX[pool[r + 5]!]}${HEX[pool[r + 6]!]}${HEX[pool[r + 7]!]}${HEX[pool[r + 8]!]}${HEX[pool[r + 9]!]}`
  );
};

/** Namespace of the General project's id (design §10): fixed, so the TaskCreated upcaster is pure. */
const GENERAL_PROJECT_NAMESPACE = '2d6f0c7a-8f4e-4b1a-9c3d-5e7f1a2b3c4d';
/** The General project: where every task created before projects lives, and POST /tasks without a projectId goes. */
export const GENERAL_PROJECT_ID = uuidv5('general', GENERAL_PROJECT_NAMESPACE);

export const idFromIdempotencyKey = (userId: string, key: string): string =>
  uuidv5(`${userId}\n${key}`, IDEMPOTENT_CREATE_NAMESPACE);

export const isUuid = (value: string): boolean => uuidValidate(value);

const utf8 = new TextEncoder();

/** 32-bit FNV-1a over the UTF-8 bytes of `value`; picks a task's partition (design §2). */
export const fnv1a32 = (value: string): number => {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(value)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
};
