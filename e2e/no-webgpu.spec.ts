// Without WebGPU, or without an adapter, the page says what is missing and how to get it.
import { expect, test } from '@playwright/test';
import { collectErrors } from './helpers.ts';

test('without navigator.gpu the page explains what is missing and how to enable it', async ({ page }) => {
  const errors = collectErrors(page);
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
  await page.goto('/');
  await expect(page.getByTestId('status')).toContainText('WebGPU is not available');
  await expect(page.getByTestId('status')).toContainText('--enable-unsafe-webgpu');
  await expect(page.locator('#help')).toBeVisible();
  await expect(page.getByTestId('pause')).toBeDisabled();
  expect(errors).toEqual([]);
});

test('without an adapter the page says so', async ({ page }) => {
  const errors = collectErrors(page);
  await page.addInitScript(() => { GPU.prototype.requestAdapter = async () => null; });
  await page.goto('/');
  await expect(page.getByTestId('status')).toContainText('No WebGPU adapter was found');
  await expect(page.locator('#help')).toBeVisible();
  expect(errors).toEqual([]);
});
