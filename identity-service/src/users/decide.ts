import { problems, type UserCommand, type UserEvent, type UserState } from '@tasksync/contracts';

export const userErrors = {
  /** Raised by the append (the e-mail key is unique), never by `decideUser`: see register. */
  emailTaken: () => problems.conflict('email-taken', 'An account with this e-mail already exists.'),
  alreadyRegistered: () =>
    problems.conflict('user-exists', 'A user with this id is already registered.'),
  notFound: () => problems.notFound('No user with this id.'),
};

/** The user's rules: given its state and a command, the events to append, or a domain error. */
export const decideUser = (state: UserState, command: UserCommand): UserEvent[] => {
  switch (command.type) {
    case 'RegisterUser':
      if (state) throw userErrors.alreadyRegistered();
      return [
        {
          type: 'UserRegistered',
          data: { email: command.email, name: command.name, role: command.role },
        },
      ];
    case 'ChangeRole':
      if (!state) throw userErrors.notFound();
      if (state.role === command.role) return [];
      return [{ type: 'UserRoleChanged', data: { from: state.role, to: command.role } }];
  }
};
