import {
  type AuthContext,
  foldProject,
  GENERAL_PROJECT_ID,
  MAX_PROJECT_MEMBERS,
  type ProjectCommand,
  type ProjectEvent,
} from '@tasksync/contracts';
import { deciderSpec, storedEvents } from '@tasksync/contracts/testing';
import { describe, expect, it } from 'vitest';
import { decideProject, type ProjectDecideContext } from './decide';

const projectId = '0190b6a0-0000-7000-8000-00000000b001';
const person = (n: number, role: AuthContext['role'] = 'member'): AuthContext => ({
  userId: `0190b6a0-0000-7000-8000-0000000010${String(n).padStart(2, '0')}`,
  role,
});
const people = {
  admin: person(1, 'admin'),
  owner: person(2),
  editor: person(3),
  viewer: person(4),
  anyone: person(5),
  outsider: person(6),
};
const newcomer = person(8);
const colleague = person(7);

const given = deciderSpec({
  fold: (events) => foldProject(events),
  decide: decideProject,
  aggregateId: projectId,
});
const as = (actor: AuthContext, registered = true): ProjectDecideContext => ({
  actor,
  member: { by: 'id', registered },
});

const createdAs = (
  visibility: 'private' | 'open',
  ownerId = people.owner.userId,
): ProjectEvent => ({
  type: 'ProjectCreated',
  data: { name: 'Apollo', description: '', visibility, ownerId },
});
const added = (who: AuthContext, role: 'owner' | 'editor' | 'viewer'): ProjectEvent => ({
  type: 'MemberAdded',
  data: { userId: who.userId, role },
});
const team = (visibility: 'private' | 'open' = 'private') => [
  createdAs(visibility),
  added(people.editor, 'editor'),
  added(people.viewer, 'viewer'),
  added(colleague, 'editor'),
];
const archived: ProjectEvent = { type: 'ProjectArchived', data: {} };

describe('CreateProject', () => {
  it('creates a private project owned by the caller, with defaults', () => {
    given([])
      .when({ type: 'CreateProject', fields: { name: 'Apollo' } }, as(people.owner))
      .thenAppends([createdAs('private')]);
  });
  it('keeps the description and visibility given', () => {
    given([])
      .when(
        {
          type: 'CreateProject',
          fields: { name: 'Apollo', description: 'Moon', visibility: 'open' },
        },
        as(people.owner),
      )
      .thenAppends([
        {
          type: 'ProjectCreated',
          data: {
            name: 'Apollo',
            description: 'Moon',
            visibility: 'open',
            ownerId: people.owner.userId,
          },
        },
      ]);
  });
  it('makes the creator its first owner', () => {
    const state = foldProject(storedEvents(projectId, [createdAs('private')]));
    expect(state?.members).toEqual({ [people.owner.userId]: 'owner' });
  });
  it('refuses an id that exists (409)', () => {
    given([createdAs('private')])
      .when({ type: 'CreateProject', fields: { name: 'Again' } }, as(people.owner))
      .thenFails(409, 'project-exists');
  });
});

describe('UpdateProject', () => {
  const update = (changes: Extract<ProjectCommand, { type: 'UpdateProject' }>['changes']) =>
    ({ type: 'UpdateProject', changes }) as const;
  it('appends one event per real change, archiving last', () => {
    given(team())
      .when(
        update({ name: 'Artemis', description: 'Back', visibility: 'open', archived: true }),
        as(people.owner),
      )
      .thenAppends([
        { type: 'ProjectDetailsChanged', data: { name: 'Artemis', description: 'Back' } },
        { type: 'ProjectVisibilityChanged', data: { from: 'private', to: 'open' } },
        archived,
      ]);
  });
  it('appends nothing for a change that changes nothing', () => {
    given(team())
      .when(
        update({ name: 'Apollo', description: '', visibility: 'private', archived: false }),
        as(people.owner),
      )
      .thenAppends([]);
  });
  it('refuses every change of an archived project (409), except a restore', () => {
    given([...team(), archived])
      .when(update({ name: 'x' }), as(people.owner))
      .thenFails(409, 'project-archived');
    given([...team(), archived])
      .when(update({ archived: true }), as(people.owner))
      .thenFails(409, 'project-archived');
    given([...team(), archived])
      .when(update({}), as(people.admin))
      .thenFails(409, 'project-archived');
  });
  it('restores first, then applies the changes that come with it', () => {
    given([...team(), archived])
      .when(update({ archived: false, name: 'Artemis', visibility: 'open' }), as(people.admin))
      .thenAppends([
        { type: 'ProjectRestored', data: {} },
        { type: 'ProjectDetailsChanged', data: { name: 'Artemis' } },
        { type: 'ProjectVisibilityChanged', data: { from: 'private', to: 'open' } },
      ]);
  });
  it('refuses a restore by a non-owner (403) and by an outsider (404)', () => {
    given([...team(), archived])
      .when(update({ archived: false }), as(people.editor))
      .thenFails(403, 'forbidden');
    given([...team(), archived])
      .when(update({ archived: false }), as(people.outsider))
      .thenFails(404, 'not-found');
  });
  it('answers 404 for an unknown project', () => {
    given([])
      .when(update({ name: 'x' }), as(people.admin))
      .thenFails(404, 'not-found');
  });
});

describe('SetMember', () => {
  const set = (who: AuthContext, role: 'owner' | 'editor' | 'viewer'): ProjectCommand => ({
    type: 'SetMember',
    userId: who.userId,
    role,
  });
  it('adds a member, changes a role, and appends nothing for the same role', () => {
    given(team())
      .when(set(newcomer, 'viewer'), as(people.owner))
      .thenAppends([{ type: 'MemberAdded', data: { userId: newcomer.userId, role: 'viewer' } }]);
    given(team())
      .when(set(people.viewer, 'owner'), as(people.owner))
      .thenAppends([
        {
          type: 'MemberRoleChanged',
          data: { userId: people.viewer.userId, from: 'viewer', to: 'owner' },
        },
      ]);
    given(team()).when(set(people.editor, 'editor'), as(people.owner)).thenAppends([]);
  });
  it('refuses an unknown user (422 unknown-user) and an unknown e-mail (422 unknown-email)', () => {
    given(team())
      .when(set(newcomer, 'viewer'), as(people.owner, false))
      .thenFails(422, 'unknown-user');
    given(team())
      .when(set(newcomer, 'viewer'), {
        actor: people.owner,
        member: { by: 'email', registered: false },
      })
      .thenFails(422, 'unknown-email');
  });
  it('answers 404, 403 and 409 before telling whether the user exists', () => {
    given(team())
      .when(set(newcomer, 'viewer'), as(people.outsider, false))
      .thenFails(404, 'not-found');
    given(team())
      .when(set(newcomer, 'viewer'), as(people.viewer, false))
      .thenFails(403, 'forbidden');
    given([...team(), archived])
      .when(set(newcomer, 'viewer'), as(people.owner, false))
      .thenFails(409, 'project-archived');
  });
  it('refuses to demote the last owner (409 last-owner), not one of two', () => {
    given(team()).when(set(people.owner, 'editor'), as(people.owner)).thenFails(409, 'last-owner');
    given(team()).when(set(people.owner, 'viewer'), as(people.admin)).thenFails(409, 'last-owner');
    given([...team(), added(newcomer, 'owner')])
      .when(set(people.owner, 'editor'), as(people.owner))
      .thenAppends([
        {
          type: 'MemberRoleChanged',
          data: { userId: people.owner.userId, from: 'owner', to: 'editor' },
        },
      ]);
  });
  it(`keeps at most ${MAX_PROJECT_MEMBERS} members (409 member-limit)`, () => {
    const crowd = Array.from({ length: MAX_PROJECT_MEMBERS - 1 }, (_, i) =>
      added(
        { userId: `0190b6a0-0000-7000-8000-${String(i).padStart(12, '0')}`, role: 'member' },
        'viewer',
      ),
    );
    const full = [createdAs('private'), ...crowd];
    given(full).when(set(newcomer, 'viewer'), as(people.owner)).thenFails(409, 'member-limit');
    // A role change of a member is no new member.
    given(full)
      .when(
        {
          type: 'SetMember',
          userId: '0190b6a0-0000-7000-8000-000000000000',
          role: 'editor',
        },
        as(people.owner),
      )
      .thenAppends([
        {
          type: 'MemberRoleChanged',
          data: { userId: '0190b6a0-0000-7000-8000-000000000000', from: 'viewer', to: 'editor' },
        },
      ]);
    given(full.slice(0, -1))
      .when(set(newcomer, 'viewer'), as(people.owner))
      .thenAppends([{ type: 'MemberAdded', data: { userId: newcomer.userId, role: 'viewer' } }]);
  });
});

describe('RemoveMember', () => {
  const remove = (who: AuthContext): ProjectCommand => ({
    type: 'RemoveMember',
    userId: who.userId,
  });
  it('lets an owner or an admin remove a member', () => {
    for (const actor of [people.owner, people.admin]) {
      given(team())
        .when(remove(people.editor), as(actor))
        .thenAppends([
          { type: 'MemberRemoved', data: { userId: people.editor.userId, by: actor.userId } },
        ]);
    }
  });
  it('lets a member leave, whatever their role', () => {
    for (const member of [people.editor, people.viewer]) {
      given(team())
        .when(remove(member), as(member))
        .thenAppends([
          { type: 'MemberRemoved', data: { userId: member.userId, by: member.userId } },
        ]);
    }
  });
  it('refuses to remove the last owner, even when they leave (409 last-owner)', () => {
    given(team()).when(remove(people.owner), as(people.owner)).thenFails(409, 'last-owner');
    given(team()).when(remove(people.owner), as(people.admin)).thenFails(409, 'last-owner');
    given([...team(), added(newcomer, 'owner')])
      .when(remove(people.owner), as(people.owner))
      .thenAppends([
        { type: 'MemberRemoved', data: { userId: people.owner.userId, by: people.owner.userId } },
      ]);
  });
  it('answers 404 for someone who is not a member', () => {
    given(team()).when(remove(newcomer), as(people.owner)).thenFails(404, 'not-found');
  });
  it('refuses a leave from an archived project (409)', () => {
    given([...team(), archived])
      .when(remove(people.viewer), as(people.viewer))
      .thenFails(409, 'project-archived');
  });
});

describe('the General project (owner system): site admins manage it, it has no owner to keep', () => {
  const general = [createdAs('open', 'system'), added(people.owner, 'owner')];
  it('lets an admin manage it, and anyone else is an editor there (403)', () => {
    given(general)
      .when({ type: 'UpdateProject', changes: { name: 'Everyone' } }, as(people.admin))
      .thenAppends([{ type: 'ProjectDetailsChanged', data: { name: 'Everyone' } }]);
    given(general)
      .when({ type: 'UpdateProject', changes: { name: 'Mine' } }, as(people.anyone))
      .thenFails(403, 'forbidden');
  });
  it('lets its only owner member be removed or demoted', () => {
    given(general)
      .when({ type: 'RemoveMember', userId: people.owner.userId }, as(people.admin))
      .thenAppends([
        { type: 'MemberRemoved', data: { userId: people.owner.userId, by: people.admin.userId } },
      ]);
    given(general)
      .when({ type: 'SetMember', userId: people.owner.userId, role: 'viewer' }, as(people.admin))
      .thenAppends([
        {
          type: 'MemberRoleChanged',
          data: { userId: people.owner.userId, from: 'owner', to: 'viewer' },
        },
      ]);
  });
  it('is created with no members', () => {
    const state = foldProject(storedEvents(GENERAL_PROJECT_ID, [createdAs('open', 'system')]));
    expect(state?.members).toEqual({});
  });
});

// Design §10's last column (and its first): who sees and manages a project, for
// each project command. The owner, the editor and the viewer are members of a
// private project; `anyone` is no member of an open one; the outsider is no
// member of a private one.
describe('design §10: who sees and who manages a project', () => {
  type Who = keyof typeof people;
  const expected: Record<Who, 'ok' | 403 | 404> = {
    admin: 'ok',
    owner: 'ok',
    editor: 403,
    viewer: 403,
    anyone: 403,
    outsider: 404,
  };
  const commands: [string, ProjectCommand, (actor: AuthContext) => ProjectEvent[]][] = [
    [
      'rename',
      { type: 'UpdateProject', changes: { name: 'Artemis' } },
      () => [{ type: 'ProjectDetailsChanged', data: { name: 'Artemis' } }],
    ],
    ['archive', { type: 'UpdateProject', changes: { archived: true } }, () => [archived]],
    [
      'change visibility',
      { type: 'UpdateProject', changes: { visibility: 'open' } },
      () => [{ type: 'ProjectVisibilityChanged', data: { from: 'private', to: 'open' } }],
    ],
    [
      'add a member',
      { type: 'SetMember', userId: newcomer.userId, role: 'editor' },
      () => [{ type: 'MemberAdded', data: { userId: newcomer.userId, role: 'editor' } }],
    ],
    [
      "change a member's role",
      { type: 'SetMember', userId: people.viewer.userId, role: 'editor' },
      () => [
        {
          type: 'MemberRoleChanged',
          data: { userId: people.viewer.userId, from: 'viewer', to: 'editor' },
        },
      ],
    ],
    [
      'remove a member',
      { type: 'RemoveMember', userId: colleague.userId },
      (actor) => [{ type: 'MemberRemoved', data: { userId: colleague.userId, by: actor.userId } }],
    ],
  ];
  for (const [who, outcome] of Object.entries(expected) as [Who, 'ok' | 403 | 404][]) {
    for (const [what, command, events] of commands) {
      it(`${who}: ${what} → ${outcome === 'ok' ? 'allowed' : outcome}`, () => {
        const actor = people[who];
        const history = who === 'anyone' ? team('open') : team('private');
        // On the open project, `change visibility` goes the other way.
        const cmd =
          who === 'anyone' && command.type === 'UpdateProject' && command.changes.visibility
            ? { ...command, changes: { visibility: 'private' as const } }
            : command;
        const then = given(history).when(cmd, as(actor));
        if (outcome === 'ok') then.thenAppends(events(actor));
        else then.thenFails(outcome, outcome === 404 ? 'not-found' : 'forbidden');
      });
    }
  }
  it('answers a project the actor cannot see with "No project with this id."', () => {
    const state = foldProject(storedEvents(projectId, team()));
    expect(() =>
      decideProject(
        state,
        { type: 'RemoveMember', userId: people.outsider.userId },
        as(people.outsider),
      ),
    ).toThrow('No project with this id.');
  });
});
