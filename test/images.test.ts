// Your own images: decoding (pngjs, jpeg-js, by magic bytes), area-average resizing into the model's
// CHW layout, image folders (one subfolder per class, sorted as torchvision's ImageFolder) with
// undecodable files skipped and counted and an empty class refused by name, and the CLI training on
// such a folder.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { ConfigError } from '../src/errors.ts';
import { toChw } from '../src/data/images.ts';
import { decodeImage, loadImageFolder } from '../src/data/images_node.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-images-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function png(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [r, g, b] = f(x, y);
    p.data.set([r, g, b, 255], 4 * (y * w + x));
  }
  return PNG.sync.write(p);
}

function jpg(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], 4 * i);
  return jpeg.encode({ data, width: w, height: h }, 95).data;
}

describe('decoding and resizing', () => {
  it('decodes PNG and JPEG by their magic bytes, not their names, and refuses anything else', () => {
    const a = decodeImage(new Uint8Array(png(3, 2, (x, y) => [x * 100, y * 200, 7])), 'a.jpg');
    expect([a.width, a.height]).toEqual([3, 2]);
    expect([...a.data.subarray(4 * 5, 4 * 5 + 4)]).toEqual([200, 200, 7, 255]);
    const b = decodeImage(new Uint8Array(jpg(8, 8, [250, 10, 10])), 'b.png');
    expect(b.data[0]).toBeGreaterThan(240);
    expect(() => decodeImage(new TextEncoder().encode('not an image'), 'c.png')).toThrow(/c\.png: not a PNG or JPEG file/);
    const broken = png(4, 4, () => [1, 2, 3]).subarray(0, 40);
    expect(() => decodeImage(new Uint8Array(broken), 'd.png')).toThrow(ConfigError);
  });

  it('area-averages into CHW: every source pixel weighs by how much of it falls in each target pixel', () => {
    // 4×2 → 2×1: each target pixel is the mean of a 2×2 block.
    const img = { width: 4, height: 2, data: new Uint8Array(4 * 8) };
    const vals = [0, 10, 20, 30, 40, 50, 60, 70];
    vals.forEach((v, i) => img.data.set([v, 255 - v, 100, 255], 4 * i));
    const out = toChw(img, 3, 1, 2);
    expect([...out]).toEqual([25, 45, 230, 210, 100, 100]); // R plane, G plane, B plane
    // Upscaling repeats pixels; grey is ITU-R BT.601 luma.
    expect([...toChw({ width: 1, height: 1, data: Uint8Array.of(255, 0, 0, 255) }, 1, 2, 2)]).toEqual([76, 76, 76, 76]);
    expect(() => toChw(img, 2, 4, 4, 'x.png')).toThrow(/x\.png: a model input of 2 channels cannot take images/);
  });
});

describe('image folders', () => {
  const root = join(dir, 'photos');
  const colours: Record<string, [number, number, number]> = { blue: [20, 40, 230], green: [30, 220, 40], red: [230, 30, 20] };
  for (const [name, rgb] of Object.entries(colours)) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < 6; i++) {
      const noise = (x: number, y: number) => ((x * 7 + y * 13 + i * 31) % 23) - 11;
      writeFileSync(join(root, name, `${i}.png`), png(40, 30, (x, y) => rgb.map((c) => Math.max(0, Math.min(255, c + noise(x, y)))) as [number, number, number]));
    }
    writeFileSync(join(root, name, 'extra.jpg'), jpg(16, 16, rgb));
  }
  writeFileSync(join(root, 'red', 'broken.png'), 'not a png');
  writeFileSync(join(root, 'notes.txt'), 'ignored: not a folder');

  it('loads one class per subfolder in sorted order, resized to the input, skipping undecodable files with a count', () => {
    const set = loadImageFolder(root, [3, 32, 32]);
    expect(set.classNames).toEqual(['blue', 'green', 'red']);
    expect(set.count).toBe(21);
    expect(set.skipped).toBe(1);
    expect(set.skippedFiles[0]).toMatch(/red\/broken\.png$/);
    expect([...set.labels.subarray(0, 7)]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(set.pixels.length).toBe(21 * 3072);
    // A blue image's blue plane is bright, its red plane dark.
    expect(set.pixels[2048]).toBeGreaterThan(200);
    expect(set.pixels[0]).toBeLessThan(60);
  });

  it('refuses a class whose images all fail to decode, by name', () => {
    const bad = join(dir, 'bad');
    mkdirSync(join(bad, 'cats'), { recursive: true });
    mkdirSync(join(bad, 'dogs'), { recursive: true });
    writeFileSync(join(bad, 'cats', 'a.png'), png(8, 8, () => [1, 1, 1]));
    writeFileSync(join(bad, 'dogs', 'a.png'), 'garbage');
    expect(() => loadImageFolder(bad, [3, 32, 32])).toThrow(/bad: class "dogs" has no images that could be decoded/);
  });

  it('kiln train takes the folder as --data and kiln predict labels a new image with its class name', () => {
    const env = { ...process.env, KILN_CACHE_DIR: join(dir, 'cache') };
    const spec = join(dir, 'small.json');
    writeFileSync(spec, JSON.stringify({ input: [3, 32, 32], loss: 'cross_entropy', layers: [
      { type: 'avgpool2d', kernel: 8 }, { type: 'flatten' }, { name: 'fc', type: 'linear', out: 3 }] }));
    const weights = join(dir, 'w.safetensors');
    const t = spawnSync('node', ['bin/kiln.mjs', 'train', '--model', spec, '--data', root, '--epochs', '12', '--batch', '7', '--lr', '0.05',
      '--save', weights, '--json', '--tune', 'off'], { encoding: 'utf8', env, timeout: 300_000 });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/photos: skipped 1 file that could not be decoded/);
    const lines = t.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1).summary).toBe(true);
    expect(lines.filter((l) => l.step).length).toBe(36);
    const img = join(dir, 'query.png');
    writeFileSync(img, png(64, 64, () => [25, 215, 45]));
    const p = spawnSync('node', ['bin/kiln.mjs', 'predict', '--model', spec, '--weights', weights, '--classes', 'blue,green,red', img],
      { encoding: 'utf8', env, timeout: 120_000 });
    expect(p.status, p.stderr).toBe(0);
    const r = JSON.parse(p.stdout.trim().split('\n')[0]!);
    expect(r.name).toBe('green');
    expect(r.probabilities.length).toBe(3);
  }, 300_000);
});
