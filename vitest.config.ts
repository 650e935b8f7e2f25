import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    // dist/ is bundled once for all files (test/unit/build-once.ts)
    globalSetup: ['test/unit/build-once.ts'],
    testTimeout: 20000,
    // vitest's default is one worker less than the CPUs: on the 2-core CI machine one file at a
    // time. The slow files mostly wait for the CLIs they start, so two run side by side.
    maxWorkers: 2,
  },
});
