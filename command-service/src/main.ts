import { newId } from '@tasksync/contracts';
import { createServiceRuntime, loadDotEnv, runMain, serve } from '@tasksync/platform';
import { buildCommandApp, createWriteSide } from './app';
import { loadCommandConfig } from './config';
import { backfillAssignedIndex } from './process-manager/backfill';
import { startProcessManager } from './process-manager/process-manager';
import { bootstrapGeneralProject } from './projects/general';

const main = async () => {
  loadDotEnv();
  const config = loadCommandConfig();
  const runtime = await createServiceRuntime('command', config);
  const deps = { ...runtime, now: () => new Date(), newId };
  await bootstrapGeneralProject(deps);
  // Before the process manager reads it: the index must hold the tasks from before it.
  await backfillAssignedIndex(deps);
  const writeSide = createWriteSide(deps);
  const app = buildCommandApp(deps, writeSide);
  const processManager = startProcessManager(
    { ...writeSide, logger: runtime.logger },
    {
      concurrency: config.PROCESS_MANAGER_CONCURRENCY,
      claimIdleMs: config.PROCESS_MANAGER_CLAIM_IDLE_MS,
    },
  );
  await processManager.started;
  serve(app, runtime, {
    name: 'command-service',
    port: config.COMMAND_PORT,
    beforeClose: () => processManager.stop(),
  });
};

void runMain(main);
