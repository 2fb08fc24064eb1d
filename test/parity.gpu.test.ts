// Whole training steps against PyTorch for every layer type and loss beyond the seed model, frozen
// layers and weight decay: from the same init and batch, Kiln must give PyTorch's losses, weights
// (and the update itself), batchnorm running statistics and num_batches_tracked. The fixtures
// (test/fixtures/layers_*.safetensors) come from scripts/make_layer_fixtures.py, which builds each
// model from the same JSON spec with its own PyTorch builder and checks Kiln's `torch()` twins
// against it; here we check Kiln still declares those names and shapes and prints those twins.
// Dropout has no PyTorch counterpart mask, so it is checked by its statistics and determinism.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, type Tensor } from '../src/io/safetensors.ts';
import { buildModel, type Model, type ModelSpec } from '../src/nn/spec.ts';
import { LAYERS } from '../src/layers/index.ts';
import { defaultRange, Trainer, type Dataset } from '../src/train/trainer.ts';
import type { OptimizerConfig } from '../src/graph/autograd.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { gpu, scoped } from './gpu.ts';

const DIR = new URL('./fixtures/', import.meta.url);

interface Run { name: string; optimizer: OptimizerConfig; steps: number }
interface Fixture {
  name: string;
  tensors: Map<string, Tensor>;
  meta: Record<string, string>;
  model: Model;
  batch: number;
  runs: Run[];
  data: Dataset;
  init: Map<string, Float32Array>;
}

function loadFixture(file: string): Fixture {
  const { tensors, metadata: meta } = parseSafetensors(new Uint8Array(readFileSync(new URL(file, DIR))), file);
  const name = file.replace(/^layers_|\.safetensors$/g, '');
  const get = (k: string) => {
    const t = tensors.get(k);
    if (!t) throw new Error(`${file} lacks ${k}`);
    return t.data;
  };
  const model = buildModel(JSON.parse(meta.spec!) as ModelSpec, name);
  const batch = Number(meta.batch);
  const labels = tensors.has('labels') ? Uint8Array.from(get('labels')) : undefined;
  const init = new Map<string, Float32Array>();
  for (const k of tensors.keys()) if (k.startsWith('init.')) init.set(k.slice(5), get(k));
  return {
    name, tensors, meta, model, batch, runs: JSON.parse(meta.runs!) as Run[], init,
    data: { count: batch, pixels: Uint8Array.from(get('images_u8')), labels, source: file },
  };
}

const FIXTURES = readdirSync(DIR).filter((f) => /^layers_.*\.safetensors$/.test(f)).sort().map(loadFixture);

async function train(g: Gpu, f: Fixture, optimizer: OptimizerConfig, steps: number) {
  const losses: number[] = [];
  return scoped(g, async () => {
    const t = new Trainer(g, f.model, f.data, {
      batch: f.batch, optimizer, seed: 0, shuffle: false, init: f.init,
      onLoss: (s, l) => { losses[s - 1] = l; },
    });
    for (let i = 0; i < steps; i++) await t.step({ flush: i === steps - 1 });
    await t.drain();
    const state = await t.params();
    t.destroy();
    return { losses, state };
  });
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && bits(a).every((v, i) => v === bits(b)[i]);

/** Losses within 1e-4 relative; weights within 1e-4 of the largest weight, and the update itself within 2 %. */
function expectLikeTorch(f: Fixture, run: string, got: { losses: number[]; state: Map<string, Float32Array> }) {
  const want = (k: string) => f.tensors.get(k)!.data;
  const wantLosses = want(`${run}.losses`);
  expect(got.losses.length).toBe(wantLosses.length);
  wantLosses.forEach((l, i) => expect(Math.abs(got.losses[i]! - l) / Math.abs(l), `loss ${i + 1}: ${got.losses[i]} vs ${l}`).toBeLessThan(1e-4));
  for (const p of f.model.params) {
    const w = want(`${run}.after.${p.name}`), w0 = want(`init.${p.name}`), v = got.state.get(p.name)!;
    if (!p.trainable) {
      expect(sameBits(w, w0), `${run} ${p.name}: PyTorch changed a frozen tensor`).toBe(true);
      expect(sameBits(v, w0), `${run} ${p.name}: frozen, must be unchanged bit for bit`).toBe(true);
      continue;
    }
    const largest = Math.max(...Array.from(w, Math.abs));
    let worst = 0, update = 0, updateErr = 0;
    for (let i = 0; i < w.length; i++) {
      worst = Math.max(worst, Math.abs(v[i]! - w[i]!));
      update = Math.max(update, Math.abs(w[i]! - w0[i]!));
      updateErr = Math.max(updateErr, Math.abs((v[i]! - w0[i]!) - (w[i]! - w0[i]!)));
    }
    expect(worst, `${run} ${p.name}: max |Δ| ${worst} vs largest weight ${largest}`).toBeLessThanOrEqual(1e-4 * largest);
    // The update is far smaller than the weights: it must match too, or a wrong step could hide.
    expect(updateErr, `${run} ${p.name}: update error ${updateErr} of update ${update}`).toBeLessThanOrEqual(0.02 * update + 1e-7);
  }
  for (const b of f.model.buffers) {
    const w = want(`${run}.after.${b.name}`), v = got.state.get(b.name)!;
    if (b.dtype === 'i64') {
      expect(Array.from(v), `${run} ${b.name}`).toEqual(Array.from(w));
      continue;
    }
    let worst = 0;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(v[i]! - w[i]!) / Math.abs(w[i]!));
    expect(worst, `${run} ${b.name}: worst relative error ${worst}`).toBeLessThanOrEqual(1e-4);
  }
}

describe('PyTorch step parity: every layer type, loss, frozen layers, weight decay', () => {
  it('there is a fixture for every layer type but dropout, and for every loss', () => {
    const types = new Set(FIXTURES.flatMap((f) => f.model.layers.map((L) => L.type)));
    expect(Object.keys(LAYERS).filter((t) => !types.has(t) && t !== 'dropout' && t !== 'selu')).toEqual([]); // selu: the seed model's fixtures
    const losses = new Set(FIXTURES.map((f) => `${f.model.loss}/${f.model.target}`));
    expect([...losses].sort()).toEqual(['bce/input', 'bce/label', 'cross_entropy/label', 'l1/input', 'l1/label', 'mse/input', 'mse/label']);
  });

  for (const f of FIXTURES) {
    it(`${f.name}: Kiln declares the PyTorch builder's state_dict and prints the twins PyTorch checked`, () => {
      const shapes = JSON.parse(f.meta.state_shapes!) as Record<string, number[]>;
      const kiln = Object.fromEntries([...f.model.params, ...f.model.buffers].map((p) => [p.name, p.shape]));
      expect(kiln).toEqual(shapes);
      expect(f.model.layers.map((L) => LAYERS[L.type]!.torch(L))).toEqual(JSON.parse(f.meta.kiln_torch!));
      expect(defaultRange(f.model), 'the data range PyTorch was given').toBe(f.meta.range);
    });
    for (const r of f.runs) {
      it(`${f.name} / ${r.name} (${r.steps} steps): losses, weights, running statistics`, async () => {
        expectLikeTorch(f, r.name, await train(await gpu(), f, r.optimizer, r.steps));
      });
    }
  }
});

// ---- Dropout: statistics, exact scaling and determinism instead of parity ----

/** Deterministic bytes in [1, 255] (never 0, so a zero after dropout is a dropped element). */
function bytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return 1 + (s >>> 24) % 255; });
}

/** Reads a transient tensor after the last step, after checking that nothing later in the step overwrites its slot. */
async function readTransient(t: Trainer, name: string): Promise<Float32Array> {
  const info = t.tg.graph.tensors.find((x) => x.name === name);
  if (!info) throw new Error(`no tensor ${name}`);
  const slot = t.plan.slots[t.plan.slotOf[info.id]!]!;
  expect(slot.tensors.at(-1), `${name} is the last tensor in its slot`).toBe(info.id);
  return (await t.read(info)).slice(0, info.bytes / 4);
}

const P = 0.25;
// Dropout on the input itself: its input is the gathered batch, its output read by the 1×1 conv's
// weight gradient at the end of the step, so both can be read back after it.
const maskSpec = (p: number): ModelSpec => ({ input: [4, 16, 16], layers: [
  { name: 'drop', type: 'dropout', p }, { name: 'mix', type: 'conv2d', out: 4, kernel: 1 }, { name: 'out', type: 'sigmoid' }] });
// Dropout between layers, so its mask is used again by the backward pass.
const CLASSIFIER: ModelSpec = { input: [3, 8, 8], loss: 'cross_entropy', layers: [
  { name: 'conv', type: 'conv2d', out: 8, kernel: 3, padding: 1 }, { name: 'act', type: 'relu' },
  { name: 'pool', type: 'maxpool2d', kernel: 2 }, { name: 'flatten', type: 'flatten' },
  { name: 'drop', type: 'dropout', p: 0.5 }, { name: 'fc', type: 'linear', out: 4 }] };

describe('dropout in a training step', () => {
  it(`zeroes a fraction p = ${P} (within 5σ), scales survivors by exactly 1/(1−p), and draws a new mask each step`, async () => {
    const g = await gpu();
    const data: Dataset = { count: 8, pixels: bytes(8 * 4 * 16 * 16, 1), source: 'synthetic' };
    const options = { batch: 8, optimizer: { kind: 'sgd', options: { lr: 0.01 } } as OptimizerConfig, seed: 3, shuffle: false };
    await scoped(g, async () => {
      // The batch as the gather computes it: with p = 0 there is no dropout pass and the conv reads the input.
      const t0 = new Trainer(g, buildModel(maskSpec(0)), data, options);
      await t0.step({ flush: true });
      await t0.drain();
      const x = await readTransient(t0, 'input');
      t0.destroy();
      expect(x.every((v) => v > 0)).toBe(true);

      const t = new Trainer(g, buildModel(maskSpec(P)), data, options);
      const scale = Math.fround(1 / (1 - P));
      const masks: boolean[][] = [];
      for (let s = 0; s < 3; s++) {
        await t.step({ flush: true });
        await t.drain();
        const y = await readTransient(t, 'drop/out');
        expect(y.length).toBe(x.length);
        const bad = [...y.keys()].filter((i) => y[i] !== 0 && y[i] !== Math.fround(x[i]! * scale));
        expect(bad.slice(0, 5).map((i) => `[${i}] ${x[i]} → ${y[i]}`), `step ${s + 1}: survivors scaled by ${scale}`).toEqual([]);
        masks.push(Array.from(y, (v) => v === 0));
      }
      t.destroy();
      const n = x.length * masks.length;
      const dropped = masks.flat().filter(Boolean).length / n;
      const sigma = Math.sqrt((P * (1 - P)) / n);
      expect(Math.abs(dropped - P), `dropped ${dropped} of ${n}, σ ${sigma}`).toBeLessThanOrEqual(5 * sigma);
      // Steps draw independent masks: two steps agree on about p² + (1−p)² of the elements, not all.
      const agree = masks[0]!.filter((m, i) => m === masks[1]![i]).length / x.length;
      expect(Math.abs(agree - (P * P + (1 - P) * (1 - P)))).toBeLessThan(0.05);
    });
  });

  // 3 batches an epoch: the checkpoint after step 2 falls mid-epoch, and step 4 starts a new shuffle.
  const data: Dataset = { count: 24, pixels: bytes(24 * 3 * 8 * 8, 2), labels: Uint8Array.from({ length: 24 }, (_, i) => i % 4), source: 'synthetic' };
  const model = buildModel(CLASSIFIER, 'dropout classifier');
  const options = (seed: number, shuffle: boolean) => ({
    batch: 8, optimizer: { kind: 'adam', options: { lr: 1e-2 } } as OptimizerConfig, seed, shuffle,
  });
  const init = (() => { const b = bytes(4096, 9); return (n: number, i: number) => Float32Array.from({ length: n }, (_, k) => (b[(i * 131 + k) % 4096]! - 128) / 640); })();
  const initMap = new Map(model.params.map((p, i) => [p.name, init(p.shape.reduce((a, b) => a * b, 1), i)]));

  async function steps(g: Gpu, seed: number, shuffle: boolean, n: number, from?: Uint8Array) {
    const losses: number[] = [];
    const t = new Trainer(g, model, data, { ...options(seed, shuffle), init: initMap, onLoss: (s, l) => { losses[s] = l; } });
    if (from) await t.restore(from);
    for (let i = 0; i < n; i++) await t.step({ flush: i === n - 1 });
    await t.drain();
    const out = { losses, params: await t.params(), checkpoint: await t.checkpoint() };
    t.destroy();
    return out;
  }
  const lossBits = (l: number[]) => Array.from(bits(Float32Array.from(l)));

  it('the same seed gives bit-identical losses over 3 steps; another seed other losses', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const a = await steps(g, 7, false, 3), b = await steps(g, 7, false, 3), c = await steps(g, 8, false, 3);
      expect(a.losses.filter(Number.isFinite).length).toBe(3);
      expect(lossBits(b.losses.slice(1))).toEqual(lossBits(a.losses.slice(1)));
      for (const p of model.params) expect(sameBits(b.params.get(p.name)!, a.params.get(p.name)!), p.name).toBe(true);
      // Same data order and init: only the masks differ, and every step's loss shows it.
      for (let s = 1; s <= 3; s++) expect(c.losses[s], `step ${s}`).not.toBe(a.losses[s]);
    });
  });

  it('2 + 2 steps through a checkpoint equal 4 straight steps bit for bit (the resumed run redraws the masks)', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const straight = await steps(g, 7, true, 4);
      const first = await steps(g, 7, true, 2);
      const resumed = await steps(g, 7, true, 2, first.checkpoint);
      expect(lossBits([...first.losses.slice(1, 3), ...resumed.losses.slice(3, 5)])).toEqual(lossBits(straight.losses.slice(1, 5)));
      for (const p of model.params) expect(sameBits(resumed.params.get(p.name)!, straight.params.get(p.name)!), p.name).toBe(true);
    });
  });
});
