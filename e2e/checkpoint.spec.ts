// Checkpoints in the browser's Origin Private File System, on the dev server, one page in order:
// a pause writes one, a reload offers to continue from it and does; a corrupt stored file is
// explained and training starts fresh; a quota error while saving is explained and training goes on.
import { expect, test, type Page } from '@playwright/test';
import { collectErrors, step } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let page: Page;
let errors: string[];

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  errors = collectErrors(page);
});

test.afterAll(async () => {
  await page?.close();
});

/** Size of a file under kiln-demo/ in this origin's private file system (-1 when absent). */
const stored = (p: Page, name: string) => p.evaluate(async (n) => {
  try {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kiln-demo');
    return (await (await dir.getFileHandle(n)).getFile()).size;
  } catch {
    return -1;
  }
}, name);

test('a pause writes a checkpoint to OPFS, and after a reload the page offers to continue from it', async () => {
  test.setTimeout(150_000);
  await page.goto('/');
  await expect.poll(() => step(page), { timeout: 90_000 }).toBeGreaterThanOrEqual(3);
  await page.getByTestId('pause').click();
  await expect(page.getByTestId('status')).toContainText('Paused at step', { timeout: 60_000 });
  const paused = await step(page);
  await expect(page.getByTestId('checkpoint-status')).toContainText(`Checkpoint kept in this browser at step ${paused}`);
  expect(await stored(page, 'checkpoint.ckpt')).toBeGreaterThan(7347 * 4 * 3); // weights and Adam's m and v
  expect(await stored(page, 'checkpoint.json')).toBeGreaterThan(0);

  await page.reload();
  const offer = page.getByTestId('resume-offer');
  await expect(offer).toBeVisible({ timeout: 60_000 });
  await expect(offer).toContainText(`A checkpoint from step ${paused} (autoencoder, embedded sample (2,880 images)`);
  expect(await step(page)).toBe(0); // nothing trains until the user chooses
  await page.getByTestId('continue').click();
  await expect(page.getByTestId('status')).toContainText(`Continuing from step ${paused}. Training on the embedded sample`, { timeout: 60_000 });
  await expect(offer).toBeHidden();
  await expect.poll(() => step(page), { timeout: 90_000 }).toBeGreaterThan(paused);
  expect(errors).toEqual([]);
});

test('a corrupt stored checkpoint is explained, and training starts from fresh weights', async () => {
  test.setTimeout(120_000);
  // Same size, wrong bytes: it passes the size check and fails when the worker parses it.
  await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kiln-demo');
    const h = await dir.getFileHandle('checkpoint.ckpt');
    const size = (await h.getFile()).size;
    const w = await h.createWritable();
    await w.write(new Uint8Array(size).fill(7));
    await w.close();
  });
  await page.reload();
  await expect(page.getByTestId('resume-offer')).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('continue').click();
  const status = page.getByTestId('status');
  await expect(status).toContainText('The stored checkpoint could not be restored', { timeout: 60_000 });
  await expect(status).toContainText('Training starts from fresh weights instead', { timeout: 60_000 });
  await expect.poll(() => step(page), { timeout: 90_000 }).toBeGreaterThanOrEqual(2);
});

test('a quota error while saving a checkpoint is explained, and training goes on', async () => {
  test.setTimeout(120_000);
  await page.evaluate(() => {
    FileSystemFileHandle.prototype.createWritable = () => Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
  });
  await page.getByTestId('pause').click();
  await expect(page.getByTestId('status')).toContainText('Paused at step', { timeout: 60_000 });
  const note = page.getByTestId('checkpoint-status');
  await expect(note).toContainText('storage quota is used up');
  await expect(note).toContainText('Training goes on');
  const paused = await step(page);
  await page.getByTestId('pause').click();
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThan(paused);
  expect(errors).toEqual([]);
});
