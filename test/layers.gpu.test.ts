// AvgPool2d, nearest Upsample, Dropout and BatchNorm2d on the GPU against the float64 references in
// test/reference/ (forward and backward, several shapes, odd sizes included). Dropout is checked bit
// for bit against an independent TypeScript Philox4x32-10, plus its statistics and determinism.
import { describe, expect, it } from 'vitest';
import { avgpool2d, avgpool2dBackward } from './reference/avgpool2d.ts';
import { upsampleNearest, upsampleNearestBackward } from './reference/upsample.ts';
import { dropoutMask } from './reference/dropout.ts';
import { batchnorm2dBackward, batchnorm2dEval, batchnorm2dTrain } from './reference/batchnorm2d.ts';
import { mulberry32, rand, randn, type Tensor } from './reference/tensor.ts';
import { avgpool2dBackward as avgBackward, avgpool2dForward, avgpool2dGeometry } from '../src/ops/avgpool2d.ts';
import { upsampleBackward, upsampleForward, upsampleGeometry } from '../src/ops/upsample.ts';
import { dropoutBackward, dropoutForward, dropoutPrepare, type DropoutOptions } from '../src/ops/dropout.ts';
import {
  batchnorm2dBackward as bnBackward, batchnorm2dForwardEval, batchnorm2dForwardTrain, batchnorm2dGeometry,
  batchnorm2dPrepare, batchnorm2dSavedSize, batchnorm2dScratchSize,
} from '../src/ops/batchnorm2d.ts';
import { ConfigError, ShapeError } from '../src/errors.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

type P = [number, number];
type S4 = [number, number, number, number];
const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a)); // what the GPU is given
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('avgpool2d on the GPU matches the float64 reference', () => {
  const CASES: { x: S4; k: P; s?: P; p: P; inc: boolean }[] = [
    { x: [4, 16, 16, 16], k: [2, 2], p: [0, 0], inc: true },
    { x: [2, 3, 7, 9], k: [2, 2], p: [0, 0], inc: true }, // drops the last row and column
    { x: [2, 3, 7, 9], k: [3, 3], s: [1, 1], p: [1, 1], inc: true },
    { x: [2, 3, 7, 9], k: [3, 3], s: [1, 1], p: [1, 1], inc: false },
    { x: [1, 5, 9, 7], k: [3, 2], s: [2, 3], p: [1, 1], inc: false },
    { x: [1, 3, 11, 13], k: [5, 5], s: [3, 3], p: [2, 2], inc: true },
  ];
  for (const c of CASES) {
    it(`${c.x.join('×')} k${c.k} s${c.s ?? c.k} p${c.p}${c.inc ? '' : ' count_include_pad=False'}`, async () => {
      const g = await gpu();
      const rng = mulberry32(c.x.reduce((a, b) => a * 11 + b, c.inc ? 1 : 2));
      const x = rand([...c.x], rng);
      const prm = { kernel: c.k, stride: c.s ?? c.k, padding: c.p, countIncludePad: c.inc };
      const y = avgpool2d(x, prm);
      const dy = rand(y.shape, rng);
      const dx = avgpool2dBackward(dy, [...c.x], prm);
      const geo = avgpool2dGeometry(c.x, { kernel: c.k, stride: c.s, padding: c.p, countIncludePad: c.inc });
      expect([...geo.outShape]).toEqual(y.shape);
      await scoped(g, async () => {
        const bx = upload(g, x.data, 'x'), by = empty(g, y.data.length, 'y'), bdy = upload(g, dy.data, 'dy'), bdx = empty(g, x.data.length, 'dx');
        await run(g, [avgpool2dForward(g.device, geo, { x: bx, y: by }), avgBackward(g.device, geo, { dy: bdy, dx: bdx })]);
        expectClose(await readback(g, by, y.data.length), y.data, 'y');
        expectClose(await readback(g, bdx, dx.data.length), dx.data, 'dx');
      });
    });
  }

  it('defaults to count_include_pad and stride = kernel; refuses padding over half the kernel', () => {
    const geo = avgpool2dGeometry([1, 1, 8, 8], { kernel: 4, padding: 1 });
    expect(geo.countIncludePad).toBe(true);
    expect(geo.stride).toEqual([4, 4]);
    expect(() => avgpool2dGeometry([1, 1, 8, 8], { kernel: 2, padding: 2 })).toThrow(ShapeError);
  });
});

describe('nearest upsample on the GPU matches the float64 reference', () => {
  const CASES: { x: S4; scale: number | P }[] = [
    { x: [4, 16, 8, 8], scale: 2 },
    { x: [2, 3, 5, 7], scale: 3 },
    { x: [1, 2, 3, 5], scale: [2, 3] },
    { x: [3, 1, 4, 1], scale: [1, 4] },
  ];
  for (const c of CASES) {
    it(`${c.x.join('×')} scale ${c.scale}`, async () => {
      const g = await gpu();
      const geo = upsampleGeometry(c.x, { scale: c.scale });
      const rng = mulberry32(c.x.reduce((a, b) => a * 5 + b, 9));
      const x = rand([...c.x], rng);
      const y = upsampleNearest(x, geo.scale);
      expect([...geo.outShape]).toEqual(y.shape);
      const dy = rand(y.shape, rng);
      const dx = upsampleNearestBackward(dy, [...c.x], geo.scale);
      await scoped(g, async () => {
        const bx = upload(g, x.data, 'x'), by = empty(g, y.data.length, 'y'), bdy = upload(g, dy.data, 'dy'), bdx = empty(g, x.data.length, 'dx');
        await run(g, [upsampleForward(g.device, geo, { x: bx, y: by }), upsampleBackward(g.device, geo, { dy: bdy, dx: bdx })]);
        expectClose(await readback(g, by, y.data.length), y.data, 'y');
        expectClose(await readback(g, bdx, dx.data.length), dx.data, 'dx');
      });
    });
  }

  it('refuses a non-integer or zero scale', () => {
    expect(() => upsampleGeometry([1, 1, 2, 2], { scale: 1.5 })).toThrow(ShapeError);
    expect(() => upsampleGeometry([1, 1, 2, 2], { scale: [2, 0] })).toThrow(/scale/);
  });
});

describe('dropout on the GPU', () => {
  const N = 100_003; // not a multiple of 4: the last Philox block is partial
  const O: DropoutOptions = { p: 0.3, seed: 1234, salt: 7 };

  // Forward of x and backward of dy at training step `step`; returns y and dx.
  async function dropoutRun(x: Float32Array, dy: Float32Array, o: DropoutOptions, step: number) {
    const g = await gpu();
    return scoped(g, async () => {
      const bx = upload(g, x, 'x'), by = empty(g, x.length, 'y'), bdy = upload(g, dy, 'dy'), bdx = empty(g, x.length, 'dx');
      const ds = [dropoutForward(g.device, x.length, o, { x: bx, y: by }), dropoutBackward(g.device, x.length, o, { dy: bdy, dx: bdx })];
      dropoutPrepare(g.device, ds, x.length, o, step);
      await run(g, ds);
      return { y: await readback(g, by, x.length), dx: await readback(g, bdx, x.length) };
    });
  }

  // x·mask/(1 − p) as the GPU must round it: one f32 multiply by the f32 scale.
  function expected(x: Float32Array, keep: Uint8Array, p: number): Float32Array {
    const scale = Math.fround(p === 1 ? 0 : 1 / (1 - p));
    return Float32Array.from(x, (v, i) => v * (keep[i] ? scale : 0));
  }

  const rng = mulberry32(31);
  const x = Float32Array.from(rand([N], rng).data);
  const dy = Float32Array.from(rand([N], rng).data);

  it('reproduces the TypeScript Philox mask bit for bit, forward and backward, with exact scaling', async () => {
    const step = 3;
    const got = await dropoutRun(x, dy, O, step);
    const keep = dropoutMask(N, { ...O, step });
    expect(bits(got.y)).toEqual(bits(expected(x, keep, O.p)));
    expect(bits(got.dx)).toEqual(bits(expected(dy, keep, O.p)));
  });

  it('drops a fraction p within 5σ of the binomial, for several p', async () => {
    for (const p of [0.1, 0.5, 0.9]) {
      const { y } = await dropoutRun(x, dy, { ...O, p }, 1);
      const dropped = y.reduce((a, v) => a + (v === 0 ? 1 : 0), 0);
      const sigma = Math.sqrt(N * p * (1 - p));
      expect(Math.abs(dropped - N * p), `p = ${p}: ${dropped} dropped of ${N}`).toBeLessThan(5 * sigma);
    }
  });

  it('the same (seed, step, salt) gives the same mask; a different step, seed or salt another', async () => {
    const mask = (y: Float32Array) => Array.from(y, (v) => (v === 0 ? 0 : 1));
    const agree = (a: number[], b: number[]) => a.reduce((s, v, i) => s + (v === b[i] ? 1 : 0), 0) / a.length;
    const base = mask((await dropoutRun(x, dy, O, 5)).y);
    expect(mask((await dropoutRun(x, dy, O, 5)).y)).toEqual(base);
    // Independent masks agree on p² + (1 − p)² = 58% of elements; identical ones on 100%.
    for (const [what, o, step] of [['step', O, 6], ['seed', { ...O, seed: 1235 }, 5], ['salt', { ...O, salt: 8 }, 5]] as const) {
      const a = agree(base, mask((await dropoutRun(x, dy, o, step)).y));
      expect(a, `another ${what}`).toBeGreaterThan(0.55);
      expect(a, `another ${what}`).toBeLessThan(0.61);
    }
  });

  it('p = 0 is the identity and p = 1 zeroes everything (NaN stays NaN, as x·0 in PyTorch)', async () => {
    const small = Float32Array.from([1.5, -2, NaN, 0.25, 3, -7, 9]);
    const id = await dropoutRun(small, small, { ...O, p: 0 }, 1);
    expect(bits(id.y)).toEqual(bits(small));
    expect(bits(id.dx)).toEqual(bits(small));
    const zero = await dropoutRun(small, small, { ...O, p: 1 }, 1);
    expect(Array.from(zero.y)).toEqual([0, -0, NaN, 0, 0, -0, 0]);
  });

  it('refuses p outside [0, 1] and seeds, salts or steps that are not u32', async () => {
    const g = await gpu();
    const b = empty(g, 4, 'b');
    expect(() => dropoutForward(g.device, 4, { ...O, p: 1.5 }, { x: b, y: b })).toThrow(ConfigError);
    expect(() => dropoutForward(g.device, 4, { ...O, seed: -1 }, { x: b, y: b })).toThrow(/seed/);
    const d = dropoutForward(g.device, 4, O, { x: b, y: upload(g, [0, 0, 0, 0], 'y') });
    expect(() => dropoutPrepare(g.device, [d], 4, O, 2 ** 32)).toThrow(/step/);
  });
});

describe('batchnorm2d on the GPU matches the float64 reference', () => {
  const CASES: { x: S4; affine: boolean; mean?: number; std?: number }[] = [
    { x: [2, 3, 5, 7], affine: true },
    { x: [8, 2, 32, 32], affine: true },                  // few channels, many values each: 256 parts of 32
    { x: [3, 2, 11, 13], affine: true, mean: 100, std: 0.5 }, // 429 values: 14 parts of 30–31; E[x²] − E[x]² would lose 4 digits
    { x: [3, 5, 1, 1], affine: true },                    // 3 values per channel: one part
    { x: [1, 16, 3, 3], affine: false },
  ];
  for (const c of CASES) {
    it(`${c.x.join('×')}${c.affine ? '' : ' no affine'}${c.mean ? ` mean ${c.mean} std ${c.std}` : ''}: train forward, running stats, backward, eval`, async () => {
      const g = await gpu();
      const rng = mulberry32(c.x.reduce((a, b) => a * 3 + b, 17));
      const x: Tensor = randn([...c.x], rng);
      x.data.forEach((v, i) => (x.data[i] = Math.fround((c.mean ?? 0.5) + (c.std ?? 2) * v)));
      const C = c.x[1];
      const gamma = f32(rand([C], rng).data.map((v) => 1 + 0.5 * v)), beta = f32(rand([C], rng).data);
      const rm0 = f32(rand([C], rng).data), rv0 = f32(rand([C], rng).data.map((v) => 1 + 0.5 * v));
      const dy = rand([...c.x], rng);
      dy.data.set(f32(dy.data));
      const eps = 1e-5, momentum = 0.1;
      const ref = batchnorm2dTrain(x, c.affine ? gamma : null, c.affine ? beta : null, rm0, rv0, { eps, momentum });
      const grads = batchnorm2dBackward(x, dy, c.affine ? gamma : null, eps);
      const yEval = batchnorm2dEval(x, c.affine ? gamma : null, c.affine ? beta : null, ref.runMean, ref.runVar, eps);
      const geo = batchnorm2dGeometry(c.x);
      const o = { eps, momentum, affine: c.affine };
      const n = x.data.length;
      await scoped(g, async () => {
        const bx = upload(g, x.data, 'x'), by = empty(g, n, 'y'), bw = upload(g, gamma, 'gamma'), bb = upload(g, beta, 'beta');
        const brm = upload(g, rm0, 'running_mean'), brv = upload(g, rv0, 'running_var');
        const scratch = empty(g, batchnorm2dScratchSize(geo), 'scratch'), saved = empty(g, batchnorm2dSavedSize(geo), 'saved');
        const bdy = upload(g, dy.data, 'dy'), bdx = empty(g, n, 'dx'), bdw = empty(g, C, 'dgamma'), bdb = empty(g, C, 'dbeta');
        const byEval = empty(g, n, 'y eval');
        const aff = c.affine ? { weight: bw, bias: bb } : {};
        await run(g, [
          ...batchnorm2dForwardTrain(g.device, geo, o, { x: bx, y: by, ...aff, scratch, saved, runningMean: brm, runningVar: brv }),
          ...bnBackward(g.device, geo, o, { x: bx, dy: bdy, dx: bdx, ...(c.affine ? { weight: bw, dweight: bdw, dbias: bdb } : {}), scratch, saved }),
          batchnorm2dForwardEval(g.device, geo, o, { x: bx, y: byEval, ...aff, runningMean: brm, runningVar: brv }),
        ]);
        expectClose(await readback(g, by, n), ref.y.data, 'y');
        const s = await readback(g, saved, 4 * C);
        expectClose(s.filter((_, i) => i % 4 === 0), ref.stats.mean, 'saved mean');
        expectClose(s.filter((_, i) => i % 4 === 1), ref.stats.varBiased.map((v) => 1 / Math.sqrt(v + eps)), 'saved invstd');
        expectClose(await readback(g, brm, C), ref.runMean, 'running_mean');
        expectClose(await readback(g, brv, C), ref.runVar, 'running_var');
        expectClose(await readback(g, bdx, n), grads.dx.data, 'dx');
        if (c.affine) {
          expectClose(await readback(g, bdw, C), grads.dgamma, 'dgamma');
          expectClose(await readback(g, bdb, C), grads.dbeta, 'dbeta');
        }
        expectClose(await readback(g, byEval, n), yEval.data, 'eval y');
      });
    });
  }

  it('momentum set per step (e.g. the cumulative average 1/num_batches_tracked) and bit-reproducible', async () => {
    const g = await gpu();
    const shape: S4 = [4, 3, 6, 5];
    const rng = mulberry32(99);
    const batches = [0, 1, 2].map(() => f32(randn(shape, rng).data.map((v) => 1 + v)));
    const geo = batchnorm2dGeometry(shape);
    const o = { affine: false };
    let rm: Float64Array = new Float64Array(3), rv: Float64Array = new Float64Array(3).fill(1);
    await scoped(g, async () => {
      const bx = upload(g, batches[0]!, 'x'), by = empty(g, batches[0]!.length, 'y');
      const brm = upload(g, rm, 'running_mean'), brv = upload(g, rv, 'running_var');
      const scratch = empty(g, batchnorm2dScratchSize(geo), 'scratch'), saved = empty(g, batchnorm2dSavedSize(geo), 'saved');
      const fwd = batchnorm2dForwardTrain(g.device, geo, o, { x: bx, y: by, scratch, saved, runningMean: brm, runningVar: brv });
      const ys: number[][] = [];
      for (const [k, xb] of batches.entries()) {
        g.device.queue.writeBuffer(bx, 0, Float32Array.from(xb));
        batchnorm2dPrepare(g.device, fwd, geo, o, 1 / (k + 1));
        await run(g, fwd);
        ({ runMean: rm, runVar: rv } = batchnorm2dTrain({ shape: [...shape], data: xb }, null, null, rm, rv, { eps: 1e-5, momentum: 1 / (k + 1) }));
        ys.push(bits(await readback(g, by, xb.length)));
      }
      expectClose(await readback(g, brm, 3), rm, 'running_mean after 3 steps');
      expectClose(await readback(g, brv, 3), rv, 'running_var after 3 steps');
      g.device.queue.writeBuffer(bx, 0, Float32Array.from(batches[2]!));
      await run(g, fwd);
      expect(bits(await readback(g, by, batches[2]!.length))).toEqual(ys[2]);
    });
  });

  it('refuses training with one value per channel, and affine without γ', async () => {
    const g = await gpu();
    const b = empty(g, 4, 'b');
    const geo = batchnorm2dGeometry([1, 4, 1, 1]);
    const bind = { x: b, y: b, scratch: b, saved: b, runningMean: b, runningVar: b };
    expect(() => batchnorm2dForwardTrain(g.device, geo, {}, bind)).toThrow(ShapeError);
    expect(() => batchnorm2dForwardTrain(g.device, batchnorm2dGeometry([2, 4, 1, 1]), {}, bind)).toThrow(/needs 'weight'/);
  });
});
