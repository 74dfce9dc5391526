import { GENERAL_PROJECT_ID, type KeyLayout } from '@tasksync/contracts';
import { appendToStream, type Logger, type RedisClient } from '@tasksync/platform';

/**
 * Creates the General project (design §10) unless it exists: expected revision
 * `none` makes it race-safe, so every command-service may try at start in any
 * order, and only one ProjectCreated is ever appended. Owned by `system`, so
 * site admins manage it; open, so every user works in it as an editor.
 */
export const bootstrapGeneralProject = async (deps: {
  redis: RedisClient;
  keys: KeyLayout;
  logger: Logger;
  now: () => Date;
  newId: () => string;
}) => {
  const { keys } = deps;
  const result = await appendToStream(deps.redis, {
    streamKey: keys.projectStream(GENERAL_PROJECT_ID),
    logKey: keys.projectLog,
    aggregateId: GENERAL_PROJECT_ID,
    expectedRevision: 'none',
    events: [
      {
        id: deps.newId(),
        type: 'ProjectCreated',
        data: { name: 'General', description: '', visibility: 'open', ownerId: 'system' },
        at: deps.now().toISOString(),
        actor: 'system',
        corr: 'bootstrap',
      },
    ],
  });
  // A conflict: another command-service created it first.
  const created = result.outcome === 'appended';
  if (created) deps.logger.info({ projectId: GENERAL_PROJECT_ID }, 'created the General project');
  return created;
};
