// Self-checks for the float64 convolution references with dilation and groups: a hand-computed
// dilated case; dilation equals an undilated convolution with a zero-stuffed kernel; G groups equal
// G separate convolutions on channel slices; the two transposed-convolution definitions agree; the
// transposed convolution is conv2d's adjoint; output sizes match src/geometry; and every backward
// (dx, dW, db) matches central finite differences.
import { describe, expect, it } from 'vitest';
import { mulberry32, rand, tensor, dot, maxAbsDiff, type Tensor } from './reference/tensor.ts';
import { conv2d, conv2dBackward, conv2dOutSize, type Conv2dParams } from './reference/conv2d.ts';
import {
  convTranspose2d, convTranspose2dBackward, convTranspose2dOutSize, convTranspose2dScatter, type ConvTranspose2dParams,
} from './reference/conv_transpose2d.ts';
import { checkGradients } from './reference/finite_diff.ts';
import { conv2dGeometry, convTranspose2dGeometry } from '../src/geometry/conv.ts';

type P2 = [number, number];

/** Channels [from, from + count) of dimension `dim` (0 or 1) of a 4-D tensor. */
function slice(t: Tensor, dim: 0 | 1, from: number, count: number): Tensor {
  const [a, b, h, w] = t.shape as [number, number, number, number];
  const shape = dim === 0 ? [count, b, h, w] : [a, count, h, w];
  const out = tensor(shape);
  const plane = h * w;
  for (let i = 0; i < shape[0]!; i++)
    for (let j = 0; j < shape[1]!; j++) {
      const src = dim === 0 ? (from + i) * b + j : i * b + from + j;
      out.data.set(t.data.subarray(src * plane, (src + 1) * plane), (i * shape[1]! + j) * plane);
    }
  return out;
}

/** Concatenates 4-D tensors along dimension 1. */
function concat1(parts: Tensor[]): Tensor {
  const [n, , h, w] = parts[0]!.shape as [number, number, number, number];
  const c = parts.reduce((s, t) => s + t.shape[1]!, 0);
  const out = tensor([n, c, h, w]);
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    let at = 0;
    for (const t of parts) {
      const tc = t.shape[1]!;
      out.data.set(t.data.subarray(i * tc * plane, (i + 1) * tc * plane), (i * c + at) * plane);
      at += tc;
    }
  }
  return out;
}

/** The kernel with d-1 zeros between taps: a dilated kernel written out as an ordinary one. */
function stuff(w: Tensor, [dh, dw]: P2): Tensor {
  const [a, b, kh, kw] = w.shape as [number, number, number, number];
  const [eh, ew] = [dh * (kh - 1) + 1, dw * (kw - 1) + 1];
  const out = tensor([a, b, eh, ew]);
  for (let i = 0; i < a * b; i++)
    for (let ky = 0; ky < kh; ky++)
      for (let kx = 0; kx < kw; kx++) out.data[(i * eh + ky * dh) * ew + kx * dw] = w.data[(i * kh + ky) * kw + kx]!;
  return out;
}

interface Case { x: [number, number, number, number]; o: number; k: P2; s: P2; p: P2; d: P2; g: number; op?: P2 }

// Shapes for conv2d (x: input; o: output channels) and for the transposed convolution (same fields,
// op its output padding): dilations with and without a common factor with the stride, depthwise,
// channel multipliers, and groups whose sizes are not multiples of 4.
const CASES: Case[] = [
  { x: [2, 2, 7, 8], o: 3, k: [3, 3], s: [1, 1], p: [2, 2], d: [2, 2], g: 1, op: [0, 0] },
  { x: [2, 3, 8, 9], o: 2, k: [3, 2], s: [2, 1], p: [1, 2], d: [2, 3], g: 1, op: [1, 2] },
  { x: [2, 4, 6, 7], o: 4, k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], g: 4, op: [1, 0] },
  { x: [1, 4, 7, 6], o: 8, k: [2, 3], s: [2, 2], p: [0, 1], d: [2, 2], g: 4, op: [1, 1] },
  { x: [1, 6, 5, 6], o: 9, k: [3, 3], s: [2, 3], p: [1, 1], d: [2, 1], g: 3, op: [1, 0] },
  { x: [1, 4, 6, 6], o: 6, k: [2, 2], s: [3, 2], p: [2, 0], d: [3, 3], g: 2, op: [2, 2] },
];

const convParams = (c: Case): Conv2dParams => ({ stride: c.s, padding: c.p, dilation: c.d, groups: c.g });
const convTParams = (c: Case): ConvTranspose2dParams => ({ stride: c.s, padding: c.p, outputPadding: c.op ?? [0, 0], dilation: c.d, groups: c.g });
const label = (c: Case) => `${c.x.join('×')} → ${c.o}, k${c.k} s${c.s} p${c.p} d${c.d} g${c.g}`;

describe('conv2d reference with dilation and groups', () => {
  it('hand-computed: 5×5 input 1..25, kernel [[1,2],[3,4]], dilation 2', () => {
    const x = tensor([1, 1, 5, 5], Array.from({ length: 25 }, (_, i) => i + 1));
    const y = conv2d(x, tensor([1, 1, 2, 2], [1, 2, 3, 4]), null, { stride: [1, 1], padding: [0, 0], dilation: [2, 2] });
    // y[i,j] = x[i,j] + 2x[i,j+2] + 3x[i+2,j] + 4x[i+2,j+2] with x[r,c] = 5r + c + 1
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect(Array.from(y.data)).toEqual([0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => 50 * i + 10 * j + 92)));
    expect(conv2dOutSize(5, 2, 1, 0, 2)).toBe(3);
  });

  for (const c of CASES) {
    it(`equals an undilated conv with a zero-stuffed kernel, and ${c.g} separate convs: ${label(c)}`, () => {
      const rng = mulberry32(c.x.reduce((a, b) => a * 13 + b, c.o));
      const x = rand(c.x, rng), w = rand([c.o, c.x[1] / c.g, ...c.k], rng), b = rand([c.o], rng);
      const y = conv2d(x, w, b, convParams(c));
      const undilated = conv2d(x, stuff(w, c.d), b, { ...convParams(c), dilation: [1, 1] });
      expect(maxAbsDiff(y.data, undilated.data)).toBeLessThan(1e-12);
      const [ci, co] = [c.x[1] / c.g, c.o / c.g];
      const parts = Array.from({ length: c.g }, (_, k) =>
        conv2d(slice(x, 1, k * ci, ci), slice(w, 0, k * co, co), tensor([co], b.data.subarray(k * co, (k + 1) * co)), { ...convParams(c), groups: 1 }));
      expect(maxAbsDiff(y.data, concat1(parts).data)).toBeLessThan(1e-12);
      const geo = conv2dGeometry(c.x, w.shape, convParams(c));
      expect([c.x[0], geo.cOut, ...geo.outSize]).toEqual(y.shape);
    });

    it(`backward matches finite differences: ${label(c)}`, () => {
      const rng = mulberry32(c.x.reduce((a, b) => a * 7 + b, 3 * c.o));
      const x = rand(c.x, rng), w = rand([c.o, c.x[1] / c.g, ...c.k], rng), b = rand([c.o], rng);
      const r = rand(conv2d(x, w, b, convParams(c)).shape, rng);
      const { dx, dw, db } = conv2dBackward(x, w, r, convParams(c));
      const res = checkGradients(() => dot(conv2d(x, w, b, convParams(c)).data, r.data), [x.data, w.data, b.data], [dx.data, dw.data, db.data]);
      expect(res.ok, res.message).toBe(true);
    });
  }
});

describe('convTranspose2d reference with dilation and groups', () => {
  it('hand-computed: a 2×2 kernel with dilation 2 and stride 2 stamps every other row and column', () => {
    const y = convTranspose2dScatter(tensor([1, 1, 1, 2], [1, 10]), tensor([1, 1, 2, 2], [1, 2, 3, 4]), null,
      { stride: [2, 2], padding: [0, 0], outputPadding: [0, 0], dilation: [2, 2] });
    expect(y.shape).toEqual([1, 1, 3, 5]); // (1-1)·2 + 2·1 + 1, (2-1)·2 + 2·1 + 1
    expect(Array.from(y.data)).toEqual([1, 0, 12, 0, 20, 0, 0, 0, 0, 0, 3, 0, 34, 0, 40]);
    expect(convTranspose2dOutSize(2, 2, 2, 0, 0, 2)).toBe(5);
  });

  it('literal (zero-insert + flipped dilated correlation) equals scatter form across a sweep', () => {
    const rng = mulberry32(91);
    let ran = 0;
    let worst = 0;
    for (const s of [1, 2, 3])
      for (const d of [1, 2, 3])
        for (const [kh, kw] of [[1, 1], [2, 3], [3, 3]] as P2[])
          for (const p of [0, 1, 3])
            for (const g of [1, 2, 3]) {
              const op = (ran % Math.max(s, d));
              if (convTranspose2dOutSize(3, kh, s, p, op, d) < 1 || convTranspose2dOutSize(4, kw, s, p, op, d) < 1) continue;
              const prm: ConvTranspose2dParams = { stride: [s, s], padding: [p, p], outputPadding: [op, op], dilation: [d, d], groups: g };
              const x = rand([2, g * (1 + (ran % 2)), 3, 4], rng);
              const w = rand([x.shape[1]!, 1 + (ran % 3), kh, kw], rng);
              const b = ran % 2 ? rand([w.shape[1]! * g], rng) : null;
              worst = Math.max(worst, maxAbsDiff(convTranspose2d(x, w, b, prm).data, convTranspose2dScatter(x, w, b, prm).data));
              ran++;
            }
    expect(ran).toBeGreaterThan(200);
    expect(worst).toBeLessThan(1e-12);
  });

  it('is the adjoint of conv2d with the same dilation and groups: <conv2d(x,w), u> = <x, convT(u,w)>', () => {
    const rng = mulberry32(92);
    for (const c of CASES) {
      const x = rand(c.x, rng), w = rand([c.o, c.x[1] / c.g, ...c.k], rng); // convT reads it as [in=o, out/g]
      const y = conv2d(x, w, null, convParams(c));
      const [oh, ow] = [y.shape[2]!, y.shape[3]!];
      const op: P2 = [c.x[2] - convTranspose2dOutSize(oh, c.k[0], c.s[0], c.p[0], 0, c.d[0]),
        c.x[3] - convTranspose2dOutSize(ow, c.k[1], c.s[1], c.p[1], 0, c.d[1])];
      const u = rand(y.shape, rng);
      const xt = convTranspose2d(u, w, null, { stride: c.s, padding: c.p, outputPadding: op, dilation: c.d, groups: c.g });
      expect(xt.shape).toEqual(x.shape);
      const lhs = dot(y.data, u.data);
      expect(Math.abs(lhs - dot(x.data, xt.data))).toBeLessThan(1e-12 * (1 + Math.abs(lhs)));
    }
  });

  for (const c of CASES) {
    it(`equals ${c.g} separate transposed convs, sized as src/geometry says: ${label(c)}`, () => {
      const rng = mulberry32(c.x.reduce((a, b) => a * 11 + b, c.o + 5));
      const x = rand(c.x, rng), w = rand([c.x[1], c.o / c.g, ...c.k], rng), b = rand([c.o], rng);
      const y = convTranspose2d(x, w, b, convTParams(c));
      const [ci, co] = [c.x[1] / c.g, c.o / c.g];
      const parts = Array.from({ length: c.g }, (_, k) =>
        convTranspose2d(slice(x, 1, k * ci, ci), slice(w, 0, k * ci, ci), tensor([co], b.data.subarray(k * co, (k + 1) * co)), { ...convTParams(c), groups: 1 }));
      expect(maxAbsDiff(y.data, concat1(parts).data)).toBeLessThan(1e-12);
      const geo = convTranspose2dGeometry(c.x, w.shape, { ...convTParams(c), outputPadding: c.op });
      expect([c.x[0], geo.cOut, ...geo.outSize]).toEqual(y.shape);
    });

    it(`backward matches finite differences: ${label(c)} op${c.op}`, () => {
      const rng = mulberry32(c.x.reduce((a, b) => a * 5 + b, 7 * c.o));
      const x = rand(c.x, rng), w = rand([c.x[1], c.o / c.g, ...c.k], rng), b = rand([c.o], rng);
      const r = rand(convTranspose2dScatter(x, w, b, convTParams(c)).shape, rng);
      const { dx, dw, db } = convTranspose2dBackward(x, w, r, convTParams(c));
      // Differentiate the literal form so the check also ties the backward to the textbook definition.
      const res = checkGradients(() => dot(convTranspose2d(x, w, b, convTParams(c)).data, r.data), [x.data, w.data, b.data], [dx.data, dw.data, db.data]);
      expect(res.ok, res.message).toBe(true);
    });
  }
});
