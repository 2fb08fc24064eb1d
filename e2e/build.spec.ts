// The production build (vite build + vite preview) loads, trains and stays free of console errors.
import { expect, test } from '@playwright/test';
import { collectErrors, loss, step } from './helpers.ts';

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
