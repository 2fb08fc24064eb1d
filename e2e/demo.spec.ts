// The demo end to end on the dev server, one page shared by the tests in order (compiling the
// pipelines and training 30 steps on SwiftShader takes about a minute, so it is done once).
import { expect, test, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { CAE_PARAMS, cifarRecords, collectErrors, loss, noisyPng, safetensors, safetensorsHeader, step, tarGz } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let page: Page;
let errors: string[];
let loadedAt = 0;
let firstLoss = NaN;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, acceptDownloads: true });
  errors = collectErrors(page);
});

test.afterAll(async () => {
  await page?.close();
});

test('starts training by itself on the SwiftShader adapter', async () => {
  loadedAt = Date.now();
  await page.goto('/');
  // Headless Chromium without a GPU: WebGPU runs on SwiftShader.
  const arch = await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.info.architecture);
  expect(arch).toBe('swiftshader');
  await expect(page.getByTestId('adapter')).toContainText('swiftshader', { timeout: 60_000 });
  // The first loss, caught while it is the only one.
  await expect.poll(() => loss(page), { timeout: 90_000, intervals: [100] }).not.toBeNaN();
  firstLoss = await loss(page);
  expect(await step(page)).toBeGreaterThan(0);
  await expect(page.getByTestId('pause')).toHaveText('Pause');
});

test('within 2 minutes the step passes 30 and the loss falls below its first value', async () => {
  const left = 120_000 - (Date.now() - loadedAt);
  await expect.poll(async () => (await step(page)) > 30 && (await loss(page)) < firstLoss, { timeout: left, intervals: [1000] }).toBe(true);
  const ips = parseFloat((await page.getByTestId('images-per-s').textContent()) ?? '');
  expect(ips).toBeGreaterThan(0);
  test.info().annotations.push({ type: 'images/s', description: String(ips) },
    { type: 'loss', description: `${firstLoss} -> ${await loss(page)} at step ${await step(page)}` });
});

test('the reconstructions canvas is not blank', async () => {
  const canvas = page.getByTestId('reconstructions');
  await expect(canvas).toHaveAttribute('data-step', /^[1-9]\d*$/);
  // Read the reconstruction half of each pair back (layout from demo/view.ts: 4×4 pairs of 32×32
  // images, 2 px inside a pair, 8 px between pairs).
  const stats = await canvas.evaluate((el: HTMLCanvasElement) => {
    const ctx = el.getContext('2d')!;
    let min = 255, max = 0, opaque = 0, placeholder = 0, n = 0;
    for (let i = 0; i < 16; i++) {
      const x = (i % 4) * 74 + 34, y = Math.floor(i / 4) * 40;
      const d = ctx.getImageData(x, y, 32, 32).data;
      for (let p = 0; p < d.length; p += 4) {
        n++;
        if (d[p + 3] === 255) opaque++;
        if (d[p] === 212 && d[p + 1] === 212 && d[p + 2] === 216) placeholder++;
        for (let c = 0; c < 3; c++) { min = Math.min(min, d[p + c]!); max = Math.max(max, d[p + c]!); }
      }
    }
    return { min, max, opaque, placeholder, n };
  });
  expect(stats.opaque).toBe(stats.n);
  expect(stats.placeholder).toBeLessThan(stats.n / 100);
  expect(stats.max - stats.min).toBeGreaterThan(16);
  await test.info().attach('page.png', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
  await page.screenshot({ path: test.info().outputPath('page.png'), fullPage: true });
});

test('a truncated .bin shows an error in status and training continues', async () => {
  const before = await step(page);
  await page.getByTestId('data-file').setInputFiles({ name: 'truncated.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(3073 * 2 + 5, 1) });
  await expect(page.getByTestId('status')).toContainText('truncated.bin');
  await expect(page.getByTestId('status')).toContainText('not a whole number of 3073-byte CIFAR-10 records');
  await expect(page.getByTestId('status')).toContainText('Training continues');
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThan(before + 2);
});

test('a CIFAR-10 archive or batch file restarts training on it', async () => {
  const status = page.getByTestId('status');
  const archive = tarGz([
    ['cifar-10-batches-bin/batches.meta.txt', Buffer.from('airplane\n')],
    ['cifar-10-batches-bin/data_batch_1.bin', cifarRecords(96, 1)],
    ['cifar-10-batches-bin/test_batch.bin', cifarRecords(16, 2)],
  ]);
  await page.getByTestId('data-file').setInputFiles({ name: 'cifar-10-binary.tar.gz', mimeType: 'application/gzip', buffer: archive });
  await expect(status).toContainText('Training on the cifar-10-binary.tar.gz (96 images, 16 held out)');
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(3); // 3 steps make an epoch
  await page.getByTestId('data-file').setInputFiles({ name: 'data_batch_2.bin', mimeType: 'application/octet-stream', buffer: cifarRecords(64, 3) });
  await expect(status).toContainText('Training on the data_batch_2.bin (64 images)');
  await page.locator('#use-sample').click();
  await expect(status).toContainText('Training on the embedded sample (2,880 images)');
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
});

test('weights with a wrong shape are refused', async () => {
  const wrong = CAE_PARAMS.map(([n, s]): [string, number[]] => [n, n === 'conv2.0.weight' ? [32, 16, 5, 5] : s]);
  await page.getByTestId('weights-file').setInputFiles({ name: 'wrong.safetensors', mimeType: 'application/octet-stream', buffer: safetensors(wrong) });
  const status = page.getByTestId('status');
  await expect(status).toContainText('Weights refused');
  await expect(status).toContainText('conv2.0.weight has shape [32, 16, 5, 5], the model needs [32, 16, 3, 3]');
  // A missing tensor is named too.
  await page.getByTestId('weights-file').setInputFiles({ name: 'short.safetensors', mimeType: 'application/octet-stream', buffer: safetensors(CAE_PARAMS.slice(0, 6)) });
  await expect(status).toContainText('missing transconv2.0.weight [16, 3, 2, 2]');
  const before = await step(page);
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThan(before);
});

test('saved weights have PyTorch names and shapes and load back', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#save').click()]);
  expect(download.suggestedFilename()).toMatch(/^kiln-cae-step\d+\.safetensors$/);
  const path = test.info().outputPath(download.suggestedFilename());
  await download.saveAs(path);
  const bytes = await readFile(path);
  const header = safetensorsHeader(bytes);
  expect(Object.fromEntries(Object.entries(header).map(([k, v]) => [k, v.shape]))).toEqual(Object.fromEntries(CAE_PARAMS));
  expect(new Set(Object.values(header).map((v) => v.dtype))).toEqual(new Set(['F32']));
  await page.getByTestId('weights-file').setInputFiles(path);
  await expect(page.getByTestId('status')).toContainText(`Loaded weights from ${download.suggestedFilename()}`);
});

test('a downloaded checkpoint uploads back and training continues from its step', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-checkpoint').click()]);
  expect(download.suggestedFilename()).toMatch(/^kiln-autoencoder-step\d+\.ckpt$/);
  const at = Number(/step(\d+)/.exec(download.suggestedFilename())![1]);
  const path = test.info().outputPath(download.suggestedFilename());
  await download.saveAs(path);
  await page.getByTestId('checkpoint-file').setInputFiles(path);
  await expect(page.getByTestId('status')).toContainText(`Restored ${download.suggestedFilename()}. Continuing from step ${at}.`, { timeout: 60_000 });
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThan(at);
  // A checkpoint of another model is refused by name, and training goes on.
  await page.getByTestId('checkpoint-file').setInputFiles({ name: 'other.ckpt', mimeType: 'application/octet-stream', buffer: safetensors(CAE_PARAMS) });
  await expect(page.getByTestId('status')).toContainText('Checkpoint other.ckpt refused');
  await expect(page.getByTestId('status')).toContainText('not a Kiln checkpoint');
  await expect(page.getByTestId('status')).toContainText('Training continues on the embedded sample');
});

test('an image of the user\'s own is reconstructed by the autoencoder in training', async () => {
  await page.getByTestId('infer-file').setInputFiles({ name: 'mine.png', mimeType: 'image/png', buffer: noisyPng([90, 140, 200], 64, 48, 3) });
  await expect(page.getByTestId('inference').locator('figure')).toHaveCount(2); // the input as the model sees it, and its reconstruction
  await expect(page.getByTestId('status')).toContainText('mine.png: reconstructed by the autoencoder in training');
});

test('pause stops the step counter and resume continues it', async () => {
  const pause = page.getByTestId('pause');
  await pause.click();
  await expect(page.getByTestId('status')).toContainText('Paused at step', { timeout: 60_000 });
  await expect(pause).toHaveText('Resume');
  const paused = await step(page);
  await page.waitForTimeout(5000);
  expect(await step(page)).toBe(paused);
  await pause.click();
  await expect(pause).toHaveText('Pause');
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThan(paused);
});

test('a learning-rate change applies from the next step, keeping the weights (no restart)', async () => {
  const before = await step(page);
  await page.selectOption('#lr', '0.003');
  await expect(page.getByTestId('status')).toContainText('Learning rate 3e-3 from step');
  await expect(page.getByTestId('status')).toContainText("the weights and Adam's state are kept");
  expect(await step(page)).toBeGreaterThanOrEqual(before); // the step count goes on: nothing was rebuilt
  const lr = () => page.evaluate(() => (globalThis as unknown as { kiln: { session: { progress?: { lr: number } } } }).kiln.session.progress?.lr);
  await expect.poll(lr).toBe(0.003);
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThan(before + 1);
  await page.selectOption('#lr', '0.001');
  await expect.poll(lr).toBe(0.001);
});

test('a lost device shows a message, and Resume rebuilds it and continues', async () => {
  test.setTimeout(240_000);
  const before = await step(page);
  // The device lives in the training worker; the page exposes its client as `kiln.worker` for the
  // console, and loseDevice() destroys the worker's device as a driver reset would.
  await page.evaluate(() => (globalThis as unknown as { kiln: { worker: { loseDevice(): Promise<void> } } }).kiln.worker.loseDevice());
  const status = page.getByTestId('status');
  await expect(status).toContainText('The GPU device was lost');
  await expect(status).toContainText('Resume rebuilds it and continues from step');
  const from = Number(/continues from step (\d+)/.exec((await status.textContent()) ?? '')?.[1]);
  expect(from).toBeGreaterThan(0);
  // The kept checkpoint is one the GPU finished: never past the last step shown when the device went
  // (the page learns of finished steps from the worker a moment late, so compare with then, not before).
  const lost = await step(page);
  expect(lost).toBeGreaterThanOrEqual(before);
  expect(from).toBeLessThanOrEqual(lost);
  const resume = page.getByTestId('pause');
  await expect(resume).toHaveText('Resume');
  await resume.click();
  // A new device recompiles every pipeline, which is slow on SwiftShader when the machine is busy.
  await expect(status).toContainText('Training on', { timeout: 120_000 });
  await expect.poll(() => step(page), { timeout: 150_000 }).toBeGreaterThan(from);
});

test('a mismatched output pairing is explained, and a setting change restarts training', async () => {
  const warning = page.getByTestId('range-warning');
  await expect(warning).toBeHidden();
  await page.selectOption('#pairing', 'sigmoid-11');
  await expect(warning).toBeVisible();
  await expect(warning).toContainText('Sigmoid');
  await expect(warning).toContainText('[0, 1]');
  await page.selectOption('#pairing', 'tanh-11');
  await expect(warning).toBeHidden();
  await expect(page.getByTestId('status')).toContainText('Tanh, data in [−1, 1]');
  await expect.poll(() => step(page), { timeout: 30_000 }).toBeLessThan(5); // a fresh run
  await expect.poll(() => step(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
});

test('no console errors along the way', async () => {
  await page.screenshot({ path: test.info().outputPath('end.png'), fullPage: true });
  await expect(page.getByTestId('status')).not.toContainText('GPU error');
  expect(errors).toEqual([]);
});
