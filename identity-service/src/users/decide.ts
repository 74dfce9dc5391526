import { problems, type UserCommand, type UserEvent, type UserState } from '@tasksync/contracts';

export const userErrors = {
  emailTaken: () => problems.conflict('email-taken', 'An account with this e-mail already exists.'),
  notFound: () => problems.notFound('No user with this id.'),
};

/** The user's rules: given its state and a command, the events to append, or a domain error. */
export const decideUser = (state: UserState, command: UserCommand): UserEvent[] => {
  switch (command.type) {
    case 'RegisterUser':
      if (state) throw userErrors.emailTaken();
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
