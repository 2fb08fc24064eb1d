// The loss family (reduction 'mean', PyTorch semantics): MSE, L1, BCE on probabilities and
// cross-entropy on logits, each fused with its gradient dL/dy, against a float target shaped like y
// ('input': reconstruction) or one integer label per row ('label'). Optionally counts the rows whose
// prediction equals the label (accuracy). The loss and the count go into slots of GPU buffers and
// are never read back here. Which rows are valid, and which slots, are set per step (lossPrepare).
import { ShapeError, FormatError } from '../errors.ts';
import type { Binding } from '../gpu/kernel.ts';
import lossWgsl from '../../shaders/loss.wgsl?raw';
import { makeDispatch, placeholder, shader, writeUniform, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';
import { activationGradOverrides } from './activation.ts';

export const lossShader = shader('loss', lossWgsl);

export type LossKind = 'mse' | 'l1' | 'bce' | 'cross_entropy';
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'l1', 'bce', 'cross_entropy'];
/** The shader's `override KIND` for each loss. */
export const LOSS_CODES: Record<LossKind, number> = { mse: 0, l1: 1, bce: 2, cross_entropy: 3 };

/** 'input': a float tensor shaped like y; 'label': one u32 per row (class index, or 0/1 when C = 1). */
export type LossTarget = 'input' | 'label';
/** What a single value per row is, for accuracy: probabilities predict 1 above 0.5, logits above 0. */
export type Prediction = 'probabilities' | 'logits';

export interface LossArgs {
  kind: LossKind;
  /** Rows of y as planned (a step may mark fewer valid). */
  batch: number;
  /** Values per row, C: classes for cross-entropy, C·H·W for a reconstruction. */
  values: number;
  target: LossTarget;
  /** Write dy (default true); evaluation passes false and binds no dy. */
  grad?: boolean;
  /** Count correct rows into `correct` (label targets only); says how C = 1 rows are thresholded. */
  accuracy?: Prediction;
  /**
   * The model's output activation, whose backward the gradient continues through (its backward
   * reads y alone): dy is then the gradient at the activation's input. Not for cross-entropy.
   */
  actGrad?: { kind: 'relu' | 'selu' | 'sigmoid' | 'tanh' | 'leakyrelu'; slope: number };
}

export interface LossStep {
  /** Slot of `loss` this step writes. */
  lossIndex: number;
  /** Valid leading rows, 1..batch; the mean is over them only, the others get dy = 0. */
  rows: number;
  /** Slot of `correct` (default: lossIndex, a count ring parallel to the loss ring). */
  correctIndex?: number;
}

// ---- Host-side checks (no GPU): configurations and label data the kernel must never see. ----

const positive = (v: number) => Number.isInteger(v) && v >= 1;

export function checkLossArgs(a: LossArgs): void {
  if (!LOSS_KINDS.includes(a.kind)) throw new ShapeError(`loss: unknown kind '${a.kind}' (one of ${LOSS_KINDS.join(', ')})`);
  if (!positive(a.batch)) throw new ShapeError(`loss ${a.kind}: batch must be a positive integer, got ${a.batch}`);
  if (!positive(a.values)) throw new ShapeError(`loss ${a.kind}: values per row must be a positive integer, got ${a.values}`);
  if (a.target !== 'input' && a.target !== 'label') throw new ShapeError(`loss ${a.kind}: target must be 'input' or 'label', got '${a.target}'`);
  if (a.accuracy !== undefined) {
    if (a.target !== 'label') throw new ShapeError(`loss ${a.kind}: accuracy needs label targets`);
    if (a.accuracy !== 'probabilities' && a.accuracy !== 'logits') {
      throw new ShapeError(`loss ${a.kind}: accuracy must be 'probabilities' or 'logits', got '${a.accuracy}'`);
    }
  }
}

/** Labels below this are valid: a class below C; for MSE, L1 and BCE also 0/1 when C = 1 (binary). */
export const labelLimit = (kind: LossKind, values: number): number => (kind === 'cross_entropy' ? values : Math.max(values, 2));

/** Refuses label data the kernel would only turn into NaN: the first bad label is named. */
export function checkLabels(a: Pick<LossArgs, 'kind' | 'values'>, labels: ArrayLike<number>): void {
  const limit = labelLimit(a.kind, a.values);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!(Number.isInteger(l) && l >= 0 && l < limit)) {
      throw new FormatError(`loss ${a.kind}: label ${l} at row ${i} is out of range (0..${limit - 1} for ${a.values} value(s) per row)`);
    }
  }
}

function checkStep(a: LossArgs, s: LossStep): void {
  if (!(Number.isInteger(s.rows) && s.rows >= 1 && s.rows <= a.batch)) {
    throw new ShapeError(`loss ${a.kind}: valid rows must be an integer in 1..${a.batch}, got ${s.rows}`);
  }
}

// ---- Kernels ----

/** Elements per invocation the element-wise pass aims for, and the most partial sums it writes. */
const PER_PART = 8;
const MAX_PARTS = 4096;

/** Partial sums the first pass writes: the length of the `partials` scratch buffer. */
export function lossParts(a: LossArgs): number {
  if (a.kind === 'cross_entropy') return a.batch;
  return Math.min(MAX_PARTS, Math.ceil((a.batch * a.values) / PER_PART));
}

function uniform(a: LossArgs, s: LossStep) {
  const count = a.kind === 'cross_entropy' ? s.rows : s.rows * a.values;
  return {
    total: a.batch * a.values, values: a.values, rows: s.rows, parts: lossParts(a), count,
    loss_index: s.lossIndex, correct_index: s.correctIndex ?? s.lossIndex,
    grad_scale: (a.kind === 'mse' ? 2 : 1) / count,
  };
}

function overrides(a: LossArgs): Record<string, number> {
  const acc = a.accuracy === undefined ? 0 : a.accuracy === 'probabilities' ? 1 : 2;
  return {
    KIND: LOSS_CODES[a.kind], TARGET: a.target === 'label' ? 1 : 0, GRAD: a.grad === false ? 0 : 1, ACC: acc,
    ...activationGradOverrides(a.actGrad?.kind, { negativeSlope: a.actGrad?.slope }),
  };
}

// Bound where an output is not written (no dy, no count). The shared placeholder cannot be: a
// dispatch may not bind one buffer both read-only (an unused input) and writable.
const sinks = new WeakMap<GPUDevice, GPUBuffer>();
function sink(device: GPUDevice): GPUBuffer {
  let b = sinks.get(device);
  if (!b) {
    b = device.createBuffer({ label: 'loss.unused_output', size: 16, usage: GPUBufferUsage.STORAGE });
    sinks.set(device, b);
  }
  return b;
}

export interface LossBindings {
  y: Binding;
  /** Floats shaped like y ('input'), or u32 labels, one per row ('label'). */
  target: Binding;
  /** Required unless grad is false. */
  dy?: Binding;
  /** lossParts(args) floats. */
  partials: Binding;
  loss: Binding;
  /** Required with accuracy. */
  correct?: Binding;
}

/**
 * Two dispatches: the gradient and partial sums, then the mean into loss[lossIndex] (and the correct
 * count into correct[correctIndex]). `step` defaults to every row valid, slot 0.
 */
export function lossDispatches(device: GPUDevice, a: LossArgs, b: LossBindings, label = `loss/${a.kind}`,
  step: LossStep = { lossIndex: 0, rows: a.batch }): Dispatch[] {
  checkLossArgs(a);
  checkStep(a, step);
  const grad = a.grad !== false;
  if (grad && !b.dy) throw new ShapeError(`loss ${a.kind}: dy must be bound when the gradient is written`);
  if (a.accuracy && !b.correct) throw new ShapeError(`loss ${a.kind}: correct must be bound with accuracy`);
  const none = placeholder(device);
  const byLabel = a.target === 'label';
  const u = uniform(a, step);
  const o = overrides(a);
  const ce = a.kind === 'cross_entropy';
  // Element-wise losses on rows of whole vec4s against a float target run as vec4s (loss.wgsl).
  const vec4 = !ce && !byLabel && a.values % 4 === 0;
  const first = vec4
    ? makeDispatch(device, lossShader, 'pointwise4', `${label}/grad`, lossParts(a), u,
      { y4: b.y, target4: b.target, dy4: grad ? b.dy! : sink(device), partial: b.partials }, o)
    : makeDispatch(device, lossShader, ce ? 'softmax_rows' : 'pointwise', `${label}/grad`, ce ? a.batch : lossParts(a), u, {
      y: b.y, target_: byLabel ? none : b.target, labels: byLabel ? b.target : none, dy: grad ? b.dy! : sink(device), partial: b.partials,
    }, o);
  return [
    first,
    makeDispatch(device, lossShader, 'finish', `${label}/finish`, 1, u, {
      partial_in: b.partials, loss: b.loss,
      y: a.accuracy ? b.y : none, labels: a.accuracy ? b.target : none, correct: a.accuracy ? b.correct! : sink(device),
    }, { ACC: o.ACC! }), // finish reads no other override: one pipeline serves every loss
  ];
}

/** Sets the valid rows and the slots for the next submitted step (both passes read them). */
export function lossPrepare(device: GPUDevice, ds: readonly Dispatch[], a: LossArgs, step: LossStep): void {
  checkStep(a, step);
  const u = uniform(a, step);
  for (const d of ds) writeUniform(device, d, u);
}

/** io: y, target → loss, dy, partials, correct (dy and correct only where the args ask for them). */
export const lossPass = singlePass<LossArgs>('loss', ['y', 'target'], ['loss', 'dy', 'partials', 'correct'],
  (d, a, io, label) => lossDispatches(d, a, { y: io.y!, target: io.target!, dy: io.dy, partials: io.partials!, loss: io.loss!, correct: io.correct }, label),
  { perStep: (d, ds, a, s) => lossPrepare(d, ds, a, { lossIndex: s.lossSlot, rows: s.rows }) });
