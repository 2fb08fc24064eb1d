// One config for the demo (Vite dev server and build) and the unit/GPU tests (Vitest).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: 'demo',
  publicDir: false,
  server: { fs: { allow: ['..'] } },
  build: { outDir: '../dist/demo', emptyOutDir: true, target: 'es2022' },
  test: {
    root: '.',
    include: ['test/**/*.test.ts'],
    // One process at a time: each GPU test file owns a Dawn device, and SwiftShader already uses
    // both cores. Running files in parallel only makes them fight over the same two threads.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
