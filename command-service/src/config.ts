import { commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/platform';

export const loadCommandConfig = (env: NodeJS.ProcessEnv = process.env) =>
  parseConfig({ ...commonEnv, ...jwtEnv, COMMAND_PORT: ports.COMMAND_PORT }, env);
