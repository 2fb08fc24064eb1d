// Reference losses in float64, written from PyTorch's definitions, all with reduction 'mean' over
// the first `rows` rows of y = [batch, C] (rows after them do not count and get a zero gradient):
//   mse            L = mean (y − t)²                                  dL/dy = 2 (y − t) / n
//   l1             L = mean |y − t|                                   dL/dy = sign(y − t) / n, sign(0) = 0
//   bce            L = −mean (t·max(log y, −100) + (1 − t)·max(log(1 − y), −100))   (nn.BCELoss)
//                  dL/dy = (y − t) / max((1 − y)·y, 1e-12) / n        (aten's binary_cross_entropy_backward)
//   cross_entropy  L = mean over rows of −Σ_c t_c·log_softmax(y)_c    (nn.CrossEntropyLoss)
//                  dL/dy = (softmax(y)·Σ_c t_c − t) / rows
// n = rows·C. A label target is a class index per row: cross-entropy uses it as t = one-hot; the
// others use the one-hot when C > 1 and the label itself when C = 1.

import { tensor, type Tensor } from './tensor.ts';

export type LossKind = 'mse' | 'l1' | 'bce' | 'cross_entropy';
export type Target = { kind: 'input'; t: Tensor } | { kind: 'label'; labels: readonly number[] };

// Element i of an array the loops below index in range (keeps noUncheckedIndexedAccess quiet).
const at = (a: ArrayLike<number>, i: number): number => a[i]!;

function rowsOf(y: Tensor): [number, number] {
  const batch = y.shape[0];
  if (y.shape.length < 1 || batch === undefined || y.data.length === 0) throw new Error(`loss: bad y shape [${y.shape}]`);
  return [batch, y.data.length / batch];
}

/** The dense target the definitions above use: t itself, or labels expanded per the rules above. */
export function denseTarget(kind: LossKind, y: Tensor, target: Target): Tensor {
  const [batch, C] = rowsOf(y);
  if (target.kind === 'input') {
    if (target.t.shape.join() !== y.shape.join()) throw new Error(`loss: target [${target.t.shape}] != y [${y.shape}]`);
    return target.t;
  }
  if (target.labels.length !== batch) throw new Error(`loss: ${target.labels.length} labels for ${batch} rows`);
  const t = tensor(y.shape);
  for (let r = 0; r < batch; r++) {
    const l = at(target.labels, r);
    if (C === 1 && kind !== 'cross_entropy') t.data[r] = l;
    else t.data[r * C + l] = 1;
  }
  return t;
}

/** Valid rows: 1..batch, the whole batch by default. */
function validRows(y: Tensor, rows?: number): number {
  const [batch] = rowsOf(y);
  const r = rows ?? batch;
  if (!(Number.isInteger(r) && r >= 1 && r <= batch)) throw new Error(`loss: rows ${r} of ${batch}`);
  return r;
}

const clampedLog = (v: number) => Math.max(Math.log(v), -100); // log(0) = −∞ → −100, as PyTorch

function logSoftmaxRow(y: ArrayLike<number>, base: number, C: number): number[] {
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, at(y, base + c));
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(at(y, base + c) - m);
  const lse = m + Math.log(s);
  return Array.from({ length: C }, (_, c) => at(y, base + c) - lse);
}

export function lossValue(kind: LossKind, y: Tensor, target: Target, rowsIn?: number): number {
  const rows = validRows(y, rowsIn);
  const [, C] = rowsOf(y);
  const t = denseTarget(kind, y, target).data;
  let sum = 0;
  if (kind === 'cross_entropy') {
    for (let r = 0; r < rows; r++) {
      const ls = logSoftmaxRow(y.data, r * C, C);
      if (target.kind === 'label') sum -= at(ls, at(target.labels, r)); // not Σ one-hot·ls: 0·(−∞) would be NaN
      else for (let c = 0; c < C; c++) sum -= at(t, r * C + c) * at(ls, c);
    }
    return sum / rows;
  }
  const n = rows * C;
  for (let i = 0; i < n; i++) {
    const v = at(y.data, i), ti = at(t, i);
    if (kind === 'mse') sum += (v - ti) ** 2;
    else if (kind === 'l1') sum += Math.abs(v - ti);
    else sum += -(ti * clampedLog(v) + (1 - ti) * clampedLog(1 - v));
  }
  return sum / n;
}

export function lossGrad(kind: LossKind, y: Tensor, target: Target, rowsIn?: number): Tensor {
  const rows = validRows(y, rowsIn);
  const [, C] = rowsOf(y);
  const t = denseTarget(kind, y, target).data;
  const g = tensor(y.shape);
  if (kind === 'cross_entropy') {
    for (let r = 0; r < rows; r++) {
      const ls = logSoftmaxRow(y.data, r * C, C);
      let tsum = 0;
      for (let c = 0; c < C; c++) tsum += at(t, r * C + c);
      for (let c = 0; c < C; c++) g.data[r * C + c] = (Math.exp(at(ls, c)) * tsum - at(t, r * C + c)) / rows;
    }
    return g;
  }
  const n = rows * C;
  for (let i = 0; i < n; i++) {
    const v = at(y.data, i), d = v - at(t, i);
    if (kind === 'mse') g.data[i] = (2 * d) / n;
    else if (kind === 'l1') g.data[i] = Math.sign(d) / n;
    else g.data[i] = d / Math.max((1 - v) * v, 1e-12) / n;
  }
  return g;
}

/**
 * Rows among the first `rows` whose prediction equals the label: torch.argmax over the row (the
 * first maximum wins; a NaN counts as the maximum, as in torch) when C > 1; y > threshold (0.5 for
 * probabilities, 0 for logits) when C = 1.
 */
export function correctCount(y: Tensor, labels: readonly number[], rowsIn: number, threshold: number): number {
  const rows = validRows(y, rowsIn);
  const [, C] = rowsOf(y);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    let pred: number;
    if (C === 1) pred = at(y.data, r) > threshold ? 1 : 0;
    else {
      pred = 0;
      for (let c = 1; c < C; c++) {
        const v = at(y.data, r * C + c), best = at(y.data, r * C + pred);
        if (!Number.isNaN(best) && (Number.isNaN(v) || v > best)) pred = c;
      }
    }
    if (pred === labels[r]) n++;
  }
  return n;
}
