// Bundles scripts/device-check.ts into one Node script, .dev/kiln-device/check.mjs: shaders inlined
// via ?raw, wgsl_reflect and the test references bundled in; only Dawn's `webgpu` package (a native
// binary, carried beside it by scripts/device-bundle.sh) stays external. For a GPU machine with no npm.
import { defineConfig } from 'vite';

export default defineConfig({
  root: '.',
  logLevel: 'warn',
  build: {
    ssr: 'scripts/device-check.ts',
    outDir: '.dev/kiln-device',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    rollupOptions: { external: ['webgpu'], output: { entryFileNames: 'check.mjs' } },
  },
  ssr: { noExternal: true, external: ['webgpu'] },
});
