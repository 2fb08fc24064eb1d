// The float64 loss references checked on their own: hand-computed values, values PyTorch 1.13
// printed, and every gradient against central finite differences for every loss and target kind,
// with partial rows. The GPU tests (loss.gpu.test.ts) then trust these as the oracle.
import { describe, expect, it } from 'vitest';
import { correctCount, denseTarget, lossGrad, lossValue, type LossKind, type Target } from './reference/losses.ts';
import { checkGradients } from './reference/finite_diff.ts';
import { mulberry32, rand, tensor, type Rng } from './reference/tensor.ts';

const KINDS: LossKind[] = ['mse', 'l1', 'bce', 'cross_entropy'];

/** y suited to the loss: probabilities kept away from 0 and 1 for BCE (where its logs are clamped). */
function input(kind: LossKind, shape: number[], rng: Rng) {
  const y = rand(shape, rng);
  if (kind === 'bce') y.data.forEach((v, i) => (y.data[i] = 0.5 + 0.45 * v));
  if (kind === 'cross_entropy') y.data.forEach((v, i) => (y.data[i] = 4 * v));
  return y;
}

function floatTarget(kind: LossKind, shape: number[], rng: Rng): Target {
  const t = rand(shape, rng);
  // BCE wants t in [0, 1]; cross-entropy's soft targets are rows of probabilities (any weights work).
  if (kind === 'bce' || kind === 'cross_entropy') t.data.forEach((v, i) => (t.data[i] = 0.5 + 0.5 * v));
  return { kind: 'input', t };
}

/** Valid labels: a class below C for cross-entropy; for the others also 0/1 when C = 1. */
const labelsFor = (kind: LossKind, batch: number, C: number, rng: Rng) => {
  const limit = kind === 'cross_entropy' ? C : Math.max(C, 2);
  return Array.from({ length: batch }, () => Math.floor(rng() * limit));
};

describe('loss references: hand-computed and PyTorch values', () => {
  const y = tensor([1, 3], [1, 2, 3]);
  const t: Target = { kind: 'input', t: tensor([1, 3], [0, 2, 1]) };

  it('mse and l1 (sign(0) = 0)', () => {
    expect(lossValue('mse', y, t)).toBeCloseTo((1 + 0 + 4) / 3, 15);
    expect(Array.from(lossGrad('mse', y, t).data)).toEqual([2 / 3, 0, 4 / 3]);
    expect(lossValue('l1', y, t)).toBeCloseTo((1 + 0 + 2) / 3, 15);
    expect(Array.from(lossGrad('l1', y, t).data)).toEqual([1 / 3, 0, 1 / 3]);
  });

  it('bce clamps each log at -100 and uses aten\'s gradient (values from torch 1.13)', () => {
    // torch.nn.functional.binary_cross_entropy([0, 1, 0.5, 1e-30], [1, 0, 0.25, 1]) = 67.44267272949219,
    // grad [-2.5e11, 2.5e11, 0.25, -2.5e11].
    const yb = tensor([4, 1], [0, 1, 0.5, 1e-30]);
    const tb: Target = { kind: 'input', t: tensor([4, 1], [1, 0, 0.25, 1]) };
    expect(lossValue('bce', yb, tb)).toBeCloseTo(67.44267272949219, 5);
    const g = lossGrad('bce', yb, tb).data;
    expect(g[0]).toBeCloseTo(-2.5e11, -3);
    expect(g[1]).toBeCloseTo(2.5e11, -3);
    expect(g[2]).toBeCloseTo(0.25, 12);
    expect(g[3]).toBeCloseTo(-2.5e11, -3);
    // Exact hits: y = t ∈ {0, 1} costs nothing and has a zero gradient.
    const exact: Target = { kind: 'input', t: tensor([2, 1], [0, 1]) };
    expect(lossValue('bce', tensor([2, 1], [0, 1]), exact)).toBe(0);
    expect(Array.from(lossGrad('bce', tensor([2, 1], [0, 1]), exact).data)).toEqual([0, 0]);
  });

  it('cross-entropy: softmax of [0, ln 2, ln 3] is [1/6, 1/3, 1/2]', () => {
    const z = tensor([1, 3], [0, Math.log(2), Math.log(3)]);
    const lab: Target = { kind: 'label', labels: [2] };
    expect(lossValue('cross_entropy', z, lab)).toBeCloseTo(Math.log(2), 14);
    const g = Array.from(lossGrad('cross_entropy', z, lab).data);
    [1 / 6, 1 / 3, -1 / 2].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 14));
  });

  it('cross-entropy is stable at logits ±1000', () => {
    const z = tensor([2, 2], [1000, -1000, -1000, 1000]);
    const lab: Target = { kind: 'label', labels: [0, 0] };
    expect(lossValue('cross_entropy', z, lab)).toBe(1000); // row 0 costs 0, row 1 costs 2000
    expect(Array.from(lossGrad('cross_entropy', z, lab).data)).toEqual([0, 0, -0.5, 0.5]);
  });

  it('labels: one-hot when C > 1, the label itself when C = 1; a label target equals its dense one', () => {
    const y3 = tensor([2, 3], [0.1, 0.2, 0.7, 0.3, 0.3, 0.4]);
    expect(Array.from(denseTarget('mse', y3, { kind: 'label', labels: [2, 0] }).data)).toEqual([0, 0, 1, 1, 0, 0]);
    expect(Array.from(denseTarget('bce', tensor([2, 1], [0.2, 0.9]), { kind: 'label', labels: [1, 0] }).data)).toEqual([1, 0]);
    for (const kind of KINDS) {
      const lab: Target = { kind: 'label', labels: [2, 0] };
      const dense: Target = { kind: 'input', t: denseTarget(kind, y3, lab) };
      expect(lossValue(kind, y3, lab)).toBeCloseTo(lossValue(kind, y3, dense), 14);
      expect(Array.from(lossGrad(kind, y3, lab).data)).toEqual(Array.from(lossGrad(kind, y3, dense).data));
    }
  });

  it('partial rows: the mean is over valid rows only, later rows get a zero gradient', () => {
    const y4 = tensor([2, 2], [1, 2, 100, -100]);
    const t4: Target = { kind: 'input', t: tensor([2, 2], [0, 0, 0, 0]) };
    expect(lossValue('mse', y4, t4, 1)).toBe(2.5);
    expect(Array.from(lossGrad('mse', y4, t4, 1).data)).toEqual([1, 2, 0, 0]);
  });

  it('accuracy: torch.argmax (first maximum wins) for C > 1, a threshold for C = 1', () => {
    const z = tensor([4, 4], [1, 3, 3, 2, /**/ 1, 3, 3, 2, /**/ 5, 5, 5, 5, /**/ 0, 0, 0, 9]);
    expect(correctCount(z, [1, 2, 0, 3], 4, 0)).toBe(3); // row 1: argmax is 1, not 2
    expect(correctCount(z, [1, 2, 0, 3], 3, 0)).toBe(2); // row 3 not valid
    const p = tensor([4, 1], [0.5, 0.51, 0, -0.1]);
    expect(correctCount(p, [0, 1, 0, 0], 4, 0.5)).toBe(4);
    expect(correctCount(p, [1, 1, 1, 0], 4, 0)).toBe(3); // 0.5 > 0, but 0 is not
    // torch.argmax([1, nan, 3, nan]) = 1 (checked in torch 1.13); a NaN probability predicts 0.
    expect(correctCount(tensor([1, 4], [1, NaN, 3, NaN]), [1], 1, 0)).toBe(1);
    expect(correctCount(tensor([1, 1], [NaN]), [0], 1, 0.5)).toBe(1);
  });
});

describe('loss references: gradients match central finite differences', () => {
  const shapes: [number, number, number][] = [[3, 4, 3], [5, 1, 4], [2, 7, 2]]; // [batch, C, valid rows]
  for (const kind of KINDS) {
    for (const targetKind of ['input', 'label'] as const) {
      for (const [batch, C, rows] of shapes) {
        it(`${kind}, ${targetKind} target, [${batch}, ${C}], ${rows} valid rows`, () => {
          const rng = mulberry32(batch * 100 + C * 10 + rows + kind.length);
          const y = input(kind, [batch, C], rng);
          const target: Target = targetKind === 'input' ? floatTarget(kind, [batch, C], rng) : { kind: 'label', labels: labelsFor(kind, batch, C, rng) };
          const g = lossGrad(kind, y, target, rows);
          const res = checkGradients(() => lossValue(kind, y, target, rows), [y.data], [g.data]);
          expect(res.ok, res.message).toBe(true);
          expect(Array.from(g.data.slice(rows * C)).every((v) => v === 0)).toBe(true);
        });
      }
    }
  }

  it('cross-entropy with large logits (scale 100)', () => {
    const rng = mulberry32(77);
    const y = rand([3, 5], rng);
    y.data.forEach((v, i) => (y.data[i] = 100 * v));
    for (const target of [{ kind: 'label', labels: [0, 4, 2] } as Target, floatTarget('cross_entropy', [3, 5], rng)]) {
      const res = checkGradients(() => lossValue('cross_entropy', y, target), [y.data], [lossGrad('cross_entropy', y, target).data]);
      expect(res.ok, res.message).toBe(true);
    }
  });
});
