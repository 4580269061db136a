import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import the workspace packages from source, so `vitest` needs no build of
// the TypeScript (the native addon and the CLI end-to-end tests do need one;
// `make test` builds both first).
export default defineConfig({
  resolve: {
    alias: {
      '@famfs/native': src('./native/src/index.ts'),
      '@famfs/core': src('./packages/famfs-core/src/index.ts'),
      '@famfs/fuse': src('./packages/famfs-fuse/src/index.ts'),
      '@famfs/cli': src('./packages/famfs-cli/src/index.ts'),
    },
  },
  test: {
    include: ['native/src/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    setupFiles: ['./test/setup.ts'],
    globalSetup: ['./test/global-setup.ts'],
  },
});
