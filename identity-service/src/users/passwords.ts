import { hash, verify } from '@node-rs/bcrypt';

const MAX_PASSWORD_BYTES = 72;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Compares against `storedHash`, or against a dummy hash when the user is unknown, so both take as long. */
  verify(password: string, storedHash: string | null): Promise<boolean>;
}

/** bcrypt on libuv's thread pool (@node-rs/bcrypt), so hashing never blocks the event loop. */
export const createPasswordHasher = async (cost: number): Promise<PasswordHasher> => {
  const dummyHash = await hash('not a real password, only spends time', cost);
  return {
    hash: (password) => hash(password, cost),
    verify: async (password, storedHash) => {
      const matches = await verify(password, storedHash ?? dummyHash);
      // bcrypt reads 72 bytes at most: a longer password must not pass on its prefix.
      const fits = Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES;
      return storedHash !== null && fits && matches;
    },
  };
};
