// Browser tests of the demo in Debian's headless Chromium (WebGPU on SwiftShader, no GPU needed),
// against both the Vite dev server and the production build. SwiftShader trains ~20 images/s on two
// cores, so timeouts are generous and tests run one at a time.
import { defineConfig } from '@playwright/test';

const DEV = 'http://127.0.0.1:5180';
const BUILD = 'http://127.0.0.1:5181';

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
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    },
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'dev', testMatch: ['demo.spec.ts', 'no-webgpu.spec.ts'], use: { baseURL: DEV } },
    { name: 'build', testMatch: ['build.spec.ts', 'no-webgpu.spec.ts'], use: { baseURL: BUILD } },
  ],
  webServer: [
    {
      command: 'npx vite --port 5180 --host 127.0.0.1 --strictPort',
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
