/**
 * The bench's tenancy with projects (design §10). POST /tasks writes into a
 * private project the bench user owns, created through the command-service,
 * with four more registered members (two editors, two viewers) whose sockets
 * the whole-system row listens on. The read side seeds 100,000 tasks over
 * 1,000 private projects (that one and 999 more, each with an owner and four
 * members), the bench user a member of 20 of them; the open General project
 * holds the warm-up's 1,000 tasks (and later the live side's).
 */
import { createTaskSyncClient } from '@tasksync/client';
import { type KeyLayout, type NewEvent, newId } from '@tasksync/contracts';
import { appendToStream, type RedisClient } from '@tasksync/platform';
import { appendTasks, seededTask } from './seed';
import type { Tenancy } from './tenancy';

const PROJECTS = 1_000;
const TASKS = 100_000;
/** Projects the bench user is a member of, the one the write rows write to among them. */
const MEMBER_OF = 20;
const OTHER_MEMBERS = 4;
/** Users the seeded projects' owners and members are drawn from (ids only: reads need no more). */
const USER_POOL = 500;

/** The data of a typed client call's answer, or an error naming what failed. */
const ok = async <T>(
  what: string,
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> => {
  const { data, error, response } = await call;
  if (data === undefined) throw new Error(`${what}: ${response.status} ${JSON.stringify(error)}`);
  return data;
};

const event = (type: string, data: unknown, actor: string) =>
  ({ id: newId(), type, data, at: new Date().toISOString(), actor, corr: 'bench' }) as NewEvent;

export const projects: Tenancy = {
  setUpWrites: async ({ identityUrl, commandsUrl, token }) => {
    // The typed client (client/), at each service's own URL: the write rows run without a door.
    const identity = createTaskSyncClient(identityUrl);
    const commands = createTaskSyncClient(commandsUrl, { token });
    const { id: projectId } = await ok(
      'POST /projects',
      commands.POST('/projects', { body: { name: 'Bench writes', visibility: 'private' } }),
    );
    const socketTokens = [token];
    for (let i = 0; i < OTHER_MEMBERS; i++) {
      const credentials = { email: `bench-member-${i}@example.com`, password: 'bench-password' };
      const { user } = await ok(
        'POST /auth/register',
        identity.POST('/auth/register', { body: credentials }),
      );
      const login = await ok(
        'POST /auth/login',
        identity.POST('/auth/login', { body: credentials }),
      );
      const role = i % 2 === 0 ? 'editor' : 'viewer';
      await ok(
        'PUT /projects/{id}/members/{userId}',
        commands.PUT('/projects/{id}/members/{userId}', {
          params: { path: { id: projectId, userId: user.id } },
          body: { role },
        }),
      );
      socketTokens.push(login.token);
    }
    return { projectId, socketTokens };
  },

  seedReads: async (redis, keys, { userId, writeProjectId }) => {
    const pool = Array.from({ length: USER_POOL }, () => newId());
    // Project 0 is the write rows' (created through the API above); 1 … MEMBER_OF - 1 the
    // bench user's other projects, as editor, viewer or owner; the rest are others'.
    const projectIds = [writeProjectId ?? newId(), ...Array.from({ length: PROJECTS - 1 }, newId)];
    const owners = projectIds.map((_, j) => (j === 0 ? userId : pool[j % USER_POOL]!));
    await seedProjects(redis, keys, projectIds.slice(1), (k) => {
      const j = k + 1;
      const members = Array.from({ length: OTHER_MEMBERS }, (_, m) => ({
        userId: pool[(j * 7 + m + 1) % USER_POOL]!,
        role: m % 2 === 0 ? 'editor' : 'viewer',
      })).filter((member) => member.userId !== owners[j]);
      if (j < MEMBER_OF) members.push({ userId, role: ['editor', 'viewer', 'owner'][j % 3]! });
      return { ownerId: owners[j]!, members };
    });
    const taskIds = await appendTasks(redis, keys, TASKS, (i) => {
      const j = i % PROJECTS;
      return seededTask(i, owners[j]!, { projectId: projectIds[j] });
    });
    return {
      visibleTaskIds: taskIds.filter((_, i) => i % PROJECTS < MEMBER_OF),
      description: `100,000 tasks in 1,000 private projects (${OTHER_MEMBERS + 1} members each), the reader a member of ${MEMBER_OF}; General open`,
    };
  },
};

/** Appends each project's ProjectCreated and MemberAdded events to its stream and the project log. */
const seedProjects = async (
  redis: RedisClient,
  keys: KeyLayout,
  ids: string[],
  shapeOf: (k: number) => { ownerId: string; members: { userId: string; role: string }[] },
) => {
  for (let start = 0; start < ids.length; start += 256) {
    await Promise.all(
      ids.slice(start, start + 256).map(async (projectId, b) => {
        const k = start + b;
        const { ownerId, members } = shapeOf(k);
        const appended = await appendToStream(redis, {
          streamKey: keys.projectStream(projectId),
          logKey: keys.projectLog,
          aggregateId: projectId,
          expectedRevision: 'none',
          events: [
            event(
              'ProjectCreated',
              { name: `Seeded project ${k + 1}`, description: '', visibility: 'private', ownerId },
              ownerId,
            ),
            ...members.map((member) => event('MemberAdded', member, ownerId)),
          ],
        });
        if (appended.outcome !== 'appended') throw new Error(`seeding: ${appended.outcome}`);
      }),
    );
  }
};
