// Every variant of every convolution pass (src/ops/conv_passes.ts), each forced in turn, against the
// float64 references over the same shape sweeps as conv2d.gpu.test.ts and conv_transpose2d.gpu.test.ts
// (the seed's layers, odd sizes, strides, paddings, output paddings, dilations, groups). Each pass
// is checked in every role the graph gives it: conv.forward is a conv2d's forward and a transposed
// conv's input gradient, conv.transposed the reverse, conv.grad_params both weight gradients.
// A variant that cannot run a shape here says why; those are printed, and counted, never dropped.
import { afterAll, describe, expect, it } from 'vitest';
import { CONV, CONVT, ACTS, POOL_CASES, UNPOOL_CASES, UNPOOL_CASES_T, forwardChecks, prepareConv, prepareConvT, roleChecks, runCheck, runPoolCheck, runUnpoolCheck, sweepVariant, type GpuIo, type Sweep } from './variant_sweep.ts';
import { capsOf, CONV_PASSES, convForwardPass, convGradParamsPass, convTransposedPass, type ConvArgs } from '../src/ops/conv_passes.ts';
import { empty, gpu, readback, run, scoped, upload } from './gpu.ts';
import { pool2dGeometry } from '../src/geometry/pool.ts';
import { swapSides } from '../src/geometry/conv.ts';
import { maxpoolBackwardActPass } from '../src/ops/maxpool2d.ts';

// The cases, references, roles and comparison live in variant_sweep.ts, shared with the device
// check (scripts/device-check.ts). The forward kernels see batches 1, 2, 4 and 8; batch 32
// (conv1.0) is checked where it matters, in the gradient sums over the batch — and keeps this
// file's run time down on a software adapter.
const SWEEP: Sweep = { fwd: CONV.filter((c) => c.x[0] < 32), fwdT: CONVT.filter((c) => c.x[0] < 32), grad: CONV, gradT: CONVT };
const io: GpuIo = { scoped, upload, empty, run, readback };

const unsupportedSeen: string[] = [];
afterAll(() => {
  if (unsupportedSeen.length > 0) console.log(`unsupported here (${unsupportedSeen.length}):\n  ${unsupportedSeen.join('\n  ')}`);
});

for (const pass of CONV_PASSES) {
  describe(`${pass.name}: every variant matches the float64 reference`, () => {
    for (const v of pass.variants.filter((x) => !x.only)) {
      it(v.name, async () => {
        const g = await gpu();
        const r = await sweepVariant(g, io, pass, v, roleChecks(pass.name, SWEEP));
        for (const u of r.unsupported) unsupportedSeen.push(`${pass.name} ${v.name}, ${u.what}: ${u.why}`);
        console.log(`${pass.name} ${v.name}: ${r.ran} shapes checked`);
        expect(r.bad).toEqual([]);
      });
    }
  });
}

describe('the activation fused into a forward kernel is applied to every output', () => {
  for (const pass of [convForwardPass, convTransposedPass]) {
    // The first shape a variant supports, from the wide multi-block ones on.
    const checks = forwardChecks(pass.name, [...CONV.slice(20), ...CONV], [...CONVT.slice(20), ...CONVT]);
    pass.variants.forEach((v, i) => {
      if (v.only) return; // covered with its fusion below
      // Each variant with one activation (rotating), so every activation meets every kernel family.
      const act = ACTS[i % ACTS.length]!;
      it(`${pass.name} ${v.name} + ${act}`, async () => {
        const g = await gpu();
        const check = checks.find((c) => !v.unsupported?.(capsOf(g.device), c.args));
        if (!check) {
          unsupportedSeen.push(`${pass.name} ${v.name} + ${act}: no shape of the sweep is supported here`);
          expect(v.unsupported?.(capsOf(g.device), checks[0]!.args)).toBeTruthy();
          return;
        }
        const r = await runCheck(g, io, pass, v, check, act);
        expect(r.bad).toEqual([]);
      });
    });
  }
});

describe("an activation's backward fused into an input-gradient store is applied to every output", () => {
  for (const pass of [convForwardPass, convTransposedPass]) {
    const checks = forwardChecks(pass.name, [...CONV.slice(20), ...CONV], [...CONVT.slice(20), ...CONVT]);
    pass.variants.forEach((v, i) => {
      if (v.only) return;
      const act = ACTS[(i + 1) % ACTS.length]!;
      it(`${pass.name} ${v.name} + ${act} backward`, async () => {
        const g = await gpu();
        const check = checks.find((c) => !v.unsupported?.(capsOf(g.device), { ...c.args, actGrad: act }));
        if (!check) {
          unsupportedSeen.push(`${pass.name} ${v.name} + ${act} backward: ${v.unsupported?.(capsOf(g.device), { ...checks[0]!.args, actGrad: act })}`);
          expect(v.unsupported?.(capsOf(g.device), { ...checks[0]!.args, actGrad: act })).toBeTruthy();
          return;
        }
        const r = await runCheck(g, io, pass, v, check, undefined, act);
        expect(r.bad).toEqual([]);
      });
    });
  }
});

describe('a 2×2 max pool fused after the activation: pooled output and argmax', () => {
  convForwardPass.variants.forEach((v, i) => {
    const act = ACTS[i % ACTS.length]!;
    it(`conv.forward ${v.name} + ${act} + pool`, async () => {
      const g = await gpu();
      let ran = 0;
      for (const c of POOL_CASES) {
        const r = await runPoolCheck(g, io, v, c, act);
        if (r.skipped) { unsupportedSeen.push(`conv.forward ${v.name} + pool, ${c.name}: ${r.skipped}`); continue; }
        ran++;
        expect(r.bad).toEqual([]);
      }
      // Every variant pools (in registers, or with maxpool2d's kernel after it) where it convolves.
      const convolves = POOL_CASES.filter((c) => !v.unsupported?.(capsOf(g.device), { g: prepareConv(c).g, bias: true })).length;
      expect(ran).toBeGreaterThanOrEqual(v.name === 'row3-r16-pool' ? 3 : convolves);
    });
  });

  // It pools before a monotone non-decreasing activation and after GELU (pools_first in
  // conv_igemm_row3.wgsl): pooling before GELU picks the wrong pixel in a window of negatives.
  it('row3-r16-pool with every activation, before and after which it pools', async () => {
    const g = await gpu();
    const v = convForwardPass.variants.find((q) => q.name === 'row3-r16-pool')!;
    const acts: [ConvArgs['act'], number?][] = [[undefined], ['relu'], ['selu'], ['sigmoid'], ['tanh'], ['gelu'], ['leakyrelu', 0.2], ['leakyrelu', 0]];
    for (const [act, slope] of acts) {
      for (const c of POOL_CASES.slice(0, 2)) {
        const r = await runPoolCheck(g, io, v, c, act, slope);
        expect(r.skipped).toBeUndefined();
        expect(r.bad, `${act} ${slope ?? ''}`).toEqual([]);
      }
    }
  });

  // SELU is pooled after (it is monotone): the pooled values are equal bit for bit, and so is
  // every argmax here, as no two pixels of a window of this data round to one SELU output. With NaNs
  // in the input (each poisons a 3×3 patch of outputs, so windows mix NaN and finite pixels) the
  // first NaN of a window wins in both, as in PyTorch.
  for (const nans of [false, true]) {
    it(`row3-r16-pool equals row3-r16 then the 2×2 pool kernel, bit for bit${nans ? ', NaNs in the input' : ''}`, async () => {
      const g = await gpu();
      const fused = convForwardPass.variants.find((v) => v.name === 'row3-r16-pool')!;
      const apart = convForwardPass.variants.find((v) => v.name === 'row3-r16')!;
      const c = prepareConv(POOL_CASES[0]!);
      const x = Float32Array.from(c.x.data);
      if (nans) for (const i of [0, 37, 70, 1029, 2050, 3100]) x[i] = Number.NaN;
      const args: ConvArgs = { g: c.g, act: 'selu', bias: true, pool: pool2dGeometry(c.y.shape, { kernel: 2, stride: 2 }) };
      const n = args.pool!.outShape.reduce((a, b) => a * b, 1);
      const outs: Uint32Array[][] = [];
      await scoped(g, async () => {
        for (const v of [fused, apart]) {
          const bufs = { x: upload(g, x, 'x'), w: upload(g, c.w.data, 'w'), bias: upload(g, c.b.data, 'bias'), y: empty(g, n, 'y'),
            argmax: empty(g, n, 'argmax'), scratch: empty(g, v.scratch!(args), 'scratch'), ...(v.stage ? { stage: empty(g, v.stage(args), 'stage') } : {}) };
          await run(g, v.build(g.device, args, bufs, v.name));
          outs.push([new Uint32Array((await readback(g, bufs.y, n)).buffer), new Uint32Array((await readback(g, bufs.argmax, n)).buffer)]);
        }
      });
      const nanCount = Array.from(new Float32Array(outs[1]![0]!.buffer)).filter(Number.isNaN).length;
      if (nans) expect(nanCount, 'pooled NaNs').toBeGreaterThan(50);
      else expect(nanCount, 'pooled NaNs').toBe(0);
      expect(outs[0]![0]).toEqual(outs[1]![0]);
      expect(outs[0]![1]).toEqual(outs[1]![1]);
    });
  }
});

describe("an input gradient continued through the pool's and activation's backward as it is stored", () => {
  // A conv's input gradient is conv.transposed, a transposed conv's conv.forward.
  for (const [pass, cases, transposed] of [[convTransposedPass, UNPOOL_CASES, false], [convForwardPass, UNPOOL_CASES_T, true]] as const) {
    pass.variants.filter((v) => !v.only).forEach((v, i) => {
      const act = ([...ACTS, undefined] as const)[i % (ACTS.length + 1)];
      it(`${pass.name} ${v.name} + pool + ${act ?? 'no activation'} backward`, async () => {
        const g = await gpu();
        let ran = 0;
        for (const c of cases) {
          const r = await runUnpoolCheck(g, io, v, c, act, transposed);
          if (r.skipped) { unsupportedSeen.push(`${pass.name} ${v.name} + unpool, ${c.name}: ${r.skipped}`); continue; }
          ran++;
          expect(r.bad).toEqual([]);
        }
        // Every variant does it (in its store, or with the pool's backward kernel after it) wherever it runs.
        const prepared = (c: (typeof cases)[number]) => (transposed ? prepareConvT(c as (typeof UNPOOL_CASES_T)[number]) : prepareConv(c));
        const runs = cases.filter((c) => !v.unsupported?.(capsOf(g.device), { g: swapSides(prepared(c).g), bias: false })).length;
        expect(ran).toBe(runs);
      });
    });
  }

  for (const name of ['row3-r16', 'sg-r32']) it(`${name} doing it in its store equals the pass then the pool kernel, bit for bit`, async () => {
    const g = await gpu();
    const v = convTransposedPass.variants.find((x) => x.name === name)!;
    const c = prepareConv(UNPOOL_CASES[0]!);
    const full = [2, 16, 32, 32];
    const argmax = Int32Array.from({ length: 2 * 16 * 16 * 16 }, (_, i) => { const ox = i % 16, oy = (i >> 4) % 16; return (2 * oy + (i % 2)) * 32 + 2 * ox + ((i >> 1) % 2); });
    const py = Float32Array.from({ length: argmax.length }, (_, i) => Math.sin(i) * 2);
    const args: ConvArgs = { g: swapSides(c.g), bias: false, unpool: pool2dGeometry(full, { kernel: 2, stride: 2 }), actGrad: 'selu' };
    const outs: Uint32Array[] = [];
    await scoped(g, async () => {
      for (const fused of [true, false]) {
        const bufs = { x: upload(g, c.dy.data, 'x'), w: upload(g, c.w.data, 'w'), argmax: upload(g, new Float32Array(argmax.buffer), 'argmax'), py: upload(g, py, 'py'),
          y: empty(g, 4 * argmax.length, 'y'), scratch: empty(g, v.scratch!(args), 'scratch'), stage: empty(g, argmax.length, 'stage') };
        // Apart: the row kernel's plain pass into the stage, then maxpool2d_k2's backward_act.
        const ds = fused ? v.build(g.device, args, bufs, 'fused')
          : [...v.build(g.device, { g: args.g, bias: false }, { ...bufs, y: bufs.stage }, 'pass'),
            ...maxpoolBackwardActPass.variants[0]!.build(g.device, { g: args.unpool!, kind: 'selu', slope: 0.01 }, { dy: bufs.stage, argmax: bufs.argmax, y: bufs.py, dx: bufs.y }, 'pool')];
        if (fused) expect(ds.map((d) => d.label).filter((l) => l.endsWith('/unpool'))).toEqual([]); // in the store, not a pass after
        await run(g, ds);
        outs.push(new Uint32Array((await readback(g, bufs.y, 4 * argmax.length)).buffer));
      }
    });
    expect(outs[0]).toEqual(outs[1]);
  });
});

describe('weight gradients are bit-reproducible (fixed-order sums, no atomics)', () => {
  const c = prepareConv(CONV[2]!);
  for (const v of convGradParamsPass.variants) {
    it(v.name, async () => {
      const g = await gpu();
      const args: ConvArgs = { g: c.g, bias: true };
      const why = v.unsupported?.(capsOf(g.device), args);
      if (why) { unsupportedSeen.push(`conv.grad_params ${v.name}, ${c.name} (twice): ${why}`); return; }
      await scoped(g, async () => {
        const io = { x: upload(g, c.x.data, 'x'), dy: upload(g, c.dy.data, 'dy'), dw: empty(g, c.w.data.length, 'dw'), db: empty(g, c.b.data.length, 'db'),
          scratch: empty(g, Math.max(4, v.scratch?.(args) ?? 0), 'scratch') };
        const ds = v.build(g.device, args, io, `repro/${v.name}`);
        await run(g, ds);
        const first = [await readback(g, io.dw, c.w.data.length), await readback(g, io.db, c.b.data.length)];
        await run(g, ds);
        const second = [await readback(g, io.dw, c.w.data.length), await readback(g, io.db, c.b.data.length)];
        expect(new Uint32Array(second[0]!.buffer)).toEqual(new Uint32Array(first[0]!.buffer));
        expect(new Uint32Array(second[1]!.buffer)).toEqual(new Uint32Array(first[1]!.buffer));
      });
    });
  }
});
