// Shared bits of the browser tests: console-error collection, reading the page's numbers, a
// hand-written safetensors encoder (u64 LE header length, JSON header, raw little-endian data), and
// generated image folders (noisy solid-colour PNGs per class).
import type { Page } from '@playwright/test';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';

/** Collects console errors and uncaught page errors from now on. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

export async function step(page: Page): Promise<number> {
  return Number(await page.getByTestId('step').textContent());
}

/** The latest loss shown, or NaN while there is none. */
export async function loss(page: Page): Promise<number> {
  return parseFloat((await page.getByTestId('loss').textContent()) ?? '');
}

/** The seed model's parameters: PyTorch names and shapes. */
export const CAE_PARAMS: [string, number[]][] = [
  ['conv1.0.weight', [16, 3, 3, 3]], ['conv1.0.bias', [16]],
  ['conv2.0.weight', [32, 16, 3, 3]], ['conv2.0.bias', [32]],
  ['transconv1.0.weight', [32, 16, 2, 2]], ['transconv1.0.bias', [16]],
  ['transconv2.0.weight', [16, 3, 2, 2]], ['transconv2.0.bias', [3]],
];

/** A float32 safetensors file holding `tensors` (filled with small values). */
export function safetensors(tensors: [string, number[]][]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let at = 0;
  for (const [name, shape] of tensors) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = Buffer.alloc(8 + json.length + at);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  out.write(json, 8, 'utf8');
  for (let i = 0; i < at / 4; i++) out.writeFloatLE(0.01 * Math.sin(i), 8 + json.length + 4 * i);
  return out;
}

/** The tensor names and shapes in a safetensors file's header. */
export function safetensorsHeader(bytes: Buffer): Record<string, { dtype: string; shape: number[] }> {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[] }>;
  delete header.__metadata__;
  return header;
}

/** `count` CIFAR-10 records (label byte + 3,072 pixel bytes) of smooth random colour ramps. */
export function cifarRecords(count: number, seed = 1): Buffer {
  const out = Buffer.alloc(count * 3073);
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < count; i++) {
    const at = i * 3073;
    out[at] = i % 10;
    for (let c = 0; c < 3; c++) {
      const a = rand() * 255, dx = rand() * 4 - 2, dy = rand() * 4 - 2;
      for (let p = 0; p < 1024; p++) out[at + 1 + c * 1024 + p] = Math.max(0, Math.min(255, a + dx * (p % 32) + dy * (p >> 5)));
    }
  }
  return out;
}

/** A gzip-compressed ustar archive of the given files (what `tar czf` writes, minus owners). */
export function tarGz(files: [string, Buffer][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, data] of files) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
    h.write('        ', 148); // checksum field counts as spaces
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    const sum = h.reduce((a, b) => a + b, 0);
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A PNG of `w`×`h` pixels: `rgb` plus uniform noise of ±`noise` per channel (seeded), as bytes. */
export function noisyPng(rgb: [number, number, number], w: number, h: number, seed: number, noise = 40): Buffer {
  const png = new PNG({ width: w, height: h });
  let s = seed >>> 0 || 1;
  const rand = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) png.data[4 * p + c] = Math.max(0, Math.min(255, Math.round(rgb[c]! + (rand() * 2 - 1) * noise)));
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png);
}

/**
 * Writes an ImageFolder tree under `root`: one subfolder per class holding `count` noisy PNGs of its
 * colour (sizes vary, so the page has to resize), plus any `extra` files (path → bytes).
 */
export async function imageFolder(root: string, classes: { name: string; rgb: [number, number, number]; count: number }[],
  extra: [string, Buffer][] = []): Promise<void> {
  for (const [k, c] of classes.entries()) {
    await mkdir(join(root, c.name), { recursive: true });
    for (let i = 0; i < c.count; i++) {
      await writeFile(join(root, c.name, `${c.name}_${String(i).padStart(3, '0')}.png`), noisyPng(c.rgb, 32 + (i % 5) * 8, 32 + (i % 3) * 12, 1000 * k + i + 1));
    }
  }
  for (const [path, bytes] of extra) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), bytes);
  }
}

/** Parses a percentage shown on the page ("87.5%"), NaN when none is shown yet. */
export async function percent(page: Page, testId: string): Promise<number> {
  return parseFloat((await page.getByTestId(testId).textContent()) ?? '');
}
