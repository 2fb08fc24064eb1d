// The GPU-side non-finite guard: a step whose loss, gradients or updated parameters are NaN or ±inf
// is never applied, the state on the GPU stays the last good one, and the host learns which step
// and which tensor from the status ring read back with the losses. The check, save and restore
// kernels are also run directly, scalar and vec4.
import { describe, expect, it } from 'vitest';
import { loadEmbeddedSample } from '../src/data/load_node.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { initParams } from '../src/nn/init.ts';
import { Trainer, type TrainerOptions } from '../src/train/trainer.ts';
import type { OptimizerConfig } from '../src/graph/autograd.ts';
import { guardCheckPass, guardRestorePass, guardSavePass, type GuardArgs } from '../src/ops/guard.ts';
import type { Dispatch } from '../src/ops/dispatch.ts';
import { empty, gpu, readback, readbackInt, run, scoped, upload } from './gpu.ts';

const model = buildModel(CAE_SPEC, 'cae');
const sample = await loadEmbeddedSample();
const small = { count: 16, pixels: sample.pixels.subarray(0, 16 * 3072), source: 'sample[0:16]' };
const init = initParams(model, 0);

async function train(optimizer: OptimizerConfig, steps: number, extra: Partial<TrainerOptions> = {}) {
  const g = await gpu();
  return scoped(g, async () => {
    const losses: number[] = [], codes: number[] = [];
    const t = new Trainer(g, model, small, {
      batch: 4, optimizer, seed: 1, shuffle: true, init, ...extra,
      onLoss: (s, l, st) => { losses[s] = l; codes[s] = st.code; },
    });
    for (let i = 0; i < steps; i++) await t.step({ flush: i === steps - 1 });
    await t.drain();
    const ckpt = await t.checkpointState();
    const result = { losses, codes, failure: t.failure, skipped: t.skipped, params: ckpt.params, state: ckpt.state };
    t.destroy();
    return result;
  });
}

const allFinite = (m: Map<string, Float32Array>) => [...m.values()].every((v) => v.every(Number.isFinite));

describe('non-finite guard', () => {
  it('an update that overflows the parameters (Adam, lr 1e39 = inf in float32) is undone at step 1 and stops the run', async () => {
    const r = await train({ kind: 'adam', options: { lr: 1e39 } }, 5);
    expect(r.failure?.step).toBe(1);
    expect(r.failure?.message).toMatch(/^step 1: the update made parameter conv1\.0\.weight \(element 0\) non-finite; it was undone/);
    // Later steps are halted before their update, so nothing new is flagged, and nothing is applied:
    // the weights are the initial ones, the Adam moments still zero.
    expect(r.codes.slice(1)).toEqual([4, 0, 0, 0, 0]);
    for (const [k, v] of init) expect(r.params.get(k), k).toEqual(v);
    for (const [k, v] of r.state) expect(v.every((x) => x === 0), k).toBe(true);
  });

  it('with onNonFinite "skip", only the flagged steps are dropped and training goes on', async () => {
    const bad = await train({ kind: 'adam', options: { lr: 1e39 } }, 4, { onNonFinite: 'skip' });
    expect(bad.failure).toBeUndefined();
    expect(bad.skipped).toBe(4);
    for (const [k, v] of init) expect(bad.params.get(k), k).toEqual(v);
    const good = await train({ kind: 'adam', options: { lr: 1e-3 } }, 4, { onNonFinite: 'skip' });
    expect(good.skipped).toBe(0);
    expect(good.codes.slice(1)).toEqual([0, 0, 0, 0]);
    expect(good.params.get('conv1.0.weight')).not.toEqual(init.get('conv1.0.weight'));
  });

  it('divergence (SGD, lr 1e30) stops at the first non-finite loss; the weights kept are finite', async () => {
    const r = await train({ kind: 'sgd', options: { lr: 1e30 } }, 6);
    expect(r.failure, 'the run must be stopped').toBeDefined();
    const first = r.failure!.step;
    expect(first).toBeGreaterThanOrEqual(2);
    for (let s = 1; s < first; s++) expect(Number.isFinite(r.losses[s]!), `loss ${s}`).toBe(true);
    expect(r.codes[first]! & 7).not.toBe(0);
    expect(allFinite(r.params)).toBe(true);
    expect(allFinite(r.state)).toBe(true);
  });

  it('a normal run is never flagged, and its results do not depend on the guard', async () => {
    const r = await train({ kind: 'sgd', options: { lr: 0.01, momentum: 0.9 } }, 5);
    expect(r.failure).toBeUndefined();
    expect(r.codes.slice(1)).toEqual([0, 0, 0, 0, 0]);
    expect(r.losses.slice(1).every(Number.isFinite)).toBe(true);
  });

  // The passes themselves, on counts that take the scalar kernels (odd) and the vec4 ones (× 4).
  for (const count of [1001, 1000]) {
    it(`check, save and restore over ${count} elements (${count % 4 === 0 ? 'vec4' : 'scalar'} kernels): first bad element, copies`, async () => {
      const g = await gpu();
      await scoped(g, async () => {
        const build = (pass: typeof guardCheckPass, a: GuardArgs, io: Record<string, GPUBuffer>): Dispatch => {
          const [d] = pass.variants[0]!.build(g.device, a, io, pass.name);
          expect(d!.kernel.label, pass.name).toBe(`guard.${pass.name.slice(6)}${a.count % 4 === 0 ? '4' : ''}`);
          return d!;
        };
        const values = Float32Array.from({ length: count }, (_, i) => i * 0.5);
        // Bad elements at 998 and 6 (the third component of vec4 1): the first, 6, is reported.
        values[998] = Number.POSITIVE_INFINITY;
        values[6] = Number.NaN;
        const bv = upload(g, values, 'values');
        const status = upload(g, [7, 7], 'status', true);
        const halt = upload(g, [0, 0, 0, 0], 'halt', true);
        const snap = empty(g, count, 'snapshot');
        const live = upload(g, values.map((v) => v + 1), 'live');
        const a: GuardArgs = { count, code: 2, sticky: true };
        // The first save of a step also opens its status slot (it held 7, 7).
        await run(g, [
          build(guardSavePass, { ...a, opens: true }, { src: live, halt, dst: snap, status }),
          build(guardCheckPass, a, { values: bv, status }),
        ]);
        expect(Array.from(await readbackInt(g, status, 2))).toEqual([2, 6]);
        expect(Array.from(await readback(g, snap, count))).toEqual(Array.from(await readback(g, live, count)));
        // The step was flagged, so restore puts the snapshot back over whatever the step wrote.
        g.device.queue.writeBuffer(live, 0, new Float32Array(count).fill(-3));
        await run(g, [build(guardRestorePass, a, { src: snap, status, halt, dst: live })]);
        expect(Array.from(await readback(g, live, count))).toEqual(Array.from(values.map((v) => Math.fround(v + 1))));
        expect(Array.from(await readbackInt(g, halt, 1)), 'only a settling restore sets the halt').toEqual([0]);
        // Unflagged (a save that opens the slot again), restore leaves the live state alone.
        await run(g, [build(guardSavePass, { ...a, opens: true }, { src: live, halt, dst: snap, status })]);
        expect(Array.from(await readbackInt(g, status, 2))).toEqual([0, -1]);
        g.device.queue.writeBuffer(live, 0, new Float32Array(count).fill(-3));
        await run(g, [build(guardRestorePass, { ...a, settles: true }, { src: snap, status, halt, dst: live })]);
        expect((await readback(g, live, count)).every((v) => v === -3)).toBe(true);
        expect(Array.from(await readbackInt(g, halt, 1)), 'an unflagged step does not halt').toEqual([0]);
        // Flagged in stop mode, the settling restore halts the run; skip mode (not sticky) does not.
        await run(g, [build(guardCheckPass, a, { values: bv, status }), build(guardRestorePass, { ...a, sticky: false, settles: true }, { src: snap, status, halt, dst: live })]);
        expect(Array.from(await readbackInt(g, halt, 1))).toEqual([0]);
        await run(g, [build(guardRestorePass, { ...a, settles: true }, { src: snap, status, halt, dst: live })]);
        expect(Array.from(await readbackInt(g, halt, 1))).toEqual([1]);
        // Halted, the next step's save still opens its slot but copies nothing.
        g.device.queue.writeBuffer(live, 0, new Float32Array(count).fill(5));
        await run(g, [build(guardSavePass, { ...a, opens: true }, { src: live, halt, dst: snap, status })]);
        expect(Array.from(await readbackInt(g, status, 2))).toEqual([0, -1]);
        expect((await readback(g, snap, count)).every((v) => v === 5)).toBe(false);
      });
    });
  }
});
