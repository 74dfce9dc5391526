import { createServiceRuntime, loadDotEnv, runMain, serve } from '@tasksync/platform';
import { buildGateway } from './app';
import { loadGatewayConfig } from './config';

const main = async () => {
  loadDotEnv();
  const config = loadGatewayConfig();
  const runtime = await createServiceRuntime('gateway', config);
  const gateway = buildGateway({
    ...runtime,
    upstreams: config.upstreams,
    prefix: config.REDIS_PREFIX,
    rates: config.rates,
    timeoutMs: config.GATEWAY_TIMEOUT_MS,
  });
  const server = serve(gateway.handle, runtime, {
    name: 'gateway',
    port: config.GATEWAY_PORT,
    drain: async () => gateway.drain(),
    beforeClose: async () => gateway.close(),
  });
  server.on('upgrade', gateway.upgrade);
  runtime.logger.info(
    `TaskSync on http://localhost:${config.GATEWAY_PORT}/ (API reference: /docs)`,
  );
};

void runMain(main);
