import { GENERAL_PROJECT_ID } from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import { describe, expect, it } from 'vitest';
import { foldTaskMessage, type ProjectMessage, type TaskMessage } from '../../board/fold';
import { createPositionTracker, isAfterRead, latestOf, readAfter } from '../../board/positions';
import {
  assignableIn,
  chooseProject,
  countTasks,
  foldMembers,
  foldProjectMessage,
  type MemberView,
  moveTargets,
  type ProjectView,
  projectPermissions,
  sortMembers,
  sortProjects,
  taskPermissions,
} from '../../board/projects';

// The board's pure parts (notifier/board/), here because unit tests live under src/.

const taskId = '01900000-0000-7000-8000-000000000001';
const creator = '01900000-0000-7000-8000-000000000002';
const commentId = '01900000-0000-7000-8000-000000000003';

const message = (
  revision: number,
  event: Pick<TaskMessage, 'type' | 'data'>,
  entryId = `${1_000 + revision}-0`,
) =>
  ({
    ...event,
    position: `t0:${entryId}`,
    aggregateId: taskId,
    revision,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, revision)).toISOString(),
    actor: creator,
  }) as TaskMessage;

const created = message(0, taskCreated(creator, { title: 'Fold me' }));

describe('the board fold', () => {
  it('shows a created task, then folds its changes with the contracts evolveTask', () => {
    const first = foldTaskMessage(undefined, created);
    expect(first).toEqual({
      kind: 'changed',
      comment: null,
      task: expect.objectContaining({ id: taskId, title: 'Fold me', revision: 0, deleted: false }),
    });
    const task = first.kind === 'changed' ? first.task : undefined;
    const moved = foldTaskMessage(
      task,
      message(1, { type: 'TaskStatusChanged', data: { from: 'pending', to: 'in-progress' } }),
    );
    expect(moved).toMatchObject({ kind: 'changed', task: { status: 'in-progress', revision: 1 } });
    const commented = foldTaskMessage(
      task,
      message(1, { type: 'CommentAdded', data: { commentId, text: 'Hi', authorId: creator } }),
    );
    expect(commented).toEqual({
      kind: 'changed',
      task: expect.objectContaining({ commentCount: 1, revision: 1 }),
      comment: {
        id: commentId,
        authorId: creator,
        text: 'Hi',
        createdAt: '2026-01-01T00:00:01.000Z',
      },
    });
  });

  it('skips what the board already shows, by revision', () => {
    const shown = foldTaskMessage(undefined, created);
    const task = shown.kind === 'changed' ? shown.task : undefined;
    expect(foldTaskMessage(task, created)).toEqual({ kind: 'seen' });
    const later = { ...task!, revision: 3 };
    expect(foldTaskMessage(later, message(2, { type: 'TaskDeleted', data: {} }))).toEqual({
      kind: 'seen',
    });
  });

  it('forgets a deleted task, known or not, and fetches a task it never saw', () => {
    const shown = foldTaskMessage(undefined, created);
    const task = shown.kind === 'changed' ? shown.task : undefined;
    const deleted = message(1, { type: 'TaskDeleted', data: {} });
    expect(foldTaskMessage(task, deleted)).toEqual({ kind: 'deleted' });
    expect(foldTaskMessage(undefined, deleted)).toEqual({ kind: 'deleted' });
    expect(
      foldTaskMessage(
        undefined,
        message(1, { type: 'TaskAssigned', data: { assigneeId: creator, previous: null } }),
      ),
    ).toEqual({ kind: 'unknown' });
  });
});

describe('the board positions', () => {
  it('keeps the latest entry per log, compared as numbers, and skips what is not a position', () => {
    const positions = createPositionTracker();
    positions.record('t0:999-0,id:5-1');
    positions.record('t0:1000-0, t1:0-0,nonsense,:1-0,t0:99-9,id:5-0');
    expect(positions.since()).toBe('t0:1000-0,id:5-1,t1:0-0');
    positions.record(null);
    expect(positions.since()).toBe('t0:1000-0,id:5-1,t1:0-0');
  });
});

describe('the latest of position lists', () => {
  it('keeps one position per log, the latest', () => {
    expect(latestOf('p:5-0', 't0:10-0,p:4-0', null, 'p:5-1')).toBe('p:5-1,t0:10-0');
    expect(latestOf(null, '')).toBe('');
  });
});

describe('read after a position', () => {
  // A log still at 0-0 is reached at once: the query-service counts a log without
  // a checkpoint as 0-0 (query.int.test.ts), so the board sends every position.
  it('asks the query-service to wait for every position the page has seen', () => {
    expect(readAfter('t0:1000-0,t1:0-0,id:5-1')).toEqual({
      'X-Min-Position': 't0:1000-0,t1:0-0,id:5-1',
      'X-Max-Wait-Ms': '10000',
    });
    expect(readAfter('')).toEqual({});
    expect(readAfter(null)).toEqual({});
  });
});

describe('an event against a read position', () => {
  it('is later when the read reflects an earlier entry of its log, or names no position of it', () => {
    const read = 't0:1000-0,p:20-1,id:5-0';
    expect(isAfterRead('p:20-2', read)).toBe(true);
    expect(isAfterRead('p:21-0', read)).toBe(true);
    expect(isAfterRead('p:20-1', read)).toBe(false);
    expect(isAfterRead('p:3-0', read)).toBe(false);
    // Numbers, not strings: 9 is before 10.
    expect(isAfterRead('p:9-0', 'p:10-0')).toBe(false);
    expect(isAfterRead('t1:1-0', read)).toBe(true);
    expect(isAfterRead('p:1-0', '')).toBe(true);
  });
});

const alice = '01900000-0000-7000-8000-00000000000a';
const bob = '01900000-0000-7000-8000-00000000000b';
const apolloId = '01900000-0000-7000-8000-0000000000a1';
const betaId = '01900000-0000-7000-8000-0000000000b1';
const oldId = '01900000-0000-7000-8000-0000000000c1';

const project = (id: string, fields: Partial<ProjectView> = {}): ProjectView => ({
  id,
  name: 'A project',
  description: '',
  visibility: 'private',
  archived: false,
  ownerId: alice,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  revision: 0,
  access: 'owner',
  memberCount: 1,
  taskCounts: { pending: 0, 'in-progress': 0, completed: 0 },
  ...fields,
});

const general = project(GENERAL_PROJECT_ID, {
  name: 'General',
  visibility: 'open',
  ownerId: 'system',
  access: 'editor',
  memberCount: 0,
});

const projectMessage = (
  revision: number,
  event: Pick<ProjectMessage, 'type' | 'data'>,
  aggregateId = apolloId,
) =>
  ({
    ...event,
    position: `p:${2_000 + revision}-0`,
    aggregateId,
    revision,
    at: new Date(Date.UTC(2026, 0, 2, 0, 0, revision)).toISOString(),
    actor: alice,
  }) as ProjectMessage;

const byId = (...projects: ProjectView[]) => new Map(projects.map((p) => [p.id, p]));

describe('the board projects: the switcher', () => {
  it('lists General first, then by name', () => {
    const zeta = project(apolloId, { name: 'Zeta' });
    const alpha = project(betaId, { name: 'Alpha' });
    expect(sortProjects([zeta, general, alpha]).map((p) => p.name)).toEqual([
      'General',
      'Alpha',
      'Zeta',
    ]);
  });

  it('shows the project remembered, else General, else the first there is', () => {
    const apollo = project(apolloId, { name: 'Apollo' });
    const beta = project(betaId, { name: 'Beta' });
    expect(chooseProject(byId(general, apollo), apolloId)).toBe(apolloId);
    expect(chooseProject(byId(general, apollo), betaId)).toBe(GENERAL_PROJECT_ID);
    expect(chooseProject(byId(general, apollo), null)).toBe(GENERAL_PROJECT_ID);
    expect(chooseProject(byId(beta, apollo), null)).toBe(apolloId);
    expect(chooseProject(new Map(), apolloId)).toBeNull();
  });

  it('counts the tasks the board holds per project', () => {
    const counts = countTasks([
      { projectId: apolloId },
      { projectId: GENERAL_PROJECT_ID },
      { projectId: apolloId },
    ]);
    expect([...counts]).toEqual([
      [apolloId, 2],
      [GENERAL_PROJECT_ID, 1],
    ]);
  });
});

describe('the board projects: what the controls offer (§10)', () => {
  it('gives owners the project, its members and leaving; viewers leaving only', () => {
    expect(projectPermissions(project(apolloId))).toEqual({
      manage: true,
      archive: true,
      members: true,
      editMembers: true,
      createTasks: true,
      leave: true,
    });
    expect(projectPermissions(project(apolloId, { access: 'viewer' }))).toEqual({
      manage: false,
      archive: false,
      members: false,
      editMembers: false,
      createTasks: false,
      leave: true,
    });
    expect(projectPermissions(project(apolloId, { access: 'editor' }))).toMatchObject({
      manage: false,
      createTasks: true,
      leave: true,
    });
    // In an open project an editor may be no member at all: nothing to leave.
    expect(
      projectPermissions(project(apolloId, { access: 'editor', visibility: 'open' })).leave,
    ).toBe(false);
    expect(projectPermissions(undefined)).toEqual({
      manage: false,
      archive: false,
      members: false,
      editMembers: false,
      createTasks: false,
      leave: false,
    });
  });

  it('leaves an archived project read-only but for restoring it', () => {
    expect(projectPermissions(project(apolloId, { archived: true }))).toEqual({
      manage: false,
      archive: true,
      members: true,
      editMembers: false,
      createTasks: false,
      leave: false,
    });
    const archived = project(apolloId, { archived: true });
    expect(taskPermissions(archived, { createdBy: alice, assigneeId: null }, alice)).toEqual({
      change: false,
      remove: false,
      comment: false,
      moveOut: false,
    });
  });

  it('lets site admins manage General, but never archive it or give it members', () => {
    expect(projectPermissions({ ...general, access: 'admin' })).toEqual({
      manage: true,
      archive: false,
      members: false,
      editMembers: false,
      createTasks: true,
      leave: false,
    });
    expect(projectPermissions(general)).toMatchObject({ manage: false, createTasks: true });
  });

  it('offers task controls as the table says: editors their own, viewers comments', () => {
    const editor = project(apolloId, { access: 'editor' });
    const own = { createdBy: bob, assigneeId: null };
    const assigned = { createdBy: alice, assigneeId: bob };
    const others = { createdBy: alice, assigneeId: null };
    expect(taskPermissions(editor, own, bob)).toEqual({
      change: true,
      remove: true,
      comment: true,
      moveOut: true,
    });
    expect(taskPermissions(editor, assigned, bob)).toEqual({
      change: true,
      remove: false,
      comment: true,
      moveOut: false,
    });
    expect(taskPermissions(editor, others, bob)).toMatchObject({ change: false, remove: false });
    expect(taskPermissions(project(apolloId, { access: 'viewer' }), own, bob)).toEqual({
      change: false,
      remove: false,
      comment: true,
      moveOut: false,
    });
    expect(taskPermissions(project(apolloId), others, bob)).toMatchObject({
      change: true,
      remove: true,
    });
    expect(taskPermissions(undefined, own, bob).comment).toBe(false);
  });

  it('moves a task to the projects where one may create tasks, if one may move it out', () => {
    const apollo = project(apolloId, { name: 'Apollo' });
    const beta = project(betaId, { name: 'Beta', access: 'editor' });
    const old = project(oldId, { name: 'Old', archived: true });
    const watched = project('01900000-0000-7000-8000-0000000000d1', { access: 'viewer' });
    const projects = byId(general, apollo, beta, old, watched);
    const task = { projectId: apolloId, createdBy: bob, assigneeId: null };
    expect(moveTargets(projects, task, alice).map((p) => p.name)).toEqual(['General', 'Beta']);
    // Bob is an editor of Beta who did not create this task there: he may not move it out.
    expect(moveTargets(projects, { ...task, projectId: betaId, createdBy: alice }, bob)).toEqual(
      [],
    );
    expect(moveTargets(projects, { ...task, projectId: oldId }, alice)).toEqual([]);
  });

  it('assigns in a private project only to its members, once they are known', () => {
    const members = new Map([[alice, member(alice, 'owner')]]);
    expect(assignableIn(project(apolloId), members)).toEqual(new Set([alice]));
    expect(assignableIn(project(apolloId), null)).toBeNull();
    expect(assignableIn(general, members)).toBeNull();
  });
});

const member = (userId: string, role: MemberView['role'], name = userId): MemberView => ({
  userId,
  role,
  name,
  addedAt: '2026-01-01T00:00:00.000Z',
});

describe('the board projects: project events', () => {
  const me = { id: bob, role: 'member' as const };

  it('reads a project it does not hold, and skips what it already shows', () => {
    const rename = projectMessage(3, { type: 'ProjectDetailsChanged', data: { name: 'Apollo 2' } });
    expect(foldProjectMessage(undefined, rename, me)).toEqual({ kind: 'unknown' });
    expect(foldProjectMessage(project(apolloId, { revision: 3 }), rename, me)).toEqual({
      kind: 'seen',
    });
  });

  it('folds details, archiving and restoring', () => {
    const known = project(apolloId, { name: 'Apollo', revision: 2, access: 'editor' });
    const renamed = foldProjectMessage(
      known,
      projectMessage(3, {
        type: 'ProjectDetailsChanged',
        data: { name: 'Apollo 2', description: 'To the moon' },
      }),
      me,
    );
    expect(renamed).toEqual({
      kind: 'changed',
      reload: false,
      project: {
        ...known,
        name: 'Apollo 2',
        description: 'To the moon',
        revision: 3,
        updatedAt: '2026-01-02T00:00:03.000Z',
      },
    });
    const archived = foldProjectMessage(
      known,
      projectMessage(3, { type: 'ProjectArchived', data: {} }),
      me,
    );
    expect(archived).toMatchObject({ kind: 'changed', project: { archived: true } });
    const restored = foldProjectMessage(
      { ...known, archived: true },
      projectMessage(3, { type: 'ProjectRestored', data: {} }),
      me,
    );
    expect(restored).toMatchObject({ kind: 'changed', project: { archived: false } });
  });

  it('follows the caller’s own role and the member count', () => {
    const open = project(apolloId, { visibility: 'open', access: 'editor', revision: 1 });
    const added = foldProjectMessage(
      open,
      projectMessage(2, { type: 'MemberAdded', data: { userId: bob, role: 'owner' } }),
      me,
    );
    expect(added).toMatchObject({ project: { access: 'owner', memberCount: 2 } });
    const someoneElse = foldProjectMessage(
      open,
      projectMessage(2, { type: 'MemberAdded', data: { userId: alice, role: 'viewer' } }),
      me,
    );
    expect(someoneElse).toMatchObject({ project: { access: 'editor', memberCount: 2 } });
    const demoted = foldProjectMessage(
      project(apolloId, { access: 'owner', revision: 1 }),
      projectMessage(2, {
        type: 'MemberRoleChanged',
        data: { userId: bob, from: 'owner', to: 'viewer' },
      }),
      me,
    );
    expect(demoted).toMatchObject({ project: { access: 'viewer' } });
    // Removed from an open project, one still sees it, as an editor.
    const removed = foldProjectMessage(
      { ...open, access: 'owner', memberCount: 2 },
      projectMessage(2, { type: 'MemberRemoved', data: { userId: bob, by: alice } }),
      me,
    );
    expect(removed).toMatchObject({ project: { access: 'editor', memberCount: 1 } });
    // From a private one, not at all: the feed's project-left takes it away.
    const gone = foldProjectMessage(
      project(apolloId, { access: 'editor', revision: 1, memberCount: 2 }),
      projectMessage(2, { type: 'MemberRemoved', data: { userId: bob, by: alice } }),
      me,
    );
    expect(gone).toMatchObject({ project: { access: 'editor', memberCount: 1 } });
    // A site admin is an admin wherever they are a member.
    const asAdmin = foldProjectMessage(
      project(apolloId, { access: 'admin', revision: 1 }),
      projectMessage(2, { type: 'MemberAdded', data: { userId: bob, role: 'viewer' } }),
      { id: bob, role: 'admin' },
    );
    expect(asAdmin).toMatchObject({ project: { access: 'admin' } });
  });

  it('reads the project again when its visibility changes, since access may change unseen', () => {
    const open = project(apolloId, { visibility: 'open', access: 'editor', revision: 1 });
    const turned = foldProjectMessage(
      open,
      projectMessage(2, {
        type: 'ProjectVisibilityChanged',
        data: { from: 'open', to: 'private' },
      }),
      me,
    );
    expect(turned).toMatchObject({
      kind: 'changed',
      reload: true,
      project: { visibility: 'private' },
    });
  });
});

describe('the board projects: the members panel', () => {
  const nameOf = (userId: string) => (userId === bob ? 'Bob' : 'Someone');

  it('folds additions, role changes and removals, each set or delete, so twice is once', () => {
    const start = new Map([[alice, member(alice, 'owner', 'Alice')]]);
    const add = projectMessage(1, { type: 'MemberAdded', data: { userId: bob, role: 'editor' } });
    const promote = projectMessage(2, {
      type: 'MemberRoleChanged',
      data: { userId: bob, from: 'editor', to: 'owner' },
    });
    const remove = projectMessage(3, { type: 'MemberRemoved', data: { userId: bob, by: alice } });

    const added = foldMembers(start, add, nameOf);
    expect(added.get(bob)).toEqual({
      userId: bob,
      role: 'editor',
      name: 'Bob',
      addedAt: '2026-01-02T00:00:01.000Z',
    });
    expect(foldMembers(added, add, nameOf)).toEqual(added);
    const promoted = foldMembers(added, promote, nameOf);
    expect(promoted.get(bob)?.role).toBe('owner');
    expect(foldMembers(promoted, promote, nameOf)).toEqual(promoted);
    const removed = foldMembers(promoted, remove, nameOf);
    expect([...removed.keys()]).toEqual([alice]);
    expect(foldMembers(removed, remove, nameOf)).toEqual(removed);
    // The fold returns a new map: the one it was given is left as it was.
    expect([...start.keys()]).toEqual([alice]);
    // A role change of someone the list does not hold adds nobody.
    expect(foldMembers(start, promote, nameOf)).toEqual(start);
  });

  it('lists owners first, then by name', () => {
    const rows = [
      member(bob, 'viewer', 'Bob'),
      member('u3', 'editor', 'Carol'),
      member(alice, 'owner', 'Zed'),
      member('u4', 'editor', 'Ann'),
    ];
    expect(sortMembers(rows).map((m) => m.name)).toEqual(['Zed', 'Ann', 'Carol', 'Bob']);
  });
});
