// The whole planned training step against PyTorch: the same init weights and batch give the same
// losses and the same weights after 1 SGD step, 3 SGD-momentum steps and 3 Adam steps.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { Trainer } from '../src/train/trainer.ts';
import type { OptimizerConfig } from '../src/graph/autograd.ts';
import { gpu, scoped } from './gpu.ts';
import { adapterFacts, kernelsHash, memoryCache } from '../src/tune/cache.ts';
import { TUNED_SHADERS } from '../src/ops/conv_passes.ts';
import { tune } from '../src/tune/tuner.ts';
import { buildTrainingGraph } from '../src/graph/autograd.ts';

const load = (f: string) => parseSafetensors(new Uint8Array(readFileSync(new URL(`./fixtures/${f}`, import.meta.url))), f).tensors;
const fb = load('cae_forward_backward.safetensors');
const tr = load('cae_train.safetensors');
const images = fb.get('images_u8')!;
const pixels = Uint8Array.from(images.data);
const model = buildModel(CAE_SPEC, 'cae');
const init = new Map(model.params.map((p) => [p.name, tr.get(`init.${p.name}`)!.data]));

/** `tuned`: the kernel variants the tuner picks on this adapter, instead of the defaults. */
async function train(optimizer: OptimizerConfig, steps: number, tuned = false) {
  const g = await gpu();
  const losses: number[] = [];
  const data = { count: 8, pixels, source: 'fixture' };
  return scoped(g, async () => {
    const options = { batch: 8, optimizer, seed: 0, shuffle: false, init, onLoss: (s: number, l: number) => { losses[s - 1] = l; } };
    const before = g.liveBytes();
    const t = tuned ? await Trainer.create(g, model, data, { ...options, tune: 'cached', tuneCache: cache, tuneBudgetMs: 60_000, upgrade: 'eager' })
      : new Trainer(g, model, data, options);
    if (tuned) expect(t.tuning.filter((e) => e.chosen !== 'direct').length, 'the tuner picked some non-default kernels').toBeGreaterThan(0);
    for (let i = 0; i < steps; i++) await t.step({ flush: i === steps - 1 });
    await t.drain();
    const params = await t.params();
    t.destroy();
    // Tuning and training free what they made (every candidate's buffers, uniforms included); only
    // the device's shared 16-byte stand-ins (placeholder, loss sink, the guard's write placeholders) may stay.
    expect(g.liveBytes() - before, 'GPU bytes left after tuning, training and destroy()').toBeLessThanOrEqual(64);
    return { losses, params };
  });
}

function expectLikeTorch(prefix: string, got: { losses: number[]; params: Map<string, Float32Array> }) {
  const want = tr.get(`${prefix}.losses`)!.data;
  expect(got.losses.length).toBe(want.length);
  want.forEach((l, i) => expect(Math.abs(got.losses[i]! - l) / l, `loss ${i + 1}: ${got.losses[i]} vs ${l}`).toBeLessThan(1e-4));
  for (const p of model.params) {
    const w = tr.get(`${prefix}.after.${p.name}`)!.data;
    const w0 = tr.get(`init.${p.name}`)!.data;
    const v = got.params.get(p.name)!;
    const largest = Math.max(...Array.from(w, Math.abs));
    let worst = 0, update = 0, updateErr = 0;
    for (let i = 0; i < w.length; i++) {
      worst = Math.max(worst, Math.abs(v[i]! - w[i]!));
      update = Math.max(update, Math.abs(w[i]! - w0[i]!));
      updateErr = Math.max(updateErr, Math.abs((v[i]! - w0[i]!) - (w[i]! - w0[i]!)));
    }
    expect(worst, `${prefix} ${p.name}: max |Δ| ${worst} vs largest weight ${largest}`).toBeLessThanOrEqual(1e-4 * largest);
    // The update itself (far smaller than the weights) must match too, or a wrong step could hide.
    expect(updateErr, `${prefix} ${p.name}: update error ${updateErr} of update ${update}`).toBeLessThanOrEqual(0.02 * update + 1e-7);
  }
}

// One tuning cache for the file: the three runs share their shapes, so only the first measures.
const cache = memoryCache();

for (const tuned of [false, true]) {
  describe(`training steps equal PyTorch from the same start (${tuned ? 'tuned kernels' : 'default kernels'})`, () => {
    it('1 SGD step (lr 0.01)', async () => {
      expectLikeTorch('sgd', await train({ kind: 'sgd', options: { lr: 0.01 } }, 1, tuned));
    });
    it('3 SGD steps with momentum 0.9', async () => {
      expectLikeTorch('sgdm', await train({ kind: 'sgd', options: { lr: 0.01, momentum: 0.9 } }, 3, tuned));
    });
    it('3 Adam steps (lr 1e-3, PyTorch defaults)', async () => {
      expectLikeTorch('adam', await train({ kind: 'adam', options: { lr: 1e-3 } }, 3, tuned));
    });
  });
}

describe('building the step', () => {
  // The kernels compile during the first step (node by node, each node's work submitted before the
  // next compiles), but what building would reject is rejected by the constructor, before GPU work.
  for (const upgrade of ['eager', 'background'] as const) {
    it(`a chosen kernel that cannot run on a node is an error naming the node, from the constructor (upgrade '${upgrade}')`, async () => {
      const g = await gpu();
      const choose = (n: { pass: string }) => (n.pass === 'conv.forward' ? 'row3-r16-pool' : undefined);
      const make = () => new Trainer(g, model, { count: 8, pixels, source: 'fixture' }, { batch: 8, optimizer: { kind: 'sgd', options: { lr: 0.01 } }, choose, upgrade });
      // The decoder's input gradients are conv.forward without a pool: the pooling kernel declines them.
      expect(make).toThrow(/transconv2\.0\/backward\/dx.*row3-r16-pool of conv\.forward cannot run here: pools as it stores/);
    });
  }
});

describe('tuning cache key', () => {
  it('a spent tuning budget: the pass already started times its default and first two candidates, later ones keep the default, no further round starts', async () => {
    const g = await gpu();
    const graph = buildTrainingGraph(model, { batch: 8, records: 8, range: '0,1', optimizer: { kind: 'adam', options: { lr: 1e-3 } }, lossRing: 8 }).graph;
    // No cache, so nothing is awaited before the first pass starts (well inside 5 ms), and that
    // pass (conv2.0's forward, ~20 ms for its default alone here) outlasts the budget.
    const r = await scoped(g, () => tune(g, [graph], { mode: 'full', budgetMs: 5 }));
    const [first, ...rest] = r.entries;
    expect(first!.source).toBe('measured');
    const timed = Object.entries(first!.times).filter(([, t]) => typeof t === 'number').map(([n]) => n);
    // The reference every other candidate is checked against, then the first two in the pass's
    // order (the pooling row kernel and the plain one it is weighed against).
    expect(timed).toEqual(['direct', 'row3-r16-pool', 'row3-r16']);
    expect(first!.times['row3-r32']).toBe('not timed: tuning budget spent'); // round 2, cut
    expect(first!.times['tiled-64x32']).toBe('not timed: tuning budget spent'); // the other adapter kind's round
    expect(rest.every((e) => e.source === 'default' && e.chosen === 'direct')).toBe(true);
  });

  it("covers the tuned kernels' text: any change to one retimes instead of reusing old choices", async () => {
    const g = await gpu();
    const facts = adapterFacts(g);
    expect(facts.kernels).toMatch(/^[0-9a-f]{8}$/);
    expect(facts.kernels).toBe(kernelsHash());
    expect(kernelsHash([...TUNED_SHADERS].reverse())).toBe(kernelsHash()); // order-free
    const edited = TUNED_SHADERS.map((sh, i) => (i === 3 ? { ...sh, code: `${sh.code} ` } : sh));
    expect(kernelsHash(edited)).not.toBe(kernelsHash());
    expect(new Set(TUNED_SHADERS.map((sh) => sh.name)).size).toBe(TUNED_SHADERS.length);
  });
});

describe('reconstructions', () => {
  it('a forward-only plan on the trainer\'s live weights gives PyTorch\'s output (as bytes)', async () => {
    const g = await gpu();
    const { Predictor } = await import('../src/train/predict.ts');
    await scoped(g, async () => {
      const t = new Trainer(g, model, { count: 8, pixels, source: 'fixture' },
        { batch: 8, optimizer: { kind: 'sgd', options: { lr: 0.01 } }, seed: 0, shuffle: false, init });
      const r = Predictor.fromTrainer(t, { batch: 8 });
      const before = (await r.predict(pixels)).images!;
      const want = fb.get('output')!.data;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(before[i]! - 255 * want[i]!));
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-3);
      // After a step it reads the new weights, not a copy made at construction.
      await t.step({ flush: true });
      const after = (await r.predict(pixels)).images!;
      expect(after.some((v, i) => v !== before[i])).toBe(true);
      r.dispose();
      t.destroy();
    });
  });
});
