import { defineConfig } from 'vitest/config';

const integration = {
  include: ['**/src/**/*.int.test.ts', 'test/**/*.int.test.ts'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

const endToEnd = {
  include: ['**/src/**/*.e2e.test.ts', 'test/**/*.e2e.test.ts', 'scripts/**/*.e2e.test.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
  fileParallelism: false,
};

// Three kinds of test, each with its own script (style.md): unit tests touch no
// process, integration tests get a private redis-server from the global setup,
// end-to-end tests start real service processes. The integration and
// end-to-end suites run a second time against a local three-master Redis
// Cluster with 4 partitions (test/redis-cluster-global-setup.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '**/src/**/*.unit.test.ts',
            'test/**/*.unit.test.ts',
            'scripts/**/*.unit.test.ts',
            'bench/**/*.unit.test.ts',
          ],
        },
      },
      { test: { name: 'int', globalSetup: ['test/redis-global-setup.ts'], ...integration } },
      { test: { name: 'e2e', globalSetup: ['test/redis-global-setup.ts'], ...endToEnd } },
      {
        test: {
          name: 'int-cluster',
          globalSetup: ['test/redis-cluster-global-setup.ts'],
          ...integration,
        },
      },
      {
        test: {
          name: 'e2e-cluster',
          globalSetup: ['test/redis-cluster-global-setup.ts'],
          ...endToEnd,
          // These two start a single redis-server of their own on purpose: a
          // killed and restarted node (faults), and npm start's embedded Redis.
          exclude: ['**/node_modules/**', 'test/faults.e2e.test.ts', 'test/start.e2e.test.ts'],
        },
      },
    ],
  },
});
