// `kiln bench --browser`: serves bench/browser/ with Vite and opens it in the system's headless
// Chromium through Playwright (never a browser of Playwright's own), with WebGPU enabled. Both are
// development dependencies: this mode works from a checkout of the repository.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { ConfigError, GpuError } from '../errors.ts';
import type { BenchResult } from '../bench/run.ts';
import type { ModelSpec } from '../nn/spec.ts';

const CHROMIUM = '/usr/bin/chromium';

/**
 * Node's own import() of a package resolved from here: the CLI may run inside Vite's module runner,
 * which is closed once the CLI has loaded, and these optional tools are not part of the bundle.
 */
async function nativeImport<T>(id: string): Promise<T> {
  const url = pathToFileURL(createRequire(import.meta.url).resolve(id)).href;
  const m = await (new Function('u', 'return import(u)') as (u: string) => Promise<T & { default?: T }>)(url);
  return (m.default ?? m) as T; // a CommonJS package's exports arrive as `default`
}
const ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function benchInBrowser(spec: ModelSpec, options: object): Promise<BenchResult> {
  const root = fileURLToPath(new URL('../../bench/browser/', import.meta.url));
  if (!existsSync(root)) throw new ConfigError('--browser needs a checkout of the Kiln repository (bench/browser/ is not in the package)');
  if (!existsSync(CHROMIUM)) throw new ConfigError(`--browser needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  let vite: typeof import('vite'), pw: typeof import('@playwright/test');
  try {
    vite = await nativeImport('vite');
    pw = await nativeImport('@playwright/test');
  } catch (e) {
    throw new ConfigError(`--browser needs the development dependencies (vite, @playwright/test): run npm ci in the repository (${(e as Error).message})`);
  }
  const server = await vite.createServer({ configFile: false, root, logLevel: 'error', server: { host: '127.0.0.1', port: 0, fs: { allow: [fileURLToPath(new URL('../..', import.meta.url))] } } });
  await server.listen();
  const browser = await pw.chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  try {
    const page = await browser.newPage();
    const done = new Promise<BenchResult>((resolve, reject) => {
      page.on('console', (m) => {
        const t = m.text();
        if (t.startsWith('kiln-bench ')) resolve(JSON.parse(t.slice(11)) as BenchResult);
        else if (t.startsWith('kiln-bench-error ')) reject(new GpuError(`in Chromium: ${t.slice(17)}`));
      });
      page.on('pageerror', (e) => reject(new GpuError(`in Chromium: ${e.message}`)));
    });
    const url = server.resolvedUrls!.local[0]!;
    await page.goto(`${url}#${encodeURIComponent(JSON.stringify({ spec, options }))}`);
    return await done;
  } finally {
    await browser.close();
    await server.close();
  }
}
