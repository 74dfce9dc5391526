import { createServiceRuntime, loadDotEnv, runMain, serve } from '@tasksync/platform';
import { buildNotifierApp, createSocketServer } from './app';
import { loadNotifierConfig } from './config';
import { startLiveFeed } from './live/feed';

const main = async () => {
  loadDotEnv();
  const config = loadNotifierConfig();
  const runtime = await createServiceRuntime('notifier', config);
  const io = createSocketServer(config.FRONTEND_URL);
  const feed = await startLiveFeed({
    io,
    redis: runtime.redis,
    keys: runtime.keys,
    logReader: runtime.logReader,
    tokens: runtime.tokens,
    logger: runtime.logger,
    metrics: runtime.metrics,
    maxReplay: config.NOTIFIER_MAX_REPLAY,
    taskCacheSize: config.NOTIFIER_TASK_CACHE,
  });
  const app = buildNotifierApp(runtime);
  const server = serve(app, runtime, {
    name: 'notifier',
    port: config.NOTIFIER_PORT,
    // Closing the transports (not a Socket.IO disconnect, which tells clients not
    // to come back) makes clients reconnect, here or to another notifier, with `since`.
    drain: async () => {
      io.engine.close();
    },
    beforeClose: () => feed.stop(),
  });
  io.attach(server);
  runtime.logger.info(
    `live feed on http://localhost:${config.NOTIFIER_PORT}/socket.io; open the board through the front door`,
  );
};

void runMain(main);
