// Bundles scripts/device-check.ts into one Node script (shaders inlined via ?raw; only Dawn's
// `webgpu` package stays external), for a GPU machine that has no npm.
import { defineConfig } from 'vite';

export default defineConfig({
  root: '.',
  logLevel: 'warn',
  build: {
    ssr: 'scripts/device-check.ts',
    outDir: '.dev/bundle',
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: { external: ['webgpu'], output: { entryFileNames: 'check.mjs' } },
  },
  ssr: { noExternal: true, external: ['webgpu'] },
});
