// The production build (vite build + vite preview) loads, trains and stays free of console errors,
// and its main thread is never blocked while training runs (training lives in a Web Worker).
import { expect, test } from '@playwright/test';
import { collectErrors, loss, percent, step } from './helpers.ts';

test('the production build loads and trains past a few steps without console errors', async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('adapter')).toContainText('swiftshader', { timeout: 60_000 });
  await expect.poll(() => step(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(5);
  expect(await loss(page)).toBeGreaterThan(0);
  await expect(page.getByTestId('reconstructions')).toHaveAttribute('data-step', /^[1-9]\d*$/);
  await page.screenshot({ path: test.info().outputPath('build.png'), fullPage: true });
  await expect(page.getByTestId('status')).toContainText('Training on the embedded sample');
  expect(errors).toEqual([]);
});

test('the page\'s main thread is never blocked for 50 ms or more over 20 s of training in classify mode', async ({ page }) => {
  test.setTimeout(150_000);
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('status')).toContainText('Training on the embedded sample', { timeout: 90_000 });
  await page.getByTestId('mode').selectOption('classify');
  await expect(page.getByTestId('status')).toContainText('classifier (6 classes)', { timeout: 90_000 });
  await expect.poll(() => step(page), { timeout: 90_000 }).toBeGreaterThanOrEqual(2);
  // Long tasks (≥ 50 ms on the main thread), collected from now on only: loading and compiling are before.
  await page.evaluate(() => {
    const g = globalThis as unknown as { longTasks: number[] };
    g.longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) g.longTasks.push(e.duration); }).observe({ type: 'longtask' });
  });
  const from = await step(page);
  const t0 = Date.now();
  await page.waitForTimeout(22_000);
  const seconds = (Date.now() - t0) / 1000;
  const tasks = await page.evaluate(() => (globalThis as unknown as { longTasks: number[] }).longTasks);
  const trained = (await step(page)) - from;
  test.info().annotations.push({ type: 'long tasks', description: `${tasks.length} over ${seconds.toFixed(1)} s (max ${Math.max(0, ...tasks).toFixed(0)} ms), ${trained} steps trained, accuracy ${await percent(page, 'accuracy')}%` });
  expect(trained).toBeGreaterThan(0); // training ran throughout
  await expect(page.getByTestId('status')).toContainText('Training on the embedded sample');
  expect(tasks).toEqual([]);
  expect(errors).toEqual([]);
});
