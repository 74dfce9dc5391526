import {
  commonEnv,
  createServiceRuntime,
  jwtEnv,
  loadDotEnv,
  newId,
  parseConfig,
  ports,
  runMain,
  serve,
} from '@tasksync/contracts';
import { buildCommandApp } from './app';

const main = async () => {
  loadDotEnv();
  const config = parseConfig({ ...commonEnv, ...jwtEnv, COMMAND_PORT: ports.COMMAND_PORT });
  const runtime = await createServiceRuntime('command', config);
  const app = buildCommandApp({ ...runtime, now: () => new Date(), newId });
  serve(app, runtime, { name: 'command-service', port: config.COMMAND_PORT });
};

void runMain(main);
