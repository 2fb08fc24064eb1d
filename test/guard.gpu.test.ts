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

  // The check itself, on counts that take the scalar kernel (odd) and the vec4 one (× 4).
  for (const count of [1001, 1000]) {
    it(`check over ${count} elements (${count % 4 === 0 ? 'vec4' : 'scalar'} kernel): the first bad element`, async () => {
      const g = await gpu();
      await scoped(g, async () => {
        const values = Float32Array.from({ length: count }, (_, i) => i * 0.5);
        // Bad elements at 998 and 6 (the third component of vec4 1): the first, 6, is reported.
        values[998] = Number.POSITIVE_INFINITY;
        values[6] = Number.NaN;
        const status = upload(g, [0, -1], 'status', true);
        const [d] = guardCheckPass.variants[0]!.build(g.device, { count, code: 2, sticky: true }, { values: upload(g, values, 'values'), status }, 'check');
        expect(d!.kernel.label).toBe(`guard.check${count % 4 === 0 ? '4' : ''}`);
        await run(g, [d!]);
        expect(Array.from(await readbackInt(g, status, 2))).toEqual([2, 6]);
      });
    });
  }

  // Saves and restores: one to three tensors a dispatch (Adam's parameters, m and v; SGD's two).
  for (const counts of [[1000], [1000, 64], [1000, 64, 8]]) {
    it(`save and restore of ${counts.length} tensor(s) in one dispatch: copies, opening the slot, settling the halt`, async () => {
      const g = await gpu();
      await scoped(g, async () => {
        const build = (pass: typeof guardSavePass, a: GuardArgs, io: Record<string, GPUBuffer>): Dispatch => {
          const ds = pass.variants[0]!.build(g.device, a, io, pass.name);
          expect(ds.map((d) => d.kernel.label)).toEqual([`guard.${pass.name.slice(6)}`]);
          return ds[0]!;
        };
        const io = (side: 'src' | 'dst', bufs: GPUBuffer[]) => Object.fromEntries(bufs.map((b, k) => [`${side}${k}`, b]));
        const data = counts.map((n, k) => Float32Array.from({ length: n }, (_, i) => k * 1000 + i * 0.5));
        const live = data.map((d, k) => upload(g, d, `live${k}`));
        const snap = counts.map((n, k) => empty(g, n, `snap${k}`));
        const status = upload(g, [7, 7], 'status', true);
        const halt = upload(g, [0, 0, 0, 0], 'halt', true);
        const bad = upload(g, [Number.NaN], 'bad');
        const a: GuardArgs = { count: 0, code: 0, sticky: true, counts };
        const read = async (bufs: GPUBuffer[]) => Promise.all(bufs.map((b, k) => readback(g, b, counts[k]!)));
        const fill = (bufs: GPUBuffer[], v: number) => bufs.forEach((b, k) => g.device.queue.writeBuffer(b, 0, new Float32Array(counts[k]!).fill(v)));
        const save = (o: Partial<GuardArgs> = {}) => build(guardSavePass, { ...a, ...o }, { ...io('src', live), halt, ...io('dst', snap), status });
        const restore = (o: Partial<GuardArgs> = {}) => build(guardRestorePass, { ...a, ...o }, { ...io('src', snap), status, halt, ...io('dst', live) });
        const flag = () => guardCheckPass.variants[0]!.build(g.device, { count: 1, code: 1, sticky: true }, { values: bad, status }, 'flag')[0]!;

        // The first save of a step opens its status slot (it held 7, 7) and copies every tensor.
        await run(g, [save({ opens: true })]);
        expect(Array.from(await readbackInt(g, status, 2))).toEqual([0, -1]);
        expect((await read(snap)).map((x) => Array.from(x))).toEqual(data.map((x) => Array.from(x)));
        // Unflagged, a restore leaves the live state alone, and a settling one does not halt.
        fill(live, -3);
        await run(g, [restore({ settles: true })]);
        expect((await read(live)).every((x) => x.every((v) => v === -3))).toBe(true);
        expect(Array.from(await readbackInt(g, halt, 1))).toEqual([0]);
        // Flagged, every tensor gets its snapshot back; a restore that does not settle leaves the
        // halt alone, and in skip mode (not sticky) neither does a settling one.
        await run(g, [flag(), restore()]);
        expect((await read(live)).map((x) => Array.from(x))).toEqual(data.map((x) => Array.from(x)));
        await run(g, [restore({ settles: true, sticky: false })]);
        expect(Array.from(await readbackInt(g, halt, 1))).toEqual([0]);
        // In stop mode the settling restore halts the run...
        await run(g, [restore({ settles: true })]);
        expect(Array.from(await readbackInt(g, halt, 1))).toEqual([1]);
        // ...and the next step's save still opens its slot but copies nothing.
        fill(live, 5);
        await run(g, [save({ opens: true })]);
        expect(Array.from(await readbackInt(g, status, 2))).toEqual([0, -1]);
        expect((await read(snap)).map((x) => Array.from(x))).toEqual(data.map((x) => Array.from(x)));
      });
    });
  }

  it('a save is refused for more tensors than one dispatch binds, or counts that are not whole vec4s', async () => {
    const g = await gpu();
    const b = (n: number) => empty(g, n, 'b');
    const build = (counts: number[]) => guardSavePass.variants[0]!.build(g.device, { count: 0, code: 0, sticky: true, counts },
      { src0: b(8), src1: b(8), src2: b(8), dst0: b(8), dst1: b(8), dst2: b(8), halt: b(4), status: b(2) }, 'save');
    expect(() => build([8, 8, 8, 8])).toThrow(/save copies 1 to 3 tensors of whole vec4s, got \[8, 8, 8, 8\]/);
    expect(() => build([6])).toThrow(/whole vec4s/);
  });
});
