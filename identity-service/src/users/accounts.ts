import {
  type AuthContext,
  type KeyLayout,
  problems,
  publicProfile,
  type Role,
  type User,
  type UserCommand,
  type UserEvent,
  type UserState,
} from '@tasksync/contracts';
import {
  type CommandCounters,
  type CommandRequest,
  handleCommand,
  type RedisClient,
  roleInStream,
  type TokenService,
  type UserStore,
  withCurrentRole,
} from '@tasksync/platform';
import { decideUser, userErrors } from './decide';
import type { PasswordHasher } from './passwords';
import type { LoginThrottle } from './throttle';

export interface AccountDeps {
  redis: RedisClient;
  keys: KeyLayout;
  users: UserStore;
  counters: CommandCounters;
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

  const loadUser = async (userId: string): Promise<User | null> =>
    (await deps.users.load(userId)).state;

  /** Every user command goes through the one command handler, on the identity log. */
  const execute = (
    userId: string,
    command: UserCommand,
    {
      actor,
      corr,
      ...keysAndCreate
    }: { actor: string; corr: string } & Pick<
      CommandRequest<UserState, UserCommand, UserEvent>,
      'create' | 'unique' | 'set' | 'uniqueTaken'
    >,
  ) =>
    handleCommand(deps, {
      store: deps.users,
      aggregateId: userId,
      log: { key: keys.identityLog, name: 'id' },
      decide: decideUser,
      command,
      actor,
      correlationId: corr,
      // The routes answer from the outcome's state: no idempotency record keeps this body.
      success: { status: 200, body: null },
      ...keysAndCreate,
    });

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
      const passwordHash = await deps.passwords.hash(input.password);
      // E-mail uniqueness is the append's: the e-mail key is written with the event, or nothing is.
      const outcome = await execute(
        userId,
        { type: 'RegisterUser', email: input.email, name, role: input.role },
        {
          actor: input.actor ?? userId,
          corr: input.corr,
          create: true,
          unique: [{ key: keys.email(input.email), value: userId }],
          set: [{ key: keys.credentials(userId), value: passwordHash }],
          uniqueTaken: userErrors.emailTaken,
        },
      );
      return { user: outcome.state!, position: outcome.position };
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
      const current = await withCurrentRole(actor, roleInStream(deps.users));
      if (current.role !== 'admin') throw problems.forbidden('Only an admin may change roles.');
      const outcome = await execute(
        userId,
        { type: 'ChangeRole', role },
        { actor: actor.userId, corr },
      );
      return { user: outcome.state!, position: outcome.position };
    },
  };
};

export type Accounts = ReturnType<typeof createAccounts>;
