import { MAX_PROJECT_MEMBERS, problems } from '@tasksync/contracts';

/** Domain errors of projects (design §10), each with its HTTP status. */
export const projectErrors = {
  /** Also what a project the caller cannot see answers: its existence is not revealed. */
  notFound: () => problems.notFound('No project with this id.'),
  alreadyExists: () =>
    problems.conflict('project-exists', 'A project with this id already exists.'),
  notAllowed: (action: string, who: string) =>
    problems.forbidden(`Only ${who} may ${action} this project.`),
  archived: () =>
    problems.conflict(
      'project-archived',
      'The project is archived and read-only; an owner or an admin may restore it.',
    ),
  notMember: () => problems.notFound('This user is not a member of the project.'),
  unknownUser: () => problems.unprocessable('unknown-user', 'No registered user has this id.'),
  unknownEmail: () =>
    problems.unprocessable('unknown-email', 'No registered user has this e-mail address.'),
  lastOwner: () =>
    problems.conflict(
      'last-owner',
      'A project keeps at least one owner: make someone else owner first.',
    ),
  memberLimit: () =>
    problems.conflict('member-limit', `A project has at most ${MAX_PROJECT_MEMBERS} members.`),
};
