// Self-checks for the float64 reference oracle in test/reference/: every analytic backward is
// compared against central finite differences on L = sum(output * r) for a fixed random r, the
// two transposed-convolution definitions are compared against each other, and small cases are
// checked against numbers worked out by hand.
import { describe, it, expect } from 'vitest';
import { mulberry32, rand, tensor, dot, maxAbsDiff, type Tensor, type Rng } from './reference/tensor.ts';
import { conv2d, conv2dBackward, conv2dOutSize, type Conv2dParams } from './reference/conv2d.ts';
import {
  convTranspose2d, convTranspose2dScatter, convTranspose2dBackward, convTranspose2dOutSize,
  type ConvTranspose2dParams,
} from './reference/conv_transpose2d.ts';
import { maxpool2d, maxpool2dBackward, type MaxPool2dParams } from './reference/maxpool2d.ts';
import {
  relu, reluBackward, selu, seluBackward, sigmoid, sigmoidBackward, tanh, tanhBackward,
  SELU_ALPHA, SELU_SCALE,
} from './reference/activations.ts';
import { mse, mseBackward } from './reference/mse.ts';
import { sgdStep, adamStep, adamState } from './reference/optim.ts';
import { checkGradients, type GradCheckResult } from './reference/finite_diff.ts';

function expectGradOk(res: GradCheckResult): void {
  expect(res.ok, res.message).toBe(true);
}

type P2 = [number, number];
const pair = (v: number | P2): P2 => (typeof v === 'number' ? [v, v] : v);

interface ConvCase { n: number; c: number; o: number; h: number; w: number; k: number | P2; s: number | P2; p: number | P2; bias: boolean }

const conv2dCases: ConvCase[] = [
  { n: 2, c: 1, o: 2, h: 5, w: 7, k: 3, s: 1, p: 1, bias: true },
  { n: 2, c: 3, o: 2, h: 5, w: 7, k: [2, 3], s: 2, p: [1, 0], bias: true },
  { n: 2, c: 2, o: 3, h: 7, w: 5, k: 1, s: 1, p: 0, bias: true },
  { n: 2, c: 2, o: 1, h: 7, w: 6, k: 2, s: 2, p: 0, bias: true },
  { n: 2, c: 3, o: 3, h: 8, w: 7, k: 3, s: 3, p: 2, bias: true },
  { n: 2, c: 1, o: 2, h: 5, w: 7, k: [3, 2], s: [1, 2], p: [1, 1], bias: false },
];

describe('conv2d reference', () => {
  it('hand-computed: 3x3 input 1..9, kernel [[1,2],[3,4]], bias 0.5, stride 1, no padding', () => {
    const x = tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const w = tensor([1, 1, 2, 2], [1, 2, 3, 4]);
    const y = conv2d(x, w, tensor([1], [0.5]), { stride: [1, 1], padding: [0, 0] });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    // e.g. top-left: 1*1 + 2*2 + 3*4 + 4*5 = 37
    expect(Array.from(y.data)).toEqual([37.5, 47.5, 67.5, 77.5]);
  });

  it('hand-computed: same input, stride 2 and zero padding 1', () => {
    const x = tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const w = tensor([1, 1, 2, 2], [1, 2, 3, 4]);
    const y = conv2d(x, w, null, { stride: [2, 2], padding: [1, 1] });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    // windows start at (-1,-1), (-1,1), (1,-1), (1,1); padded taps contribute zero
    expect(Array.from(y.data)).toEqual([4 * 1, 3 * 2 + 4 * 3, 2 * 4 + 4 * 7, 1 * 5 + 2 * 6 + 3 * 8 + 4 * 9]);
  });

  it('hand-computed: two input channels are summed', () => {
    const x = tensor([1, 2, 1, 2], [1, 2, 10, 20]);
    const w = tensor([1, 2, 1, 2], [1, -1, 3, 0.5]);
    const y = conv2d(x, w, null, { stride: [1, 1], padding: [0, 0] });
    expect(Array.from(y.data)).toEqual([1 - 2 + 30 + 10]);
  });

  it('output shape follows floor((H + 2p - k)/s) + 1', () => {
    const x = tensor([2, 1, 5, 7]);
    const y = conv2d(x, tensor([4, 1, 3, 2]), null, { stride: [2, 3], padding: [1, 2] });
    expect(y.shape).toEqual([2, 4, 3, 4]); // floor(4/2)+1 = 3, floor(9/3)+1 = 4
    expect(conv2dOutSize(8, 3, 3, 2)).toBe(4);
  });

  for (const cs of conv2dCases) {
    const label = `N${cs.n} C${cs.c}->O${cs.o} ${cs.h}x${cs.w} k${pair(cs.k)} s${pair(cs.s)} p${pair(cs.p)}${cs.bias ? '' : ' no-bias'}`;
    it(`backward matches finite differences: ${label}`, () => {
      const rng = mulberry32(1000 + cs.h * 31 + cs.c);
      const [kh, kw] = pair(cs.k);
      const prm: Conv2dParams = { stride: pair(cs.s), padding: pair(cs.p) };
      const x = rand([cs.n, cs.c, cs.h, cs.w], rng);
      const w = rand([cs.o, cs.c, kh, kw], rng);
      const b = cs.bias ? rand([cs.o], rng) : null;
      const r = rand(conv2d(x, w, b, prm).shape, rng);
      const { dx, dw, db } = conv2dBackward(x, w, r, prm);
      const f = () => dot(conv2d(x, w, b, prm).data, r.data);
      const inputs = b ? [x.data, w.data, b.data] : [x.data, w.data];
      const grads = b ? [dx.data, dw.data, db.data] : [dx.data, dw.data];
      expectGradOk(checkGradients(f, inputs, grads));
    });
  }
});

interface ConvTCase extends ConvCase { op: number | P2 }

const convTCases: ConvTCase[] = [
  { n: 2, c: 2, o: 3, h: 5, w: 7, k: 3, s: 2, p: 1, op: 1, bias: true },
  { n: 2, c: 1, o: 2, h: 4, w: 5, k: 2, s: 2, p: 0, op: 0, bias: true },
  { n: 2, c: 3, o: 2, h: 3, w: 4, k: 3, s: 3, p: 2, op: 1, bias: true },
  { n: 2, c: 2, o: 2, h: 5, w: 3, k: [2, 3], s: [1, 2], p: [0, 1], op: [0, 1], bias: true },
  { n: 2, c: 2, o: 1, h: 4, w: 4, k: 1, s: 1, p: 0, op: 0, bias: false },
  { n: 2, c: 1, o: 2, h: 4, w: 3, k: 2, s: 3, p: 2, op: 1, bias: true }, // k-1-p < 0: cropping
];

function convTParams(cs: ConvTCase): ConvTranspose2dParams {
  return { stride: pair(cs.s), padding: pair(cs.p), outputPadding: pair(cs.op) };
}

describe('convTranspose2d reference', () => {
  const x = tensor([1, 1, 2, 2], [1, 2, 3, 4]);
  const w = tensor([1, 1, 2, 2], [1, 10, 100, 1000]);
  // Stride 2 with a 2x2 kernel: each input pixel stamps a disjoint, scaled copy of the kernel.
  const stamped = [1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000];

  it('hand-computed: stride 2, no padding (both definitions)', () => {
    const prm: ConvTranspose2dParams = { stride: [2, 2], padding: [0, 0], outputPadding: [0, 0] };
    for (const y of [convTranspose2d(x, w, null, prm), convTranspose2dScatter(x, w, null, prm)]) {
      expect(y.shape).toEqual([1, 1, 4, 4]);
      expect(Array.from(y.data)).toEqual(stamped);
    }
  });

  it('hand-computed: padding 1 crops the border, bias added everywhere (both definitions)', () => {
    const prm: ConvTranspose2dParams = { stride: [2, 2], padding: [1, 1], outputPadding: [0, 0] };
    const b = tensor([1], [0.25]);
    for (const y of [convTranspose2d(x, w, b, prm), convTranspose2dScatter(x, w, b, prm)]) {
      expect(y.shape).toEqual([1, 1, 2, 2]);
      expect(Array.from(y.data)).toEqual([1000.25, 200.25, 30.25, 4.25]);
    }
  });

  it('output shape follows (H-1)s - 2p + k + outputPadding', () => {
    const prm: ConvTranspose2dParams = { stride: [2, 3], padding: [1, 0], outputPadding: [1, 2] };
    const y = convTranspose2d(tensor([2, 3, 5, 7]), tensor([3, 4, 3, 2]), null, prm);
    expect(y.shape).toEqual([2, 4, 10, 22]); // 8-2+3+1, 18-0+2+2
    expect(convTranspose2dOutSize(4, 2, 3, 2, 1)).toBe(8);
  });

  it('literal (zero-insert + flipped correlation) equals scatter form across a sweep', () => {
    const rng = mulberry32(77);
    const kernels: P2[] = [[1, 1], [2, 2], [3, 3], [2, 3], [3, 1]];
    let ran = 0;
    let cropped = 0; // configs where k-1-p < 0 on some axis
    let worst = 0;
    for (const s of [1, 2, 3])
      for (const [kh, kw] of kernels)
        for (const p of [0, 1, 2, 3])
          for (let op = 0; op < s; op++) {
            const [h, w] = [3 + (ran % 3), 4 + (ran % 2)];
            const prm: ConvTranspose2dParams = { stride: [s, s], padding: [p, p], outputPadding: [op, op] };
            if (convTranspose2dOutSize(h, kh, s, p, op) < 1 || convTranspose2dOutSize(w, kw, s, p, op) < 1) continue;
            const [c, o] = [1 + (ran % 3), 1 + ((ran + 1) % 3)];
            const xx = rand([2, c, h, w], rng);
            const ww = rand([c, o, kh, kw], rng);
            const bb = ran % 2 ? rand([o], rng) : null;
            worst = Math.max(worst, maxAbsDiff(convTranspose2d(xx, ww, bb, prm).data, convTranspose2dScatter(xx, ww, bb, prm).data));
            if (p > kh - 1 || p > kw - 1) cropped++;
            ran++;
          }
    expect(ran).toBeGreaterThan(80);
    expect(cropped).toBeGreaterThan(20);
    expect(worst).toBeLessThan(1e-12);
  });

  it('literal equals scatter with mixed per-axis stride/padding/outputPadding', () => {
    const rng = mulberry32(78);
    const prm: ConvTranspose2dParams = { stride: [3, 2], padding: [2, 0], outputPadding: [2, 1] };
    const xx = rand([2, 2, 4, 5], rng);
    const ww = rand([2, 3, 2, 3], rng);
    const bb = rand([3], rng);
    const a = convTranspose2d(xx, ww, bb, prm);
    expect(a.shape).toEqual([2, 3, 9, 12]);
    expect(maxAbsDiff(a.data, convTranspose2dScatter(xx, ww, bb, prm).data)).toBeLessThan(1e-12);
  });

  it('is the adjoint of conv2d: <conv2d(x,w), u> = <x, convT(u,w)>', () => {
    const rng = mulberry32(79);
    const cases: Array<[number, number, number, number]> = [[7, 3, 2, 1], [5, 2, 2, 0], [8, 3, 3, 2], [6, 1, 1, 0]];
    for (const [H, k, s, p] of cases) {
      const xx = rand([2, 2, H, H + 1], rng);
      const ww = rand([3, 2, k, k], rng); // conv2d [out=3, in=2]; convT reads it as [in=3, out=2]
      const cp: Conv2dParams = { stride: [s, s], padding: [p, p] };
      const y = conv2d(xx, ww, null, cp);
      const [oh, ow] = [y.shape[2]!, y.shape[3]!];
      // outputPadding that makes convT land back on the conv2d input size
      const op: P2 = [H - convTranspose2dOutSize(oh, k, s, p, 0), H + 1 - convTranspose2dOutSize(ow, k, s, p, 0)];
      const u = rand(y.shape, rng);
      const xt = convTranspose2d(u, ww, null, { stride: [s, s], padding: [p, p], outputPadding: op });
      expect(xt.shape).toEqual(xx.shape);
      const lhs = dot(y.data, u.data);
      expect(Math.abs(lhs - dot(xx.data, xt.data))).toBeLessThan(1e-12 * (1 + Math.abs(lhs)));
    }
  });

  for (const cs of convTCases) {
    const label = `N${cs.n} C${cs.c}->O${cs.o} ${cs.h}x${cs.w} k${pair(cs.k)} s${pair(cs.s)} p${pair(cs.p)} op${pair(cs.op)}${cs.bias ? '' : ' no-bias'}`;
    it(`backward matches finite differences: ${label}`, () => {
      const rng = mulberry32(2000 + cs.h * 31 + cs.c);
      const [kh, kw] = pair(cs.k);
      const prm = convTParams(cs);
      const x = rand([cs.n, cs.c, cs.h, cs.w], rng);
      const w = rand([cs.c, cs.o, kh, kw], rng);
      const b = cs.bias ? rand([cs.o], rng) : null;
      const r = rand(convTranspose2dScatter(x, w, b, prm).shape, rng);
      const { dx, dw, db } = convTranspose2dBackward(x, w, r, prm);
      // Differentiate the literal form so the check also ties the backward to the seed's definition.
      const f = () => dot(convTranspose2d(x, w, b, prm).data, r.data);
      const inputs = b ? [x.data, w.data, b.data] : [x.data, w.data];
      const grads = b ? [dx.data, dw.data, db.data] : [dx.data, dw.data];
      expectGradOk(checkGradients(f, inputs, grads));
    });
  }
});

/** Distinct values 0.01 apart in shuffled order, so an ε = 1e-6 nudge never changes an argmax. */
function distinct(shape: number[], rng: Rng): Tensor {
  const t = tensor(shape);
  const n = t.data.length;
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  t.data.set(v);
  return t;
}

describe('maxpool2d reference', () => {
  const x = tensor([1, 1, 4, 4], [
    1, 5, 2, 0,
    3, 5, 9, 1,
    4, 8, 6, 7,
    2, 0, 7, 3,
  ]);

  it('hand-computed: 2x2 stride 2, first max wins on ties', () => {
    const { y, argmax } = maxpool2d(x, { kernel: [2, 2], stride: [2, 2], padding: [0, 0] });
    expect(Array.from(y.data)).toEqual([5, 9, 8, 7]);
    // 5 appears at flat 1 and 5; 7 at flat 11 and 14: row-major scan keeps the earlier one
    expect(Array.from(argmax)).toEqual([1, 6, 9, 11]);
  });

  it('hand-computed: 3x3 stride 2 pad 1, overlapping windows accumulate in backward', () => {
    const { y, argmax } = maxpool2d(x, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(y.data)).toEqual([5, 9, 8, 9]);
    expect(Array.from(argmax)).toEqual([1, 6, 9, 6]);
    const dx = maxpool2dBackward(tensor([1, 1, 2, 2], [1, 2, 3, 4]), argmax, x.shape);
    const want = new Array(16).fill(0);
    want[1] = 1; want[6] = 2 + 4; want[9] = 3;
    expect(Array.from(dx.data)).toEqual(want);
  });

  it('padding counts as -infinity, not zero (all-negative input)', () => {
    const neg = tensor([1, 1, 3, 3], [-9, -8, -7, -6, -5, -4, -3, -2, -1]);
    const { y, argmax } = maxpool2d(neg, { kernel: [2, 2], stride: [2, 2], padding: [1, 1] });
    // windows: {x0}, {x1,x2}, {x3,x6}, {x4,x5,x7,x8}
    expect(Array.from(y.data)).toEqual([-9, -7, -3, -1]);
    expect(Array.from(argmax)).toEqual([0, 2, 6, 8]);
  });

  const cases: Array<{ h: number; w: number; c: number } & MaxPool2dParams> = [
    { h: 5, w: 7, c: 2, kernel: [2, 2], stride: [2, 2], padding: [0, 0] },
    { h: 5, w: 7, c: 3, kernel: [3, 3], stride: [1, 1], padding: [1, 1] },
    { h: 7, w: 5, c: 1, kernel: [2, 3], stride: [1, 2], padding: [1, 1] },
    { h: 6, w: 7, c: 2, kernel: [3, 3], stride: [3, 2], padding: [1, 0] },
  ];
  for (const cs of cases) {
    it(`backward matches finite differences: ${cs.h}x${cs.w} C${cs.c} k${cs.kernel} s${cs.stride} p${cs.padding}`, () => {
      const rng = mulberry32(3000 + cs.h * 7 + cs.c);
      const xx = distinct([2, cs.c, cs.h, cs.w], rng);
      const { y, argmax } = maxpool2d(xx, cs);
      const r = rand(y.shape, rng);
      const dx = maxpool2dBackward(r, argmax, xx.shape);
      expectGradOk(checkGradients(() => dot(maxpool2d(xx, cs).y.data, r.data), [xx.data], [dx.data]));
    });
  }
});

describe('activations reference', () => {
  it('relu(NaN) is NaN; relu clamps negatives; gradient is 0 at x <= 0', () => {
    const y = relu(Float64Array.from([NaN, -2, 0, 3]));
    expect(Number.isNaN(y[0])).toBe(true);
    expect(Array.from(y.slice(1))).toEqual([0, 0, 3]);
    expect(Array.from(reluBackward(Float64Array.from([-1, 0, 2]), Float64Array.from([5, 5, 5])))).toEqual([0, 0, 5]);
  });

  it('selu, sigmoid, tanh and their gradients are finite and saturate correctly at ±100', () => {
    const x = Float64Array.from([-100, 100]);
    const ones = Float64Array.from([1, 1]);
    // ±1000 as well: there exp(1000) overflows, so only the stable forms stay finite
    const far = Float64Array.from([-1000, 1000]);
    for (const pt of [x, far]) {
      for (const [fwd, bwd] of [[selu, seluBackward], [sigmoid, sigmoidBackward], [tanh, tanhBackward]] as const) {
        for (const v of [...fwd(pt), ...bwd(pt, ones)]) expect(Number.isFinite(v)).toBe(true);
      }
    }
    expect(selu(x)[0]).toBeCloseTo(-SELU_SCALE * SELU_ALPHA, 12);
    expect(selu(x)[1]).toBeCloseTo(100 * SELU_SCALE, 10);
    expect(sigmoid(x)[0]).toBeGreaterThan(0);
    expect(sigmoid(x)[0]).toBeLessThan(1e-40);
    expect(sigmoid(x)[1]).toBe(1);
    expect(Array.from(tanh(x))).toEqual([-1, 1]);
  });

  it('known values: selu(±1), sigmoid(0), tanh(0.5)', () => {
    const s = selu(Float64Array.from([1, -1]));
    expect(s[0]).toBe(SELU_SCALE);
    expect(s[1]).toBeCloseTo(-1.1113307378125625, 14); // scale*alpha*(e^-1 - 1)
    expect(sigmoid(Float64Array.from([0]))[0]).toBe(0.5);
    expect(tanh(Float64Array.from([0.5]))[0]).toBeCloseTo((Math.E - 1) / (Math.E + 1), 14); // tanh(x) = (e^2x-1)/(e^2x+1)
  });

  const acts = { relu: [relu, reluBackward], selu: [selu, seluBackward], sigmoid: [sigmoid, sigmoidBackward], tanh: [tanh, tanhBackward] } as const;
  for (const [name, [fwd, bwd]] of Object.entries(acts)) {
    it(`${name} backward matches finite differences`, () => {
      const rng = mulberry32(name.length * 101);
      const x = rand([60], rng).data.map((v) => 3 * v);
      // keep clear of the kinks at 0 (relu, selu) where a central difference straddles both sides
      for (let i = 0; i < x.length; i++) if (Math.abs(x[i]!) < 1e-3) x[i] = 0.5;
      const r = rand([60], rng).data;
      expectGradOk(checkGradients(() => dot(fwd(x), r), [x], [bwd(x, r)]));
    });
  }
});

describe('mse reference', () => {
  it('hand-computed value and gradient', () => {
    const y = tensor([3], [1, 2, 3]);
    const t = tensor([3], [0, 0, 1]);
    expect(mse(y, t)).toBeCloseTo((1 + 4 + 4) / 3, 15);
    expect(Array.from(mseBackward(y, t).data)).toEqual([2 / 3, 4 / 3, 4 / 3]);
  });

  it('gradient matches finite differences', () => {
    const rng = mulberry32(4242);
    const y = rand([2, 3, 5, 7], rng);
    const t = rand([2, 3, 5, 7], rng);
    expectGradOk(checkGradients(() => mse(y, t), [y.data], [mseBackward(y, t).data]));
  });
});

describe('optimizer reference', () => {
  it('sgd with momentum: first step equals plain sgd, second step differs', () => {
    const g = Float64Array.from([0.5, -1, 2]);
    const plain = Float64Array.from([1, 2, 3]);
    const mom = plain.slice();
    const state = {};
    sgdStep(plain, g, {}, { lr: 0.1 });
    sgdStep(mom, g, state, { lr: 0.1, momentum: 0.9, dampening: 0.3 });
    expect(Array.from(mom)).toEqual(Array.from(plain));
    sgdStep(plain, g, {}, { lr: 0.1 });
    sgdStep(mom, g, state, { lr: 0.1, momentum: 0.9, dampening: 0.3 });
    expect(maxAbsDiff(mom, plain)).toBeGreaterThan(0.01);
  });

  it('sgd hand-checked: momentum 0.9, dampening 0.5, two steps; weight decay; nesterov', () => {
    const p = Float64Array.from([1]);
    const g = Float64Array.from([1]);
    const st: { buf?: Float64Array } = {};
    sgdStep(p, g, st, { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    expect(p[0]).toBeCloseTo(0.9, 15); // buf = 1
    sgdStep(p, g, st, { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    expect(p[0]).toBeCloseTo(0.76, 15); // buf = 0.9*1 + 0.5*1 = 1.4
    const q = Float64Array.from([2]);
    sgdStep(q, g, {}, { lr: 0.1, weightDecay: 0.5 });
    expect(q[0]).toBeCloseTo(2 - 0.1 * (1 + 0.5 * 2), 15);
    const n = Float64Array.from([1]);
    sgdStep(n, g, {}, { lr: 0.1, momentum: 0.9, nesterov: true });
    expect(n[0]).toBeCloseTo(1 - 0.1 * (1 + 0.9 * 1), 15); // d = g + momentum*buf, buf = g
    expect(g[0]).toBe(1); // the gradient is never modified
  });

  it('adam: the first step moves every parameter by ≈ lr against its gradient', () => {
    const g = Float64Array.from([1e-3, -0.02, 0.7, -5, 30]);
    const p0 = Float64Array.from([0.3, -1, 2, 0, 5]);
    const p = p0.slice();
    adamStep(p, g, adamState(5), { lr: 0.1 });
    for (let i = 0; i < p.length; i++) {
      expect(Math.abs(p0[i]! - p[i]! - 0.1 * Math.sign(g[i]!))).toBeLessThan(1e-5 * 0.1);
    }
  });

  it('adam hand-checked two-step value', () => {
    // p = 1, lr 0.1, defaults. Step 1, g = 0.5: m = 0.05, v = 0.00025, bc1 = 0.1, bc2 = 0.001,
    //   p = 1 - (0.1/0.1) * 0.05 / (sqrt(0.00025)/sqrt(0.001) + 1e-8) = 1 - 0.05/(0.5+1e-8) = 0.900000002
    // Step 2, g = -0.25: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
    //   bc1 = 0.19, bc2 = 0.001999, sqrt(v)/sqrt(bc2) = 0.39522538070166...,
    //   p = 0.900000002 - (0.1/0.19) * 0.02 / (0.3952253807... + 1e-8) = 0.8733662987078...
    const p = Float64Array.from([1]);
    const st = adamState(1);
    adamStep(p, Float64Array.from([0.5]), st, { lr: 0.1 });
    expect(p[0]).toBeCloseTo(0.900000002, 14);
    adamStep(p, Float64Array.from([-0.25]), st, { lr: 0.1 });
    expect(st.step).toBe(2);
    expect(st.m[0]).toBeCloseTo(0.02, 15);
    expect(st.v[0]).toBeCloseTo(0.00031225, 16);
    expect(Math.abs(p[0]! - 0.8733662987078462)).toBeLessThan(1e-12);
  });

  it('adam weight decay is L2 on the gradient (a zero gradient still moves a nonzero param)', () => {
    const p = Float64Array.from([2, -3]);
    adamStep(p, Float64Array.from([0, 0]), adamState(2), { lr: 0.01, weightDecay: 0.1 });
    // effective gradient 0.1*p, so the first step is ≈ lr * sign(p)
    expect(p[0]).toBeCloseTo(1.99, 6);
    expect(p[1]).toBeCloseTo(-2.99, 6);
  });
});

describe('finite-difference checker', () => {
  it('flags a wrong gradient and reports where', () => {
    const x = Float64Array.from([1, 2, 3]);
    const f = (inp: Float64Array[]) => inp[0]!.reduce((s, v) => s + v * v, 0);
    expectGradOk(checkGradients(f, [x], [Float64Array.from([2, 4, 6])]));
    const bad = checkGradients(f, [x], [Float64Array.from([2, 4.1, 6])]);
    expect(bad.ok).toBe(false);
    expect(bad.worst?.index).toBe(1);
    expect(Array.from(x)).toEqual([1, 2, 3]); // inputs restored after perturbation
  });
});
