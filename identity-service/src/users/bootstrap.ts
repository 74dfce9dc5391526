import { type KeyLayout, ProblemError } from '@tasksync/contracts';
import type { Logger, RedisClient } from '@tasksync/platform';
import type { Accounts } from './accounts';

/**
 * Creates the first admin from ADMIN_EMAIL/ADMIN_PASSWORD when that e-mail is
 * not registered yet. An existing account is left as it is: its password may
 * have been changed since.
 */
export const bootstrapAdmin = async (
  deps: { accounts: Accounts; redis: RedisClient; keys: KeyLayout; logger: Logger },
  admin: { email: string; password: string },
) => {
  if (await deps.redis.exists(deps.keys.email(admin.email))) return false;
  try {
    const { user } = await deps.accounts.register({
      email: admin.email,
      password: admin.password,
      name: 'Administrator',
      role: 'admin',
      actor: 'system',
      corr: 'bootstrap',
    });
    deps.logger.info({ userId: user.id, email: user.email }, 'bootstrapped the admin account');
    return true;
  } catch (error) {
    // Another identity-service process registered it first.
    if (error instanceof ProblemError && error.status === 409) return false;
    throw error;
  }
};
