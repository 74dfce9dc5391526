import { foldUser, type StoredEvent, type UserEvent } from '@tasksync/contracts';
import { deciderSpec } from '@tasksync/contracts/testing';
import { describe, it } from 'vitest';
import { decideUser } from './decide';

const given = deciderSpec({
  fold: (events: StoredEvent<UserEvent>[]) => foldUser(events),
  decide: (state, command: Parameters<typeof decideUser>[1]) => decideUser(state, command),
  aggregateId: '0190b6a0-0000-7000-8000-0000000000e1',
});
const registered = {
  type: 'UserRegistered' as const,
  data: { email: 'ada@example.com', name: 'Ada', role: 'member' as const },
};

describe('user decider', () => {
  it('registers a new user', () => {
    given([])
      .when(
        { type: 'RegisterUser', email: 'ada@example.com', name: 'Ada', role: 'member' },
        undefined,
      )
      .thenAppends([registered]);
  });
  // A taken e-mail is not the decider's to see: the append script refuses the
  // e-mail key (identity.int.test.ts, 409 email-taken). The decider only sees
  // its own stream, which a fresh id leaves empty.
  it('registers with the role it is given (the bootstrap admin)', () => {
    given([])
      .when(
        { type: 'RegisterUser', email: 'root@example.com', name: 'Root', role: 'admin' },
        undefined,
      )
      .thenAppends([
        {
          type: 'UserRegistered',
          data: { email: 'root@example.com', name: 'Root', role: 'admin' },
        },
      ]);
  });
  it('changes a role, and appends nothing when it is already that role', () => {
    given([registered])
      .when({ type: 'ChangeRole', role: 'admin' }, undefined)
      .thenAppends([{ type: 'UserRoleChanged', data: { from: 'member', to: 'admin' } }]);
    given([registered]).when({ type: 'ChangeRole', role: 'member' }, undefined).thenAppends([]);
  });
  it('answers 404 for a role change of an unknown user', () => {
    given([]).when({ type: 'ChangeRole', role: 'admin' }, undefined).thenFails(404, 'not-found');
  });
});
