// Self-checks of the float64 references for the newer layer types (LeakyReLU, GELU and its erf,
// AvgPool2d, nearest Upsample, Dropout's Philox generator, BatchNorm2d): every analytic backward
// against central finite differences on L = Σ output·r, plus values worked out by hand or published
// (erf tables, Random123's known-answer vectors, numbers from PyTorch 1.13 in float64).
import { describe, expect, it } from 'vitest';
import { checkGradients, type GradCheckResult } from './reference/finite_diff.ts';
import { dot, mulberry32, rand, randn, tensor } from './reference/tensor.ts';
import * as act from './reference/activations.ts';
import { avgpool2d, avgpool2dBackward, type AvgPool2dParams } from './reference/avgpool2d.ts';
import { upsampleNearest, upsampleNearestBackward } from './reference/upsample.ts';
import { dropout, dropoutMask, philox4x32, type Words4 } from './reference/dropout.ts';
import { batchnorm2dBackward, batchnorm2dEval, batchnorm2dTrain } from './reference/batchnorm2d.ts';

const expectGradOk = (res: GradCheckResult) => expect(res.ok, res.message).toBe(true);
const close = (got: ArrayLike<number>, want: ArrayLike<number>, rel = 1e-14) =>
  Array.from(want).forEach((w, i) => expect(Math.abs(got[i]! - w), `[${i}] ${got[i]} vs ${w}`).toBeLessThanOrEqual(rel * Math.abs(w) + 1e-300));

describe('erf reference', () => {
  it('matches published values (30-digit erf / erfc)', () => {
    const erfTable: [number, number][] = [[0.1, 0.1124629160182848984], [0.5, 0.52049987781304653768], [1, 0.84270079294971486934],
      [2, 0.99532226501895273416], [3, 0.99997790950300141456], [5, 0.99999999999846254021]];
    for (const [x, v] of erfTable) {
      close([act.erf(x)], [v]);
      close([act.erf(-x)], [-v]);
    }
    const erfcTable: [number, number][] = [[3, 2.2090496998585441373e-5], [5, 1.5374597944280348502e-12],
      [10, 2.088487583762544757e-45], [20, 5.3958656116079009289e-176]];
    for (const [x, v] of erfcTable) close([act.erfc(x)], [v], 1e-13);
    expect(act.erf(0)).toBe(0);
    expect(act.erf(Infinity)).toBe(1);
    expect(act.erfc(-Infinity)).toBe(2);
  });

  it('the series (below 3) and the continued fraction (above) meet without a jump', () => {
    // erf'(3) ≈ 1.4e-4, so a step of 2^-40 moves erf by ~1e-16: more than a few ulp would be a seam.
    expect(Math.abs(act.erf(3) - act.erf(3 - 2 ** -40))).toBeLessThan(5e-16);
  });
});

describe('LeakyReLU and GELU references', () => {
  it('GELU and its derivative match x·Φ(x) and Φ(x) + x·φ(x) to 30 digits (mpmath), and PyTorch 1.13', () => {
    // 1e-12: erfc between 1 and 3 is 1 − erf, which leaves ~13 correct digits of Φ there (ample for an oracle at 1e-4).
    const x = new Float64Array([-5, -3, -1, -0.5, 0, 0.5, 1, 3]);
    const y = act.gelu(x), dx = act.geluBackward(x, x.map(() => 1));
    close(y, [-1.4332578593959696e-6, -0.0040496940948902836, -0.15865525393145705, -0.15426876936299345, 0,
      0.34573123063700655, 0.84134474606854295, 2.9959503059051097], 1e-12);
    close(dx, [-7.1469460017922946e-6, -0.011945647204183927, -0.083315470587686298, 0.13250487534383716, 0.5,
      0.86749512465616284, 1.0833154705876863, 1.0119456472041839], 1e-12);
    // PyTorch's float64 1 + erf(x/√2) loses ~6 digits to cancellation at x = −5, hence the looser bound.
    close(y, [-1.4332578593401202e-06, -0.00404969409489031, -0.15865525393145702, -0.15426876936299344, 0,
      0.34573123063700656, 0.841344746068543, 2.99595030590511], 1e-10);
  });

  it('LeakyReLU by hand: slope applies below 0 and for the gradient at 0', () => {
    expect(Array.from(act.leakyRelu(new Float64Array([-2, 0, 3]), 0.1))).toEqual([-0.2, 0, 3]);
    expect(Array.from(act.leakyReluBackward(new Float64Array([-2, 0, 3]), new Float64Array([1, 1, 1]), 0.1))).toEqual([0.1, 0.1, 1]);
  });

  const cases: [string, (x: Float64Array) => Float64Array, (x: Float64Array, dy: Float64Array) => Float64Array][] = [
    ['leakyrelu 0.01', (x) => act.leakyRelu(x), (x, dy) => act.leakyReluBackward(x, dy)],
    ['leakyrelu 0.3', (x) => act.leakyRelu(x, 0.3), (x, dy) => act.leakyReluBackward(x, dy, 0.3)],
    ['gelu', act.gelu, act.geluBackward],
  ];
  for (const [name, f, b] of cases) {
    it(`${name} backward matches finite differences`, () => {
      const rng = mulberry32(name.length * 7);
      const x = rand([64], rng).data.map((v) => 5 * v);
      const r = rand([64], rng).data;
      expectGradOk(checkGradients(() => dot(f(x), r), [x], [b(x, r)]));
    });
  }
});

type P = [number, number];
const poolCases: { x: number[]; p: AvgPool2dParams }[] = [
  { x: [2, 2, 6, 7], p: { kernel: [2, 2], stride: [2, 2], padding: [0, 0], countIncludePad: true } },
  { x: [1, 2, 7, 5], p: { kernel: [3, 3], stride: [1, 1], padding: [1, 1], countIncludePad: true } },
  { x: [1, 2, 7, 5], p: { kernel: [3, 3], stride: [1, 1], padding: [1, 1], countIncludePad: false } },
  { x: [2, 1, 9, 8], p: { kernel: [3, 2], stride: [2, 3], padding: [1, 1], countIncludePad: false } },
  { x: [1, 1, 11, 9], p: { kernel: [5, 4], stride: [3, 2], padding: [2, 2], countIncludePad: true } },
];

describe('avgpool2d reference', () => {
  const x = tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  it('matches PyTorch 1.13 on 1..9, k2 s1 p1, with and without count_include_pad', () => {
    const k2: AvgPool2dParams = { kernel: [2, 2], stride: [1, 1], padding: [1, 1], countIncludePad: false };
    expect(Array.from(avgpool2d(x, k2).data)).toEqual([1, 1.5, 2.5, 3, 2.5, 3, 4, 4.5, 5.5, 6, 7, 7.5, 7, 7.5, 8.5, 9]);
    expect(Array.from(avgpool2d(x, { ...k2, countIncludePad: true }).data))
      .toEqual([0.25, 0.75, 1.25, 0.75, 1.25, 3, 4, 2.25, 2.75, 6, 7, 3.75, 1.75, 3.75, 4.25, 2.25]);
  });

  for (const c of poolCases) {
    it(`backward matches finite differences: ${c.x.join('×')} k${c.p.kernel} s${c.p.stride} p${c.p.padding}${c.p.countIncludePad ? '' : ' exclude pad'}`, () => {
      const rng = mulberry32(c.x.reduce((a, b) => a * 7 + b, 1));
      const xx = rand(c.x, rng);
      const r = rand(avgpool2d(xx, c.p).shape, rng);
      expectGradOk(checkGradients(() => dot(avgpool2d(xx, c.p).data, r.data), [xx.data], [avgpool2dBackward(r, c.x, c.p).data]));
    });
  }
});

describe('nearest upsample reference', () => {
  it('by hand: each pixel becomes an sh × sw block', () => {
    const y = upsampleNearest(tensor([1, 1, 2, 2], [1, 2, 3, 4]), [2, 3]);
    expect(y.shape).toEqual([1, 1, 4, 6]);
    expect(Array.from(y.data)).toEqual([1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4]);
  });

  for (const [shape, scale] of [[[2, 3, 3, 5], [2, 2]], [[1, 2, 4, 3], [3, 1]], [[1, 1, 2, 3], [1, 4]]] as [number[], P][]) {
    it(`backward matches finite differences: ${shape.join('×')} scale ${scale}`, () => {
      const rng = mulberry32(shape[3]! * 13 + scale[0]);
      const x = rand(shape, rng);
      const r = rand(upsampleNearest(x, scale).shape, rng);
      expectGradOk(checkGradients(() => dot(upsampleNearest(x, scale).data, r.data), [x.data], [upsampleNearestBackward(r, shape, scale).data]));
    });
  }
});

describe('dropout reference', () => {
  it('Philox4x32-10 reproduces Random123\'s known-answer vectors', () => {
    const kat: [Words4, [number, number], Words4][] = [
      [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
      [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
      [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
    ];
    for (const [ctr, key, want] of kat) expect(philox4x32(ctr, key)).toEqual(want);
  });

  it('p = 0 keeps everything, p = 1 nothing; the keep rate is 1 − p', () => {
    const k = { seed: 1, step: 2, salt: 3 };
    expect(dropoutMask(1001, { ...k, p: 0 }).every((v) => v === 1)).toBe(true);
    expect(dropoutMask(1001, { ...k, p: 1 }).every((v) => v === 0)).toBe(true);
    const n = 40000, p = 0.25;
    const kept = dropoutMask(n, { ...k, p }).reduce((a, b) => a + b, 0);
    expect(Math.abs(kept - n * (1 - p))).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
  });

  it('backward (the same mask and scale) matches finite differences', () => {
    const rng = mulberry32(5);
    const x = rand([50], rng).data, r = rand([50], rng).data;
    const keep = dropoutMask(50, { p: 0.4, seed: 9, step: 1, salt: 0 });
    expectGradOk(checkGradients(() => dot(dropout(x, keep, 0.4), r), [x], [dropout(r, keep, 0.4)]));
  });
});

describe('batchnorm2d reference', () => {
  it('matches PyTorch 1.13 (float64) on a 1×2×2×2 batch, momentum 0.3, running stats from (0, 1)', () => {
    const x = tensor([1, 2, 2, 2], [1, 2, 3, 4, 0, 0, 1, -1]);
    const out = batchnorm2dTrain(x, null, null, new Float64Array([0, 0]), new Float64Array([1, 1]), { eps: 1e-5, momentum: 0.3 });
    close(out.y.data, [-1.341635419968927, -0.4472118066563091, 0.4472118066563089, 1.3416354199689269, 0, 0, 1.4141994204496, -1.4141994204496], 1e-12);
    close(out.runMean, [0.75, 0]);
    close(out.runVar, [1.2, 0.9]);
  });

  for (const [shape, affine] of [[[2, 3, 3, 4], true], [[4, 2, 1, 1], true], [[1, 2, 5, 3], false]] as [number[], boolean][]) {
    it(`dx, dγ, dβ match finite differences: ${shape.join('×')}${affine ? '' : ', no affine'}`, () => {
      const rng = mulberry32(shape.reduce((a, b) => a * 5 + b, 2));
      const x = randn(shape, rng);
      const C = shape[1]!;
      const gamma = rand([C], rng).data.map((v) => 1 + 0.5 * v), beta = rand([C], rng).data;
      const zeros = new Float64Array(C), ones = new Float64Array(C).fill(1);
      const fwd = () => batchnorm2dTrain(x, affine ? gamma : null, affine ? beta : null, zeros, ones, { eps: 1e-5, momentum: 0.1 }).y;
      const r = rand(shape, rng);
      const g = batchnorm2dBackward(x, r, affine ? gamma : null, 1e-5);
      const f = () => dot(fwd().data, r.data);
      expectGradOk(affine ? checkGradients(f, [x.data, gamma, beta], [g.dx.data, g.dgamma, g.dbeta]) : checkGradients(f, [x.data], [g.dx.data]));
    });
  }

  it('evaluation normalises with the running statistics', () => {
    const x = tensor([1, 1, 1, 3], [1, 2, 3]);
    const y = batchnorm2dEval(x, new Float64Array([2]), new Float64Array([1]), new Float64Array([2]), new Float64Array([4]), 0);
    expect(Array.from(y.data)).toEqual([0, 1, 2]);
  });
});
