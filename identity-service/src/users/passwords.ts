import { hash, verify } from '@node-rs/bcrypt';

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
      return storedHash !== null && matches;
    },
  };
};
