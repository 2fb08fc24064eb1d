// Browser tests of the demo in Debian's headless Chromium (WebGPU on SwiftShader, no GPU needed),
// against both the Vite dev server and the production build. SwiftShader trains ~20–50 images/s on
// two cores, so timeouts are generous and tests run one at a time.
import { defineConfig } from '@playwright/test';

const DEV = 'http://127.0.0.1:5180';
const BUILD = 'http://127.0.0.1:5181';

const ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export default defineConfig({
  testDir: 'e2e',
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    headless: true,
    viewport: { width: 1200, height: 1000 },
    launchOptions: { executablePath: '/usr/bin/chromium', args: ARGS },
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'dev', testMatch: ['demo.spec.ts', 'classify.spec.ts', 'checkpoint.spec.ts', 'no-webgpu.spec.ts'], use: { baseURL: DEV } },
    // A fake camera (a moving test pattern) and permission granted, for the webcam dataset.
    { name: 'webcam', testMatch: ['webcam.spec.ts'], use: { baseURL: DEV, launchOptions: { executablePath: '/usr/bin/chromium',
      args: [...ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] } } },
    { name: 'build', testMatch: ['build.spec.ts', 'no-webgpu.spec.ts'], use: { baseURL: BUILD } },
  ],
  webServer: [
    {
      // HMR and file watching off (e2e/vite.e2e.config.ts): edits elsewhere in the tree must not reload a test's page.
      command: 'npx vite --config e2e/vite.e2e.config.ts --port 5180 --host 127.0.0.1 --strictPort',
      url: `${DEV}/`,
      // Never reuse: a server left running elsewhere may serve another checkout.
      reuseExistingServer: false,
      timeout: 60_000,
    },
    {
      // Always a fresh build: a reused preview server could be serving an old one.
      command: 'npx vite build && npx vite preview --port 5181 --host 127.0.0.1 --strictPort',
      url: `${BUILD}/`,
      reuseExistingServer: false,
      timeout: 180_000,
    },
  ],
});
