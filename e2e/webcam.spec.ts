// Webcam frames as a dataset, with Chromium's fake camera (a moving test pattern; the 'webcam'
// project launches the browser with it): frames are captured per class and the classifier trains.
import { expect, test } from '@playwright/test';
import { collectErrors, step } from './helpers.ts';

test('frames captured per class from the camera train the classifier', async ({ page }) => {
  test.setTimeout(150_000);
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('status')).toContainText('Training on the embedded sample', { timeout: 90_000 });
  await page.getByTestId('webcam').click();
  await expect(page.getByTestId('status')).toContainText('Camera on');
  const rows = page.locator('#webcam-classes .row');
  await expect(rows).toHaveCount(2);
  await rows.nth(0).locator('input').fill('left');
  await rows.nth(0).locator('input').dispatchEvent('change');
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < 6; i++) {
      await rows.nth(c).locator('button').click();
      await expect(rows.nth(c).locator('button')).toHaveText(`Capture (${i + 1})`);
      await page.waitForTimeout(80); // the fake camera's pattern moves between frames
    }
  }
  await page.locator('#webcam-train').click();
  const status = page.getByTestId('status');
  // 12 frames: one per class held out, 10 to train on, so the batch of 32 is lowered to 8.
  await expect(status).toContainText('Batch size lowered to 8 for 10 images to train on', { timeout: 60_000 });
  await expect(status).toContainText('Training on the webcam frames (12 images in 2 classes): classifier (2 classes)');
  await expect(page.getByTestId('predictions').locator('figure')).toHaveCount(2);
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId('confusion')).toHaveAttribute('data-step', /^[1-9]\d*$/, { timeout: 60_000 });
  const truth = await page.getByTestId('predictions').locator('figure').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.truth));
  expect(truth.sort()).toEqual(['class 2', 'left']);
  expect(errors).toEqual([]);
});
