import type { AuthContext, Role } from '@tasksync/contracts';

/**
 * A token's role is what it was when the token was signed: an admin demoted
 * since still holds a token that says admin until it expires. Admin rights are
 * checked against the user's role now (`roleNow`: the user's stream on the
 * write side, the read model on the read side); only admin tokens pay for the
 * lookup, since a member token grants nothing a demotion could take away.
 */
export const withCurrentRole = async (
  auth: AuthContext,
  roleNow: (userId: string) => Promise<Role | undefined> | Role | undefined,
): Promise<AuthContext> => {
  if (auth.role !== 'admin') return auth;
  return (await roleNow(auth.userId)) === 'admin' ? auth : { ...auth, role: 'member' };
};
