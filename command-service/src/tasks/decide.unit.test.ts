import {
  type AuthContext,
  foldProject,
  foldTask,
  GENERAL_PROJECT_ID,
  type Project,
  type ProjectEvent,
  type TaskCommand,
  type TaskEvent,
  type TaskStatus,
} from '@tasksync/contracts';
import { deciderSpec, storedEvents } from '@tasksync/contracts/testing';
import { describe, expect, it } from 'vitest';
import { type DecideContext, decide } from './decide';

const taskId = '0190b6a0-0000-7000-8000-000000000001';
const creator: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000c1', role: 'member' };
const assignee: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000a1', role: 'member' };
const stranger: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000f1', role: 'member' };
const admin: AuthContext = { userId: '0190b6a0-0000-7000-8000-0000000000ad', role: 'admin' };
const commentId = '0190b6a0-0000-7000-8000-0000000000cc';

/** A project as the write side folds it from its stream. */
const projectOf = (id: string, events: ProjectEvent[]): Project =>
  foldProject(storedEvents(id, events)) as Project;

const general = projectOf(GENERAL_PROJECT_ID, [
  {
    type: 'ProjectCreated',
    data: { name: 'General', description: '', visibility: 'open', ownerId: 'system' },
  },
]);

const given = deciderSpec({ fold: (events) => foldTask(events), decide, aggregateId: taskId });

/**
 * The context the command-service looks up: the actor, the task's project
 * (General unless said), a move's target, and the assignee the command names
 * with their site role (`registered: false` for one nobody registered).
 */
const as = (
  actor: AuthContext,
  {
    project = general,
    target,
    assigneeOf,
    registered = true,
  }: {
    project?: Project | null;
    target?: Project | null;
    assigneeOf?: AuthContext;
    registered?: boolean;
  } = {},
): DecideContext => ({
  actor,
  project,
  ...(target !== undefined ? { target } : {}),
  ...(assigneeOf
    ? { assignee: { userId: assigneeOf.userId, role: registered ? assigneeOf.role : undefined } }
    : {}),
});

const created = (
  overrides: Partial<Extract<TaskEvent, { type: 'TaskCreated' }>['data']> = {},
): TaskEvent => ({
  type: 'TaskCreated',
  data: {
    title: 'Write the design',
    description: '',
    status: 'pending',
    assigneeId: assignee.userId,
    priority: 'medium',
    dueDate: null,
    labels: [],
    createdBy: creator.userId,
    projectId: GENERAL_PROJECT_ID,
    ...overrides,
  },
});
const moved = (from: TaskStatus, to: TaskStatus): TaskEvent => ({
  type: 'TaskStatusChanged',
  data: { from, to },
});
const deleted: TaskEvent = { type: 'TaskDeleted', data: {} };

describe('CreateTask', () => {
  it('creates a pending, medium-priority task with defaults, in General', () => {
    given([])
      .when({ type: 'CreateTask', fields: { title: 'Write the design' } }, as(creator))
      .thenAppends([created({ assigneeId: null })]);
  });
  it('keeps every field given', () => {
    given([])
      .when(
        {
          type: 'CreateTask',
          fields: {
            title: 'T',
            description: 'D',
            status: 'in-progress',
            assigneeId: assignee.userId,
            priority: 'urgent',
            dueDate: '2026-12-24',
            labels: ['a', 'b'],
          },
        },
        as(creator, { assigneeOf: assignee }),
      )
      .thenAppends([
        created({
          title: 'T',
          description: 'D',
          status: 'in-progress',
          priority: 'urgent',
          dueDate: '2026-12-24',
          labels: ['a', 'b'],
        }),
      ]);
  });
  it('refuses an unregistered assignee with 422', () => {
    given([])
      .when(
        { type: 'CreateTask', fields: { title: 'T', assigneeId: stranger.userId } },
        as(creator, { assigneeOf: stranger, registered: false }),
      )
      .thenFails(422, 'unknown-assignee');
  });
  it('refuses to create a task that exists (409) or was deleted (410)', () => {
    given([created()])
      .when({ type: 'CreateTask', fields: { title: 'T' } }, as(creator))
      .thenFails(409, 'task-exists');
    given([created(), deleted])
      .when({ type: 'CreateTask', fields: { title: 'T' } }, as(creator))
      .thenFails(410, 'gone');
  });
  it('answers 404 for a project that does not exist', () => {
    given([])
      .when({ type: 'CreateTask', fields: { title: 'T' } }, as(admin, { project: null }))
      .thenFails(404, 'not-found');
  });
});

describe('UpdateTask', () => {
  it('changes only the details that differ', () => {
    given([created({ labels: ['x'] })])
      .when(
        {
          type: 'UpdateTask',
          changes: {
            title: 'Write the design',
            description: 'new',
            labels: ['x'],
            priority: 'high',
          },
        },
        as(creator),
      )
      .thenAppends([
        { type: 'TaskDetailsChanged', data: { description: 'new', priority: 'high' } },
      ]);
  });
  it('clears a due date with null', () => {
    given([created({ dueDate: '2026-12-01' })])
      .when({ type: 'UpdateTask', changes: { dueDate: null } }, as(creator))
      .thenAppends([{ type: 'TaskDetailsChanged', data: { dueDate: null } }]);
  });
  it('appends nothing for a change that changes nothing', () => {
    given([created()])
      .when(
        {
          type: 'UpdateTask',
          changes: {
            title: 'Write the design',
            status: 'pending',
            assigneeId: assignee.userId,
            projectId: GENERAL_PROJECT_ID,
          },
        },
        as(creator, { assigneeOf: assignee }),
      )
      .thenAppends([]);
  });
  it('emits details, status and assignment in that order from one request', () => {
    given([created()])
      .when(
        { type: 'UpdateTask', changes: { title: 'New', status: 'in-progress', assigneeId: null } },
        as(admin),
      )
      .thenAppends([
        { type: 'TaskDetailsChanged', data: { title: 'New' } },
        moved('pending', 'in-progress'),
        { type: 'TaskAssigned', data: { assigneeId: null, previous: assignee.userId } },
      ]);
  });

  const allowed: [TaskStatus, TaskStatus][] = [
    ['pending', 'in-progress'],
    ['in-progress', 'completed'],
    ['in-progress', 'pending'],
    ['completed', 'in-progress'],
  ];
  const history: Record<TaskStatus, TaskEvent[]> = {
    pending: [created()],
    'in-progress': [created(), moved('pending', 'in-progress')],
    completed: [created(), moved('pending', 'in-progress'), moved('in-progress', 'completed')],
  };
  for (const [from, to] of allowed) {
    it(`moves ${from} → ${to}`, () => {
      given(history[from])
        .when({ type: 'UpdateTask', changes: { status: to } }, as(assignee))
        .thenAppends([moved(from, to)]);
    });
  }
  for (const [from, to] of [
    ['pending', 'completed'],
    ['completed', 'pending'],
  ] as [TaskStatus, TaskStatus][]) {
    it(`refuses ${from} → ${to} with 409 naming the allowed moves`, () => {
      given(history[from])
        .when({ type: 'UpdateTask', changes: { status: to } }, as(creator))
        .thenFails(409, 'invalid-status-transition');
    });
  }

  it('lets the creator, the assignee and an admin change a task in General, no other editor (403)', () => {
    for (const actor of [creator, assignee, admin]) {
      given([created()])
        .when({ type: 'UpdateTask', changes: { priority: 'low' } }, as(actor))
        .thenAppends([{ type: 'TaskDetailsChanged', data: { priority: 'low' } }]);
    }
    given([created()])
      .when({ type: 'UpdateTask', changes: { priority: 'low' } }, as(stranger))
      .thenFails(403, 'forbidden');
  });
  it('assigns a registered user and refuses an unregistered one (422)', () => {
    given([created({ assigneeId: null })])
      .when(
        { type: 'UpdateTask', changes: { assigneeId: stranger.userId } },
        as(creator, { assigneeOf: stranger }),
      )
      .thenAppends([
        { type: 'TaskAssigned', data: { assigneeId: stranger.userId, previous: null } },
      ]);
    given([created({ assigneeId: null })])
      .when(
        { type: 'UpdateTask', changes: { assigneeId: stranger.userId } },
        as(creator, { assigneeOf: stranger, registered: false }),
      )
      .thenFails(422, 'unknown-assignee');
  });
  it('answers 404 for an unknown task and 410 for a deleted one', () => {
    given([])
      .when({ type: 'UpdateTask', changes: { title: 'x' } }, as(admin))
      .thenFails(404, 'not-found');
    given([created(), deleted])
      .when({ type: 'UpdateTask', changes: { title: 'x' } }, as(admin))
      .thenFails(410, 'gone');
  });
});

describe('AddComment', () => {
  it('lets anyone who sees the task comment', () => {
    given([created()])
      .when({ type: 'AddComment', commentId, text: 'Looks good' }, as(stranger))
      .thenAppends([
        {
          type: 'CommentAdded',
          data: { commentId, text: 'Looks good', authorId: stranger.userId },
        },
      ]);
  });
  it('answers 404 for an unknown task and 410 for a deleted one', () => {
    given([])
      .when({ type: 'AddComment', commentId, text: 'x' }, as(creator))
      .thenFails(404, 'not-found');
    given([created(), deleted])
      .when({ type: 'AddComment', commentId, text: 'x' }, as(creator))
      .thenFails(410, 'gone');
  });
});

describe('DeleteTask', () => {
  it('lets the creator and an admin delete', () => {
    for (const actor of [creator, admin])
      given([created()]).when({ type: 'DeleteTask' }, as(actor)).thenAppends([deleted]);
  });
  it('refuses the assignee and others (403)', () => {
    for (const actor of [assignee, stranger]) {
      given([created()]).when({ type: 'DeleteTask' }, as(actor)).thenFails(403, 'forbidden');
    }
  });
  it('answers 410 for a deleted task and 404 for an unknown one', () => {
    given([created(), deleted]).when({ type: 'DeleteTask' }, as(creator)).thenFails(410, 'gone');
    given([]).when({ type: 'DeleteTask' }, as(creator)).thenFails(404, 'not-found');
  });
});

// Design §10's table, cell by cell. People: a site admin (no member), the
// project's owner, an editor, a viewer, anyone on an open project (no member)
// and an outsider (no member, private project). `colleague` is an editor
// whose tasks are "others'" tasks.
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
const colleague = person(7);
const projectId = '0190b6a0-0000-7000-8000-00000000b001';
const projectWith = (visibility: 'private' | 'open', ...more: ProjectEvent[]) =>
  projectOf(projectId, [
    {
      type: 'ProjectCreated',
      data: { name: 'Apollo', description: '', visibility, ownerId: people.owner.userId },
    },
    { type: 'MemberAdded', data: { userId: people.editor.userId, role: 'editor' } },
    { type: 'MemberAdded', data: { userId: people.viewer.userId, role: 'viewer' } },
    { type: 'MemberAdded', data: { userId: colleague.userId, role: 'editor' } },
    ...more,
  ]);
const privateProject = projectWith('private');
const openProject = projectWith('open');

type Who = keyof typeof people;
type Action =
  | 'create'
  | 'comment'
  | 'changeOwn'
  | 'changeAssigned'
  | 'changeOthers'
  | 'deleteOwn'
  | 'deleteOthers'
  | 'moveOwnOut'
  | 'moveOthersOut'
  | 'moveIn';
type Expected = 'ok' | 403 | 404;

const allOk: Record<Action, Expected> = {
  create: 'ok',
  comment: 'ok',
  changeOwn: 'ok',
  changeAssigned: 'ok',
  changeOthers: 'ok',
  deleteOwn: 'ok',
  deleteOthers: 'ok',
  moveOwnOut: 'ok',
  moveOthersOut: 'ok',
  moveIn: 'ok',
};
const asEditor: Record<Action, Expected> = {
  ...allOk,
  changeOthers: 403,
  deleteOthers: 403,
  moveOthersOut: 403,
};
const table: Record<Who, Record<Action, Expected>> = {
  admin: allOk,
  owner: allOk,
  editor: asEditor,
  viewer: {
    create: 403,
    comment: 'ok',
    changeOwn: 403,
    changeAssigned: 403,
    changeOthers: 403,
    deleteOwn: 403,
    deleteOthers: 403,
    moveOwnOut: 403,
    moveOthersOut: 403,
    moveIn: 403,
  },
  anyone: asEditor,
  outsider: {
    create: 404,
    comment: 404,
    changeOwn: 404,
    changeAssigned: 404,
    changeOthers: 404,
    deleteOwn: 404,
    deleteOthers: 404,
    moveOwnOut: 404,
    moveOthersOut: 404,
    moveIn: 404,
  },
};

/** One cell: the task's history, the command, the context, and the events an allowed actor appends. */
const cell = (who: Who, action: Action) => {
  const actor = people[who];
  const project = who === 'anyone' ? openProject : privateProject;
  const inProject = (createdBy: AuthContext, assigneeId: string | null = null) =>
    created({ projectId, createdBy: createdBy.userId, assigneeId });
  const ctx = as(actor, { project });
  const out = { from: projectId, to: GENERAL_PROJECT_ID };
  const cases: Record<
    Action,
    { history: TaskEvent[]; command: TaskCommand; ctx: DecideContext; events: TaskEvent[] }
  > = {
    create: {
      history: [],
      command: { type: 'CreateTask', fields: { title: 'T', projectId } },
      ctx,
      events: [
        created({
          title: 'T',
          projectId,
          createdBy: actor.userId,
          assigneeId: null,
        }),
      ],
    },
    comment: {
      history: [inProject(colleague)],
      command: { type: 'AddComment', commentId, text: 'hi' },
      ctx,
      events: [{ type: 'CommentAdded', data: { commentId, text: 'hi', authorId: actor.userId } }],
    },
    changeOwn: {
      history: [inProject(actor)],
      command: { type: 'UpdateTask', changes: { priority: 'high' } },
      ctx,
      events: [{ type: 'TaskDetailsChanged', data: { priority: 'high' } }],
    },
    changeAssigned: {
      history: [inProject(colleague, actor.userId)],
      command: { type: 'UpdateTask', changes: { status: 'in-progress' } },
      ctx,
      events: [moved('pending', 'in-progress')],
    },
    changeOthers: {
      history: [inProject(colleague)],
      command: { type: 'UpdateTask', changes: { priority: 'high' } },
      ctx,
      events: [{ type: 'TaskDetailsChanged', data: { priority: 'high' } }],
    },
    deleteOwn: {
      history: [inProject(actor)],
      command: { type: 'DeleteTask' },
      ctx,
      events: [deleted],
    },
    deleteOthers: {
      history: [inProject(colleague)],
      command: { type: 'DeleteTask' },
      ctx,
      events: [deleted],
    },
    // Out into General, where everyone may create tasks.
    moveOwnOut: {
      history: [inProject(actor)],
      command: { type: 'UpdateTask', changes: { projectId: GENERAL_PROJECT_ID } },
      ctx: as(actor, { project, target: general }),
      events: [{ type: 'TaskMoved', data: out }],
    },
    moveOthersOut: {
      history: [inProject(colleague)],
      command: { type: 'UpdateTask', changes: { projectId: GENERAL_PROJECT_ID } },
      ctx: as(actor, { project, target: general }),
      events: [{ type: 'TaskMoved', data: out }],
    },
    // In from General, a task of their own there.
    moveIn: {
      history: [created({ createdBy: actor.userId, assigneeId: null })],
      command: { type: 'UpdateTask', changes: { projectId } },
      ctx: as(actor, { project: general, target: project }),
      events: [{ type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: projectId } }],
    },
  };
  return cases[action];
};

describe('design §10: who may do what with the tasks of a project', () => {
  for (const [who, row] of Object.entries(table) as [Who, Record<Action, Expected>][]) {
    for (const [action, expected] of Object.entries(row) as [Action, Expected][]) {
      it(`${who}: ${action} → ${expected === 'ok' ? 'allowed' : expected}`, () => {
        const { history, command, ctx, events } = cell(who, action);
        const then = given(history).when(command, ctx);
        if (expected === 'ok') then.thenAppends(events);
        else then.thenFails(expected, expected === 404 ? 'not-found' : 'forbidden');
      });
    }
  }

  it('answers a task the actor cannot see as an unknown one, deleted or not', () => {
    const history = [created({ projectId }), deleted];
    const context = as(people.outsider, { project: privateProject });
    for (const command of [
      { type: 'UpdateTask', changes: { title: 'x' } },
      { type: 'AddComment', commentId, text: 'x' },
      { type: 'DeleteTask' },
    ] satisfies TaskCommand[]) {
      expect(() => decide(foldTask(storedEvents(taskId, history)), command, context)).toThrow(
        'No task with this id.',
      );
    }
  });

  it('answers a create or a move into a project the actor cannot see with "No project with this id."', () => {
    const outsider = people.outsider;
    expect(() =>
      decide(
        null,
        { type: 'CreateTask', fields: { title: 'T', projectId } },
        as(outsider, { project: privateProject }),
      ),
    ).toThrow('No project with this id.');
    const own = foldTask(storedEvents(taskId, [created({ createdBy: outsider.userId })]));
    expect(() =>
      decide(
        own,
        { type: 'UpdateTask', changes: { projectId } },
        as(outsider, { project: general, target: privateProject }),
      ),
    ).toThrow('No project with this id.');
  });

  it('treats a viewer member of an open project as an editor', () => {
    given([])
      .when(
        { type: 'CreateTask', fields: { title: 'T', projectId } },
        as(people.viewer, { project: openProject }),
      )
      .thenAppends([
        created({ title: 'T', projectId, createdBy: people.viewer.userId, assigneeId: null }),
      ]);
  });
});

describe('archived projects are read-only (409 project-archived)', () => {
  const archived = projectWith('private', { type: 'ProjectArchived', data: {} });
  const inArchived = created({ projectId, createdBy: people.owner.userId, assigneeId: null });
  const writes: [string, TaskEvent[], TaskCommand, Partial<Parameters<typeof as>[1]>][] = [
    ['create', [], { type: 'CreateTask', fields: { title: 'T', projectId } }, {}],
    ['change', [inArchived], { type: 'UpdateTask', changes: { title: 'x' } }, {}],
    ['a change that changes nothing', [inArchived], { type: 'UpdateTask', changes: {} }, {}],
    ['comment', [inArchived], { type: 'AddComment', commentId, text: 'x' }, {}],
    ['delete', [inArchived], { type: 'DeleteTask' }, {}],
    [
      'move out',
      [inArchived],
      { type: 'UpdateTask', changes: { projectId: GENERAL_PROJECT_ID } },
      { target: general },
    ],
  ];
  for (const [what, history, command, context] of writes) {
    it(`refuses to ${what}, even for the owner and a site admin`, () => {
      for (const actor of [people.owner, people.admin]) {
        given(history)
          .when(command, as(actor, { project: archived, ...context }))
          .thenFails(409, 'project-archived');
      }
    });
  }
  it('refuses a move into an archived project', () => {
    given([created({ createdBy: people.owner.userId, assigneeId: null })])
      .when(
        { type: 'UpdateTask', changes: { projectId } },
        as(people.owner, { project: general, target: archived }),
      )
      .thenFails(409, 'project-archived');
  });
  it('still answers 404 to an outsider and 403 to a viewer first', () => {
    given([inArchived])
      .when(
        { type: 'UpdateTask', changes: { title: 'x' } },
        as(people.outsider, { project: archived }),
      )
      .thenFails(404, 'not-found');
    given([inArchived])
      .when(
        { type: 'UpdateTask', changes: { title: 'x' } },
        as(people.viewer, { project: archived }),
      )
      .thenFails(403, 'forbidden');
  });
});

describe('moving a task (PATCH projectId)', () => {
  const own = created({ createdBy: people.editor.userId, assigneeId: null });
  it('appends one TaskMoved first, then the other changes, made in the target', () => {
    given([own])
      .when(
        { type: 'UpdateTask', changes: { projectId, title: 'Moved', status: 'in-progress' } },
        as(people.editor, { project: general, target: privateProject }),
      )
      .thenAppends([
        { type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: projectId } },
        { type: 'TaskDetailsChanged', data: { title: 'Moved' } },
        moved('pending', 'in-progress'),
      ]);
  });
  it('answers 404 for a target that does not exist', () => {
    given([own])
      .when(
        { type: 'UpdateTask', changes: { projectId } },
        as(people.editor, { project: general, target: null }),
      )
      .thenFails(404, 'not-found');
  });
  it('refuses a target where the actor may not create tasks (viewer: 403)', () => {
    given([created({ createdBy: people.viewer.userId, assigneeId: null })])
      .when(
        { type: 'UpdateTask', changes: { projectId } },
        as(people.viewer, { project: general, target: privateProject }),
      )
      .thenFails(403, 'forbidden');
  });
  it('keeps the assignee only if they can see the target (422 otherwise)', () => {
    const assigned = (to: AuthContext) =>
      created({ createdBy: people.owner.userId, assigneeId: to.userId });
    given([assigned(people.outsider)])
      .when(
        { type: 'UpdateTask', changes: { projectId } },
        as(people.owner, { project: general, target: privateProject, assigneeOf: people.outsider }),
      )
      .thenFails(422, 'assignee-cannot-see-project');
    given([assigned(people.viewer)])
      .when(
        { type: 'UpdateTask', changes: { projectId } },
        as(people.owner, { project: general, target: privateProject, assigneeOf: people.viewer }),
      )
      .thenAppends([{ type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: projectId } }]);
    // Unassigned in the same request, the move goes through.
    given([assigned(people.outsider)])
      .when(
        { type: 'UpdateTask', changes: { projectId, assigneeId: null } },
        as(people.owner, { project: general, target: privateProject }),
      )
      .thenAppends([
        { type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: projectId } },
        { type: 'TaskAssigned', data: { assigneeId: null, previous: people.outsider.userId } },
      ]);
  });
  it("checks the other changes against the target: an editor there may not change another's task", () => {
    // The owner of General (an admin would do) moves a colleague's task into Apollo where the
    // actor is only an editor: the move is allowed, a retitle of someone else's task is not.
    const colleagues = created({ createdBy: colleague.userId, assigneeId: null });
    const generalOwner = { ...people.editor };
    const ownedGeneral = projectOf(GENERAL_PROJECT_ID, [
      {
        type: 'ProjectCreated',
        data: {
          name: 'General',
          description: '',
          visibility: 'private',
          ownerId: generalOwner.userId,
        },
      },
    ]);
    given([colleagues])
      .when(
        { type: 'UpdateTask', changes: { projectId } },
        as(generalOwner, { project: ownedGeneral, target: privateProject }),
      )
      .thenAppends([{ type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: projectId } }]);
    given([colleagues])
      .when(
        { type: 'UpdateTask', changes: { projectId, title: 'mine now' } },
        as(generalOwner, { project: ownedGeneral, target: privateProject }),
      )
      .thenFails(403, 'forbidden');
  });
});

describe('assignees must see the project (422 assignee-cannot-see-project)', () => {
  const assign = (to: AuthContext): TaskCommand => ({
    type: 'CreateTask',
    fields: { title: 'T', projectId, assigneeId: to.userId },
  });
  it('accepts members of every role and site admins, refuses others', () => {
    for (const to of [people.owner, people.editor, people.viewer, people.admin]) {
      given([])
        .when(assign(to), as(people.owner, { project: privateProject, assigneeOf: to }))
        .thenAppends([
          created({
            title: 'T',
            projectId,
            createdBy: people.owner.userId,
            assigneeId: to.userId,
          }),
        ]);
    }
    given([])
      .when(
        assign(people.outsider),
        as(people.owner, { project: privateProject, assigneeOf: people.outsider }),
      )
      .thenFails(422, 'assignee-cannot-see-project');
  });
  it('accepts anyone in an open project', () => {
    given([])
      .when(
        assign(people.anyone),
        as(people.owner, { project: openProject, assigneeOf: people.anyone }),
      )
      .thenAppends([
        created({
          title: 'T',
          projectId,
          createdBy: people.owner.userId,
          assigneeId: people.anyone.userId,
        }),
      ]);
  });
  it('checks a new assignee on PATCH', () => {
    given([created({ projectId, createdBy: people.owner.userId, assigneeId: null })])
      .when(
        { type: 'UpdateTask', changes: { assigneeId: people.outsider.userId } },
        as(people.owner, { project: privateProject, assigneeOf: people.outsider }),
      )
      .thenFails(422, 'assignee-cannot-see-project');
  });
});

describe('UnassignLostAccess (the process manager)', () => {
  const removed = projectWith('private', {
    type: 'MemberRemoved',
    data: { userId: people.editor.userId, by: people.owner.userId },
  });
  const assignedTo = (to: AuthContext) =>
    created({ projectId, createdBy: people.owner.userId, assigneeId: to.userId });
  const system = (project: Project, to: AuthContext) =>
    as({ userId: 'system', role: 'member' }, { project, assigneeOf: to });
  const unassign: TaskCommand = { type: 'UnassignLostAccess' };

  it('unassigns an assignee who can no longer see the project', () => {
    given([assignedTo(people.editor)])
      .when(unassign, system(removed, people.editor))
      .thenAppends([
        { type: 'TaskAssigned', data: { assigneeId: null, previous: people.editor.userId } },
      ]);
  });
  it('does the same in an archived project: the system keeps assignees able to see', () => {
    const archived = projectWith(
      'private',
      { type: 'MemberRemoved', data: { userId: people.editor.userId, by: people.owner.userId } },
      { type: 'ProjectArchived', data: {} },
    );
    given([assignedTo(people.editor)])
      .when(unassign, system(archived, people.editor))
      .thenAppends([
        { type: 'TaskAssigned', data: { assigneeId: null, previous: people.editor.userId } },
      ]);
  });
  it('appends nothing when it is settled: unassigned, assignee sees, deleted, unknown', () => {
    given([
      assignedTo(people.editor),
      { type: 'TaskAssigned', data: { assigneeId: null, previous: people.editor.userId } },
    ])
      .when(unassign, system(removed, people.editor))
      .thenAppends([]);
    given([assignedTo(people.viewer)])
      .when(unassign, system(removed, people.viewer))
      .thenAppends([]);
    given([assignedTo(people.admin)])
      .when(unassign, system(removed, people.admin))
      .thenAppends([]);
    given([assignedTo(people.editor), deleted])
      .when(unassign, system(removed, people.editor))
      .thenAppends([]);
    given([]).when(unassign, system(removed, people.editor)).thenAppends([]);
  });
  it('decides on the task as it is: moved to a project the assignee sees, it stays assigned', () => {
    given([
      assignedTo(people.editor),
      { type: 'TaskMoved', data: { from: projectId, to: GENERAL_PROJECT_ID } },
    ])
      .when(unassign, system(general, people.editor))
      .thenAppends([]);
  });
});
