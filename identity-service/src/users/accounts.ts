import {
  type AuthContext,
  foldUser,
  formatPosition,
  type KeyLayout,
  type NewEvent,
  problems,
  publicProfile,
  type Role,
  type StoredEvent,
  type User,
  type UserEvent,
} from '@tasksync/contracts';
import {
  appendToStream,
  type RedisClient,
  readStream,
  type TokenService,
} from '@tasksync/platform';
import { decideUser, userErrors } from './decide';
import type { PasswordHasher } from './passwords';
import type { LoginThrottle } from './throttle';

export interface AccountDeps {
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  passwords: PasswordHasher;
  throttle: LoginThrottle;
  now: () => Date;
  newId: () => string;
}

/** One answer for an unknown e-mail and a wrong password, so neither can be told apart. */
const invalidCredentials = () => problems.unauthorized('The e-mail or the password is wrong.');

export const createAccounts = (deps: AccountDeps) => {
  const { redis, keys } = deps;

  /** The user folded from its stream, and the position of its last event. */
  const loadUserAt = async (userId: string) => {
    const events = (await readStream(redis, keys.userStream(userId))) as StoredEvent<UserEvent>[];
    const last = events[events.length - 1];
    return { user: foldUser(events), position: last ? formatPosition('id', last.entryId) : '' };
  };
  const loadUser = async (userId: string): Promise<User | null> => (await loadUserAt(userId)).user;

  const toNewEvents = (events: UserEvent[], actor: string, corr: string) => {
    const at = deps.now().toISOString();
    return events.map((event): NewEvent => ({ ...event, id: deps.newId(), at, actor, corr }));
  };

  return {
    loadUser,

    /** Registers a user; the e-mail key, the credentials and the event are written in one append. */
    async register(input: {
      email: string;
      password: string;
      name?: string | undefined;
      role: Role;
      actor?: string;
      corr: string;
    }) {
      const userId = deps.newId();
      // The e-mail's local part may be longer than a name may be.
      const name = input.name ?? input.email.split('@')[0]!.slice(0, 100);
      const events = decideUser(null, {
        type: 'RegisterUser',
        email: input.email,
        name,
        role: input.role,
      });
      const passwordHash = await deps.passwords.hash(input.password);
      const result = await appendToStream(redis, {
        streamKey: keys.userStream(userId),
        logKey: keys.identityLog,
        aggregateId: userId,
        expectedRevision: 'none',
        events: toNewEvents(events, input.actor ?? userId, input.corr),
        unique: [{ key: keys.email(input.email), value: userId }],
        set: [{ key: keys.credentials(userId), value: passwordHash }],
      });
      if (result.outcome === 'unique-violation') throw userErrors.emailTaken();
      if (result.outcome !== 'appended') throw new Error(`register: unexpected ${result.outcome}`);
      const user = (await loadUser(userId))!;
      return { user, position: formatPosition('id', result.entryId) };
    },

    async login(email: string, password: string) {
      // The attempt is counted before the password is checked, so parallel guesses
      // cannot all slip past the limit while bcrypt runs.
      const retryAfter = await deps.throttle.countAttempt(email);
      if (retryAfter > 0) {
        throw problems.tooManyRequests(
          'Too many failed logins for this e-mail; try again later.',
          retryAfter,
        );
      }
      const userId = await redis.get(keys.email(email));
      const storedHash = userId ? await redis.get(keys.credentials(userId)) : null;
      const valid = await deps.passwords.verify(password, storedHash);
      const user = valid && userId ? await loadUser(userId) : null;
      if (!user) throw invalidCredentials();
      await deps.throttle.reset(email);
      const { token, expiresIn } = deps.tokens.sign({ userId: user.id, role: user.role });
      return {
        token,
        tokenType: 'Bearer' as const,
        expiresIn,
        user: publicProfile(user, { userId: user.id, role: user.role }),
      };
    },

    /**
     * Changes a role. The actor's role is read from its own stream, not from its
     * token, so a demoted admin loses the right at once.
     */
    async changeRole(actor: AuthContext, userId: string, role: Role, corr: string) {
      const actorUser = await loadUser(actor.userId);
      if (actorUser?.role !== 'admin') throw problems.forbidden('Only an admin may change roles.');
      for (let attempt = 0; attempt < 5; attempt++) {
        const { user, position } = await loadUserAt(userId);
        const events = decideUser(user, { type: 'ChangeRole', role });
        if (!events.length) return { user: user!, position };
        const result = await appendToStream(redis, {
          streamKey: keys.userStream(userId),
          logKey: keys.identityLog,
          aggregateId: userId,
          expectedRevision: user!.revision,
          events: toNewEvents(events, actor.userId, corr),
        });
        if (result.outcome === 'appended') {
          return {
            user: (await loadUser(userId))!,
            position: formatPosition('id', result.entryId),
          };
        }
      }
      throw problems.conflict('concurrency-conflict', 'The user kept changing; try again.');
    },
  };
};

export type Accounts = ReturnType<typeof createAccounts>;
