import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  accessFrom,
  newId,
  type Priority,
  type ProjectRole,
  type Visibility,
} from '@tasksync/contracts';
import { openReadModelReadOnly, type ReadModelDb } from '@tasksync/platform/read-model';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Caller, callerIn, seesParams, seesProjectSql, VISIBLE_PROJECTS_SQL } from '../access';
import { modelShape } from '../read-model';
import { createCurrentModel, modelWriter, type TaskSeed } from '../testing/read-models';
import { type ListReach, ListTasksQuery, listTasks, taskListStatement } from './list-tasks';

/**
 * The list SQL against a model written row by row: every shape (the k-way
 * merge, one project, the gather, an admin's read of everything) pages
 * through exactly the tasks a plain JavaScript reading of §10 and the filters
 * gives, in its order, for callers of every kind; and no shape limited to
 * some projects lets SQLite scan every task.
 */

// A seeded generator: the same model on every run.
let seed = 20_261_206;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const users = {
  admin: newId(),
  owner: newId(),
  viewer: newId(),
  outsider: newId(),
  demoted: newId(),
};
const projects: { id: string; visibility: Visibility; members: Record<string, ProjectRole> }[] = [
  { id: newId(), visibility: 'open', members: {} },
  { id: newId(), visibility: 'private', members: { [users.owner]: 'owner' } },
  { id: newId(), visibility: 'private', members: { [users.viewer]: 'viewer' } },
  {
    id: newId(),
    visibility: 'private',
    members: { [users.owner]: 'editor', [users.viewer]: 'viewer' },
  },
  { id: newId(), visibility: 'open', members: { [users.viewer]: 'viewer' } },
  { id: newId(), visibility: 'private', members: {} },
  { id: newId(), visibility: 'private', members: { [users.demoted]: 'owner' } },
];
const PRIORITIES: Priority[] = ['low', 'medium', 'high', 'urgent'];
const tasks: (Required<TaskSeed> & { rank: number })[] = [];

/** The model as the schema makes it, and with a per-project index on created_at as well. */
const models: Record<string, ReadModelDb> = {};
let db: ReadModelDb;
beforeAll(() => {
  const path = join(mkdtempSync(join(tmpdir(), 'list-sql-')), 'read-model.sqlite');
  const writer = createCurrentModel(path);
  const write = modelWriter(writer);
  write.user({ id: users.admin, name: 'Admin', role: 'admin' });
  // A token signed while this one was admin still says so; the model says member.
  write.user({ id: users.demoted, name: 'Demoted', role: 'member' });
  for (const [i, project] of projects.entries()) {
    write.project({ id: project.id, name: `P${i}`, visibility: project.visibility });
    for (const [userId, role] of Object.entries(project.members))
      write.member(project.id, userId, role);
  }
  const people = Object.values(users);
  for (let i = 0; i < 400; i++) {
    const priority = pick(PRIORITIES);
    // Few distinct times, so ties on the sort key are paged by id.
    const at = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString();
    const task = {
      id: newId(),
      projectId: pick(projects).id,
      title: `Task ${i} ${pick(['kangaroo', 'wombat', 'emu'])}`,
      description: pick(['', 'koala here', 'nothing']),
      status: pick(['pending', 'in-progress', 'completed'] as const),
      assigneeId: pick([null, ...people]),
      priority,
      dueDate: pick([null, '2026-03-01', '2026-04-01', '2026-05-01']),
      labels: random() < 0.3 ? ['red'] : [],
      createdBy: pick(people),
      createdAt: at(Math.floor(random() * 150)),
      updatedAt: at(150 + Math.floor(random() * 150)),
      deleted: random() < 0.1,
      rank: PRIORITIES.indexOf(priority),
    };
    tasks.push(task);
    write.task(task);
  }
  write.countTasks();
  // The same rows without the per-project created_at index: createdAt lists gather and sort.
  const withoutCreated = join(dirname(path), 'without-created.sqlite');
  writer.exec(`VACUUM INTO '${withoutCreated}'`);
  writer.close();
  const unindexed = new Database(withoutCreated);
  unindexed.exec('DROP INDEX tasks_project_created');
  unindexed.close();
  models.schema = openReadModelReadOnly(path);
  models['no created index'] = openReadModelReadOnly(withoutCreated);
});
afterAll(() => {
  for (const model of Object.values(models)) model.close();
});

const sees = (caller: Caller, projectId: string) => {
  const project = projects.find((p) => p.id === projectId)!;
  return (
    accessFrom(caller.admin ? 'admin' : 'member', {
      visibility: project.visibility,
      memberRole: project.members[caller.userId],
    }) !== 'none'
  );
};

/** The list as §6 and §10 read in plain JavaScript: filter, see, sort by (key, id). */
const expected = (caller: Caller, query: ListTasksQuery) => {
  const field = query.sort.replace(/^-/, '');
  const key = (t: (typeof tasks)[number]): string | number =>
    field === 'priority'
      ? t.rank
      : field === 'dueDate'
        ? (t.dueDate ?? '9999-12-31')
        : field === 'createdAt'
          ? t.createdAt
          : t.updatedAt;
  const me = caller.userId;
  const words = (t: (typeof tasks)[number]) =>
    `${t.title} ${t.description}`.toLowerCase().split(/\W+/);
  const sign = query.sort.startsWith('-') ? -1 : 1;
  return tasks
    .filter(
      (t) =>
        !t.deleted &&
        sees(caller, t.projectId) &&
        (!query.projectId || t.projectId === query.projectId) &&
        (!query.status || t.status === query.status) &&
        (!query.assigneeId ||
          t.assigneeId === (query.assigneeId === 'me' ? me : query.assigneeId)) &&
        (!query.createdBy || t.createdBy === (query.createdBy === 'me' ? me : query.createdBy)) &&
        (!query.label || t.labels.includes(query.label)) &&
        (!query.priority || t.priority === query.priority) &&
        (!query.q || words(t).includes(query.q)) &&
        (!query.dueBefore || (t.dueDate !== null && t.dueDate < query.dueBefore)) &&
        (!query.dueAfter || (t.dueDate !== null && t.dueDate > query.dueAfter)),
    )
    .sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      if (ka !== kb) return (ka < kb ? -1 : 1) * sign;
      return (a.id < b.id ? -1 : 1) * sign;
    })
    .map((t) => t.id);
};

const reachOf = (caller: Caller, query: ListTasksQuery): ListReach =>
  query.projectId
    ? { projectId: query.projectId }
    : caller.admin
      ? { all: true }
      : { visibleTo: caller.userId };

/** Every page, following nextCursor, as the route reads them. */
const pageThrough = (caller: Caller, raw: Record<string, unknown>) => {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = ListTasksQuery.parse({ ...raw, ...(cursor ? { cursor } : {}) });
    const statement = taskListStatement(
      query,
      caller.userId,
      reachOf(caller, query),
      modelShape(db).projectOrdered,
    );
    const page = JSON.parse(listTasks(db, statement)) as {
      items: { id: string; projectId: string }[];
      nextCursor: string | null;
    };
    ids.push(...page.items.map((task) => task.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < 100);
  return ids;
};

const callers: Record<string, Caller> = {
  admin: { userId: users.admin, admin: true },
  owner: { userId: users.owner, admin: false },
  viewer: { userId: users.viewer, admin: false },
  outsider: { userId: users.outsider, admin: false },
};
const SORTS = ['-updatedAt', 'updatedAt', '-createdAt', 'createdAt', 'priority', '-dueDate'];
const FILTERS: Record<string, unknown>[] = [
  {},
  { status: 'in-progress' },
  { assigneeId: 'me' },
  { createdBy: users.owner, priority: 'high' },
  { label: 'red' },
  { q: 'kangaroo' },
  { q: 'koala', status: 'pending' },
  { dueBefore: '2026-04-15', dueAfter: '2026-03-15' },
];

describe.each(['schema', 'no created index'])('task list SQL (%s)', (model) => {
  beforeAll(() => {
    db = models[model]!;
  });

  it('merges the projects for the sorts an index keeps in order per project', () => {
    expect([...modelShape(db).projectOrdered].sort()).toEqual(
      model === 'schema' ? ['createdAt', 'updatedAt'] : ['updatedAt'],
    );
  });

  it('pages through exactly what each caller sees, filtered and in order, on every shape', () => {
    let compared = 0;
    for (const [name, caller] of Object.entries(callers)) {
      for (const sort of SORTS) {
        for (const filter of FILTERS) {
          for (const projectId of [undefined, projects[1]!.id, projects[0]!.id]) {
            if (projectId && !sees(caller, projectId)) continue;
            const raw = { ...filter, sort, limit: 7, ...(projectId ? { projectId } : {}) };
            const want = expected(caller, ListTasksQuery.parse(raw));
            expect(pageThrough(caller, raw), `${name} ${JSON.stringify(raw)}`).toEqual(want);
            compared += want.length;
          }
        }
      }
    }
    // The comparisons had tasks in them: a filter matching nothing everywhere proves little.
    expect(compared).toBeGreaterThan(5_000);
  });

  it('gives an outsider the open projects only, a member theirs too, and an admin every task', () => {
    const projectsSeen = (caller: Caller) =>
      new Set(
        pageThrough(caller, { limit: 200 }).map(
          (id) => tasks.find((task) => task.id === id)!.projectId,
        ),
      );
    const [open, ownerOnly, viewerOnly, both, openViewer, nobody, demotedOwn] = projects.map(
      (p) => p.id,
    );
    expect(projectsSeen(callers.outsider!)).toEqual(new Set([open, openViewer]));
    expect(projectsSeen(callers.owner!)).toEqual(new Set([open, ownerOnly, both, openViewer]));
    expect(projectsSeen(callers.viewer!)).toEqual(new Set([open, viewerOnly, both, openViewer]));
    expect(projectsSeen(callers.admin!)).toEqual(
      new Set([open, ownerOnly, viewerOnly, both, openViewer, nobody, demotedOwn]),
    );
  });

  it('never lets SQLite scan every task for a list limited to some projects', () => {
    const plans: string[] = [];
    for (const sort of SORTS) {
      for (const filter of FILTERS) {
        for (const reach of [{ visibleTo: users.owner }, { projectId: projects[1]!.id }]) {
          const query = ListTasksQuery.parse({ ...filter, sort });
          const statement = taskListStatement(
            query,
            users.owner,
            reach,
            modelShape(db).projectOrdered,
          );
          const plan = (
            db.prepare(`EXPLAIN QUERY PLAN ${statement.sql}`).all(statement.params) as {
              detail: string;
            }[]
          ).map((row) => row.detail);
          // Every read of tasks is by the project index or by rowid: none by a
          // global index (status, assignee, times), none a scan.
          const reads = plan.filter((line) => /^(SCAN|SEARCH) [txyg]\b/.test(line));
          for (const line of reads)
            expect(
              line,
              `${JSON.stringify({ ...filter, sort, reach })}\n${plan.join('\n')}`,
            ).toMatch(
              /USING (COVERING )?INDEX tasks_project(_created)? |USING INTEGER PRIMARY KEY|^SCAN g$/,
            );
          plans.push(...reads);
        }
      }
    }
    expect(plans.some((line) => line.includes('tasks_project'))).toBe(true);
  });

  it('asks for the visible projects as accessFrom decides them, the admin check included', () => {
    const check = db.prepare(`SELECT ${seesProjectSql('@projectId')} AS visible`);
    const visible = db.prepare(`SELECT project_id FROM (${VISIBLE_PROJECTS_SQL})`);
    for (const [userId, claim] of [
      [users.admin, 'admin'],
      [users.admin, 'member'],
      [users.demoted, 'admin'],
      [users.owner, 'member'],
      [users.viewer, 'member'],
      [users.outsider, 'member'],
    ] as const) {
      const caller = callerIn(db, { userId, role: claim });
      const listed = new Set(
        (visible.all({ me: userId }) as { project_id: string }[]).map((row) => row.project_id),
      );
      for (const project of projects) {
        const want = sees(caller, project.id);
        const { visible: got } = check.get({
          projectId: project.id,
          ...seesParams({ userId, role: claim }),
        }) as { visible: number };
        expect({ userId, claim, project: project.id, got: got === 1 }).toEqual({
          userId,
          claim,
          project: project.id,
          got: want,
        });
        if (!caller.admin) expect(listed.has(project.id)).toBe(want);
      }
    }
    // The demoted admin's token still says admin: the model decides, and it says member.
    expect(callerIn(db, { userId: users.demoted, role: 'admin' }).admin).toBe(false);
    expect(callerIn(db, { userId: users.admin, role: 'admin' }).admin).toBe(true);
  });
});
