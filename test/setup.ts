/**
 * Loaded before every test file (vitest.config.ts setupFiles): when a test
 * fails, say which suite seed its random choices came from, so the run can be
 * repeated exactly (FAMFS_TEST_SEED=<seed> make test).
 */
import { afterEach } from 'vitest';
import { suiteSeed } from './random.js';

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    process.stderr.write(`\n[seed] "${ctx.task.name}" failed; its random choices came from FAMFS_TEST_SEED=${suiteSeed()}\n`);
  }
});
