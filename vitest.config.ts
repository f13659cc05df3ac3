import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real daemons (sshd, mysqld) and test hosts; forks isolate them.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 600_000,
  },
});
