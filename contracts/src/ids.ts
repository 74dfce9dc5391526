import { validate as uuidValidate, v5 as uuidv5, v7 as uuidv7 } from 'uuid';

/** Namespace for ids derived from (user, Idempotency-Key): a retried create lands on the same task. */
const IDEMPOTENT_CREATE_NAMESPACE = '6f1c3b1e-6d9a-4d7e-9a51-3f0f3d6f2a10';

export type IdGenerator = () => string;

export const newId: IdGenerator = () => uuidv7();

export const idFromIdempotencyKey = (userId: string, key: string): string =>
  uuidv5(`${userId}\n${key}`, IDEMPOTENT_CREATE_NAMESPACE);

export const isUuid = (value: string): boolean => uuidValidate(value);

/** 32-bit FNV-1a over the UTF-8 bytes of `value`; picks a task's partition (design §2). */
export const fnv1a32 = (value: string): number => {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(value, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
};
