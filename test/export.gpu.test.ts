// Kiln's inference against PyTorch, on the fixtures of scripts/check_torch_export.py: the weights
// Kiln trained and saved, loaded strictly into `kiln export-torch`'s module, gave PyTorch's
// eval-mode outputs on a fixed batch. Kiln's Predictor on the same file and batch must give them
// within 1e-4 + 1e-4·|ref|, and `kiln predict` must print them under its JSON contract: classes,
// names, probabilities, .bin records with labels and an accuracy summary; reconstruction errors
// and reconstructions written as PNG.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { floatsToBytes } from '../src/data/range.ts';
import { SAMPLE_CLASS_NAMES } from '../src/data/sample.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { classifierSpec } from '../src/nn/presets.ts';
import { Predictor } from '../src/train/predict.ts';
import { expectClose, gpu, scoped } from './gpu.ts';

const fixture = (f: string) => new URL(`./fixtures/${f}`, import.meta.url);
const read = (f: string) => parseSafetensors(new Uint8Array(readFileSync(fixture(f))), f).tensors;
const batch = read('export_batch.safetensors');
const images = Uint8Array.from(batch.get('images_u8')!.data);
const labels = Array.from(batch.get('labels')!.data);
const N = labels.length;
const torchOut = (name: string) => read(`export_${name}.safetensors`).get('output')!.data;
const weightsPath = (name: string) => fixture(`export_${name}.weights.safetensors`).pathname;
const models = {
  cae: buildModel(CAE_SPEC, 'cae'),
  classifier: buildModel(classifierSpec(6), 'classifier'),
  layers: buildModel(JSON.parse(readFileSync(fixture('export_layers.json'), 'utf8')), 'export_layers.json'),
};

const dir = mkdtempSync(join(tmpdir(), 'kiln-export-gpu-'));
const env = { ...process.env, KILN_CACHE_DIR: join(dir, 'cache') };
const kiln = (...args: string[]) => {
  const r = spawnSync('node', ['bin/kiln.mjs', ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status, err: r.stderr, lines: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
};

// The batch as files: one PNG per image (lossless, at the model's size: no resizing), and a CIFAR-10 .bin.
const plane = 32 * 32;
const pngs = Array.from({ length: N }, (_, i) => {
  const img = new PNG({ width: 32, height: 32 });
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) img.data[4 * p + c] = images[i * 3 * plane + c * plane + p]!;
    img.data[4 * p + 3] = 255;
  }
  const path = join(dir, `img${i}.png`);
  writeFileSync(path, PNG.sync.write(img));
  return path;
});
const binPath = join(dir, 'batch.bin');
writeFileSync(binPath, Uint8Array.from(labels.flatMap((l, i) => [l, ...images.subarray(i * 3 * plane, (i + 1) * 3 * plane)])));

const softmax = (row: ArrayLike<number>) => {
  const m = Math.max(...Array.from(row));
  const e = Array.from(row, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const argmax = (row: number[]) => row.indexOf(Math.max(...row));
const rows = (x: ArrayLike<number>, n: number) => Array.from({ length: n }, (_, i) => Array.from(x).slice(i * (x.length / n), (i + 1) * (x.length / n)));

describe("Kiln's Predictor vs PyTorch on the exported module", () => {
  for (const name of ['cae', 'classifier', 'layers'] as const) {
    it(`${name}: eval-mode outputs within 1e-4 + 1e-4·|ref|`, async () => {
      const g = await gpu();
      await scoped(g, async () => {
        const p = Predictor.fromWeights(g, models[name], new Uint8Array(readFileSync(weightsPath(name))), { batch: 4, source: name });
        const r = await p.predict(images);
        expectClose(r.outputs, torchOut(name), `${name} outputs`);
        p.dispose();
      });
    });
  }
});

describe('kiln predict (JSON lines)', () => {
  it('classifier: class, name and probabilities per image; a .bin adds index and label and ends with the accuracy', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const r = kiln('predict', '--model', 'classifier', '--weights', weightsPath('classifier'), '--classes', names.join(','), '--probabilities', ...pngs, binPath);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    const want = rows(torchOut('classifier'), N).map(softmax);
    expect(r.lines).toHaveLength(2 * N + 1);
    r.lines.slice(0, 2 * N).forEach((l, j) => {
      const i = j % N;
      expect(Object.keys(l)).toEqual(j < N ? ['file', 'class', 'name', 'probabilities'] : ['file', 'index', 'label', 'class', 'name', 'probabilities']);
      expect(l.file).toBe(j < N ? pngs[i] : binPath);
      if (j >= N) expect([l.index, l.label]).toEqual([i, labels[i]]);
      expect(l.class).toBe(argmax(want[i]!));
      expect(l.name).toBe(names[l.class as number]);
      expectClose(l.probabilities as number[], want[i]!, `probabilities of image ${i}`);
    });
    const accuracy = want.filter((w, i) => argmax(w) === labels[i]).length / N;
    expect(r.lines[2 * N]).toEqual({ summary: true, file: binPath, count: N, accuracy: Number(accuracy.toPrecision(6)) });
  });

  it('a sigmoid-output classifier: the outputs are the probabilities; 6 classes are named as the sample, with a note', () => {
    const r = kiln('predict', '--model', fixture('export_layers.json').pathname, '--weights', weightsPath('layers'), ...pngs.slice(0, 2));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe("kiln: class names assumed to be the embedded sample's (6 classes); give --classes to name them\n");
    const want = rows(torchOut('layers'), N);
    r.lines.forEach((l, i) => {
      expect(l.class).toBe(argmax(want[i]!));
      expect(l.name).toBe(SAMPLE_CLASS_NAMES[l.class as number]);
      expectClose(l.probabilities as number[], want[i]!, `probabilities of image ${i}`);
    });
  });

  it('cae: the reconstruction error per image, and with --out each reconstruction as a PNG; a JPEG is resized', () => {
    const big = new Uint8Array(64 * 64 * 4).map((_, k) => (k % 4 === 3 ? 255 : (k * 7) % 256));
    const jpg = join(dir, 'photo.jpg');
    writeFileSync(jpg, jpeg.encode({ data: big, width: 64, height: 64 }, 90).data);
    const out = join(dir, 'recon');
    const r = kiln('predict', '--model', 'cae', '--weights', weightsPath('cae'), '--out', out, ...pngs, jpg);
    expect(r.code, r.err).toBe(0);
    expect(r.lines).toHaveLength(N + 1);
    const size = 3 * plane;
    const want = torchOut('cae');
    r.lines.slice(0, N).forEach((l, i) => {
      expect(Object.keys(l)).toEqual(['file', 'mse', 'out']);
      let mse = 0;
      for (let k = 0; k < size; k++) mse += (want[i * size + k]! - images[i * size + k]! / 255) ** 2;
      expectClose([l.mse as number], [mse / size], `mse of image ${i}`, 1e-6);
      expect(l.out).toBe(join(out, `img${i}.png`));
      const png = PNG.sync.read(readFileSync(l.out as string));
      expect([png.width, png.height]).toEqual([32, 32]);
      const bytes = floatsToBytes(want.subarray(i * size, (i + 1) * size), '0,1');
      let worst = 0;
      for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(png.data[4 * p + c]! - bytes[c * plane + p]!));
      expect(worst, 'reconstruction bytes vs PyTorch').toBeLessThanOrEqual(1);
    });
    const last = r.lines[N]!;
    expect(last.file).toBe(jpg);
    expect(last.mse).toBeGreaterThan(0);
    expect(PNG.sync.read(readFileSync(join(out, 'photo.png'))).width).toBe(32);
  });
});
