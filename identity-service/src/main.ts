import { newId } from '@tasksync/contracts';
import { createServiceRuntime, loadDotEnv, runMain, serve } from '@tasksync/platform';
import { buildIdentityApp } from './app';
import { loadIdentityConfig } from './config';
import { bootstrapAdmin } from './users/bootstrap';
import { createPasswordHasher } from './users/passwords';

const main = async () => {
  loadDotEnv();
  const config = loadIdentityConfig();
  const runtime = await createServiceRuntime('identity', config);
  for (const warning of config.warnings) runtime.logger.warn(warning);
  const { app, accounts } = buildIdentityApp({
    ...runtime,
    passwords: await createPasswordHasher(config.BCRYPT_COST),
    now: () => new Date(),
    newId,
    loginThrottle: {
      maxFailures: config.LOGIN_MAX_FAILURES,
      windowSeconds: config.LOGIN_WINDOW_SECONDS,
    },
  });
  await bootstrapAdmin({ ...runtime, accounts }, config.admin);
  serve(app, runtime, { name: 'identity-service', port: config.IDENTITY_PORT });
};

void runMain(main);
