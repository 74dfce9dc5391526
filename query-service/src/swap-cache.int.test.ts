import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERAL_PROJECT_ID, newId } from '@tasksync/contracts';
import { storedEvents, taskCreated } from '@tasksync/contracts/testing';
import {
  createLogger,
  createMetrics,
  createTokenService,
  duplicateRedis,
} from '@tasksync/platform';
import { openReadModel } from '@tasksync/platform/read-model';
import { afterAll, describe, expect, it } from 'vitest';
import { createProjection } from '../../projector/src/projection/project';
import { switchReadModelFile } from '../../projector/src/swap';
import { client, connectTestRedis, listen, testKeys, waitFor } from '../../test/support';
import { createAnswerCache } from './answer-cache';
import { buildQueryApp } from './app';
import { createReadModelAccess } from './read-model';

const redis = connectTestRedis();
const subscriber = duplicateRedis(redis);
afterAll(async () => {
  subscriber.disconnect();
  await redis.quit();
});

describe('answer cache across replay --swap', () => {
  it('does not serve an answer of the old file at the same position once the path points at a new one', async () => {
    const keys = testKeys();
    const dir = mkdtempSync(join(tmpdir(), 'swap-cache-'));
    const path = join(dir, 'read-model.sqlite');
    const userId = newId();
    const live = openReadModel(path);
    const projection = createProjection(live);
    // The task's project, which a member sees: the open General project.
    projection.applyBatch(
      'p',
      storedEvents(GENERAL_PROJECT_ID, [
        {
          type: 'ProjectCreated',
          data: { name: 'General', description: '', visibility: 'open', ownerId: 'system' },
        },
      ]),
    );
    projection.applyBatch(
      't0',
      storedEvents(newId(), [taskCreated(userId, { title: 'old projection', priority: 'low' })]),
    );
    const readModel = createReadModelAccess({
      path,
      subscriber,
      keys,
      group: 'projector',
      logger: createLogger({ name: 'swap-cache', level: 'silent' }),
    });
    const tokens = createTokenService({
      secret: 'swap-cache-secret-swap-cache-secret-x',
      ttlSeconds: 600,
    });
    const server = await listen(
      buildQueryApp({
        redis,
        keys,
        tokens,
        logger: createLogger({ name: 'swap-cache', level: 'silent' }),
        metrics: createMetrics('swap-cache'),
        readModel,
        cache: createAnswerCache(redis, keys.prefix, 'projector', 60),
      }),
    );
    const api = client(server.url);
    const token = tokens.sign({ userId, role: 'member' }).token;
    const titles = async () => {
      const answer = await api.get('/tasks', { token });
      expect(answer.status).toBe(200);
      return [
        answer.headers.get('x-cache'),
        answer.body.items.map((t: { title: string }) => t.title),
      ];
    };
    expect(await titles()).toEqual(['miss', ['old projection']]);
    expect(await titles()).toEqual(['hit', ['old projection']]);

    // A rebuilt file at the same checkpoints, whose (new) projection titled the task differently.
    const rebuilt = join(dir, 'rebuilt.sqlite');
    live.exec(`VACUUM INTO '${rebuilt}'`);
    const next = openReadModel(rebuilt);
    next.exec("UPDATE tasks SET title = 'new projection'");
    next.close();
    switchReadModelFile(path, rebuilt);
    await redis.publish(keys.readModelControl('projector'), 'swapped');
    await waitFor(async () => {
      const [cache, seen] = await titles();
      return seen[0] === 'new projection' ? cache : undefined;
    }).then((cache) => expect(cache).toBe('miss'));
    expect(await titles()).toEqual(['hit', ['new projection']]);

    await server.close();
    readModel.close();
    live.close();
  });
});
