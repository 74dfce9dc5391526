import { newId } from '@tasksync/contracts';
import { createServiceRuntime, loadDotEnv, runMain, serve } from '@tasksync/platform';
import { buildCommandApp } from './app';
import { loadCommandConfig } from './config';

const main = async () => {
  loadDotEnv();
  const config = loadCommandConfig();
  const runtime = await createServiceRuntime('command', config);
  const app = buildCommandApp({ ...runtime, now: () => new Date(), newId });
  serve(app, runtime, { name: 'command-service', port: config.COMMAND_PORT });
};

void runMain(main);
