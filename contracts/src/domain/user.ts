import type { StoredEvent, UserEvent } from '../events';
import type { Role } from './fields';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
  revision: number;
}

export type UserState = User | null;

/** Pure fold of one user event into the user's state. */
export const evolveUser = (state: UserState, event: StoredEvent<UserEvent>): UserState => {
  switch (event.type) {
    case 'UserRegistered':
      return { id: event.agg, ...event.data, createdAt: event.at, revision: event.rev };
    case 'UserRoleChanged':
      return state && { ...state, role: event.data.to, revision: event.rev };
  }
};

export const foldUser = (events: Iterable<StoredEvent<UserEvent>>, initial: UserState = null) => {
  let state = initial;
  for (const event of events) state = evolveUser(state, event);
  return state;
};

/** What anyone may see of a user; the e-mail only for admins and the user (design §6). */
export const publicProfile = (user: User, viewer?: { userId: string; role: Role }) => {
  const mayReadEmail =
    viewer !== undefined && (viewer.role === 'admin' || viewer.userId === user.id);
  return {
    id: user.id,
    name: user.name,
    role: user.role,
    createdAt: user.createdAt,
    ...(mayReadEmail ? { email: user.email } : {}),
  };
};
