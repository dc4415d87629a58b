// Tests run against real servers: a MariaDB with binary logging started once by
// test/global-setup.ts, an in-process S3 protocol server, real dump/client tools.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: files that start servers would only fight each other.
    fileParallelism: false,
    reporters: ['default'],
  },
});
