// The training loop on the GPU: resuming from a checkpoint continues bit-for-bit, GPU objects do not
// leak across steps, losses arrive for every step without the loop waiting, and the profiler's
// trace names every layer.
import { describe, expect, it } from 'vitest';
import { loadEmbeddedSample } from '../src/data/load_node.ts';
import { parseCheckpoint, serializeCheckpoint } from '../src/io/weights.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { Trainer, type TrainerOptions } from '../src/train/trainer.ts';
import { gpu, scoped } from './gpu.ts';

const model = buildModel(CAE_SPEC, 'cae');
const sample = await loadEmbeddedSample();
// 20 records, batch 4: 5 steps per epoch, so 6 + 6 steps cross two epoch boundaries (new shuffles).
const small = { count: 20, pixels: sample.pixels.subarray(0, 20 * 3072), source: 'sample[0:20]' };
const opts = (onLoss?: TrainerOptions['onLoss']): TrainerOptions =>
  ({ batch: 4, optimizer: { kind: 'adam', options: { lr: 1e-3 } }, seed: 5, shuffle: true, onLoss });

async function run(t: Trainer, steps: number) {
  for (let i = 0; i < steps; i++) await t.step({ flush: i === steps - 1 });
  await t.drain();
}

describe('training loop', () => {
  it('6 + 6 steps through a checkpoint equal 12 steps exactly (weights, Adam state, losses)', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const straight: number[] = [];
      const a = new Trainer(g, model, small, opts((s, l) => { straight[s] = l; }));
      await run(a, 12);
      const want = await a.checkpointState();
      a.destroy();

      const split: number[] = [];
      const b = new Trainer(g, model, small, opts((s, l) => { split[s] = l; }));
      await run(b, 6);
      const bytes = serializeCheckpoint(model, await b.checkpointState());
      b.destroy();
      const c = new Trainer(g, model, small, opts((s, l) => { split[s] = l; }));
      await c.restore(parseCheckpoint(model, bytes, 'ckpt'));
      expect(c.steps).toBe(6);
      await run(c, 6);
      const got = await c.checkpointState();
      c.destroy();

      expect(split.slice(1)).toEqual(straight.slice(1));
      expect(straight.filter((x) => x !== undefined)).toHaveLength(12);
      for (const [k, v] of want.params) expect(got.params.get(k), k).toEqual(v);
      for (const [k, v] of want.state) expect(got.state.get(k), k).toEqual(v);
    });
  });

  it('refuses to resume with different settings, naming them', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const a = new Trainer(g, model, small, opts());
      const ckpt = await a.checkpointState();
      a.destroy();
      const b = new Trainer(g, model, small, { ...opts(), batch: 5, seed: 6 });
      await expect(b.restore(ckpt)).rejects.toThrow(/cannot resume: batch was 4, now 5; seed was 5, now 6/);
      // Other records of the same count are noticed by their hash.
      const other = { ...small, pixels: sample.pixels.subarray(20 * 3072, 40 * 3072), source: 'sample[20:40]' };
      const c = new Trainer(g, model, other, opts());
      await expect(c.restore(ckpt)).rejects.toThrow(/cannot resume: the training data differs from the checkpoint's \(sample\[0:20\], 20 records, sha256 [0-9a-f]{12}…\); restore with allowNewData \(kiln train --allow-new-data\)/);
      await c.restore(ckpt, { allowNewData: true });
      expect(c.steps).toBe(0);
      c.destroy();
      b.destroy();
    });
  });

  it('creates no buffers or bind groups per step: live objects stay flat over 100 steps', async () => {
    const g = await gpu();
    const d = g.device;
    let live = 0, bytes = 0, bindGroups = 0;
    const createBuffer = d.createBuffer.bind(d), createBindGroup = d.createBindGroup.bind(d);
    d.createBuffer = (desc: GPUBufferDescriptor) => {
      const b = createBuffer(desc);
      live++;
      bytes += desc.size;
      const destroy = b.destroy.bind(b);
      b.destroy = () => { live--; bytes -= desc.size; destroy(); };
      return b;
    };
    d.createBindGroup = (desc: GPUBindGroupDescriptor) => { bindGroups++; return createBindGroup(desc); };
    try {
      await scoped(g, async () => {
        const t = new Trainer(g, model, { ...small, count: 8, pixels: small.pixels.subarray(0, 8 * 3072) }, { ...opts(), batch: 2 });
        await run(t, 10); // warm-up
        const before = { live, bytes, bindGroups };
        await run(t, 100);
        expect({ live, bytes, bindGroups }).toEqual(before);
        t.destroy();
        expect(live).toBeLessThan(before.live);
      });
    } finally {
      d.createBuffer = createBuffer;
      d.createBindGroup = createBindGroup;
    }
  });
});

describe('data order', () => {
  it('--no-shuffle: batch k is records k·B … k·B+B−1 in file order, wrapping around', async () => {
    const g = await gpu();
    // With lr 0 the weights never change, so each step's loss depends only on which records it saw.
    const frozen: TrainerOptions = { batch: 4, optimizer: { kind: 'sgd', options: { lr: 0 } }, seed: 0, shuffle: false };
    const rec = (i: number) => sample.pixels.subarray(i * 3072, (i + 1) * 3072);
    const lossOf = async (records: number[]) => {
      const pixels = new Uint8Array(records.length * 3072);
      records.forEach((r, i) => pixels.set(rec(r), i * 3072));
      let loss = NaN;
      const t = new Trainer(g, model, { count: records.length, pixels, source: 'subset' }, { ...frozen, onLoss: (_, l) => { loss = l; } });
      await run(t, 1);
      t.destroy();
      return loss;
    };
    await scoped(g, async () => {
      const losses: number[] = [];
      const ten = { count: 10, pixels: sample.pixels.subarray(0, 10 * 3072), source: 'sample[0:10]' };
      const t = new Trainer(g, model, ten, { ...frozen, onLoss: (s, l) => { losses[s] = l; } });
      await run(t, 3);
      t.destroy();
      expect(losses[1]).toBe(await lossOf([0, 1, 2, 3]));
      expect(losses[2]).toBe(await lossOf([4, 5, 6, 7]));
      expect(losses[3]).toBe(await lossOf([8, 9, 0, 1]));
      expect(losses[3]).not.toBe(losses[1]);
    });
  });
});
