import { defineConfig } from 'vitest/config';

// Three kinds of test, each with its own script (style.md): unit tests touch no
// process, integration tests get a private redis-server from the global setup,
// end-to-end tests start real service processes.
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
          ],
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/src/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          globalSetup: ['test/redis-global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['**/src/**/*.e2e.test.ts', 'test/**/*.e2e.test.ts', 'scripts/**/*.e2e.test.ts'],
          globalSetup: ['test/redis-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
