// BatchNorm2d (PyTorch semantics): training forward with batch statistics and running-statistics
// update, evaluation forward with the running statistics, and backward (dx, and dγ, dβ with affine).
// The caller allocates two small buffers: `saved` (batchnorm2dSavedSize floats: per-channel
// statistics the backward reads) and `scratch` (batchnorm2dScratchSize floats: per-part partial
// sums, reusable by forward and backward and by other layers).
import { ConfigError, KilnError, ShapeError } from '../errors.ts';
import type { Binding } from '../gpu/kernel.ts';
import { checkShape4, fmt, type Shape4 } from '../geometry/util.ts';
import bnWgsl from '../../shaders/batchnorm2d.wgsl?raw';
import { makeDispatch, placeholder, shader, writeUniform, type Dispatch } from './dispatch.ts';

export const batchnorm2dShader = shader('batchnorm2d', bnWgsl);

/** PyTorch's defaults: eps 1e-5, momentum 0.1, affine true. */
export interface BatchNormOptions { eps?: number; momentum?: number; affine?: boolean }

export interface BatchNormGeometry {
  shape: Shape4;
  channels: number;
  /** Values per channel, N·H·W: what each statistic is taken over. */
  count: number;
  /** A channel's values are reduced in this many interleaved parts, in parallel, then merged in order. */
  parts: number;
}

/** At most this many parts per channel (enough threads for few channels), of at least MIN_PART values. */
const MAX_PARTS = 256;
const MIN_PART = 32;

export function batchnorm2dGeometry(input: readonly number[], op = 'batchnorm2d'): BatchNormGeometry {
  const shape = checkShape4(op, 'input', input);
  const [n, c, h, w] = shape;
  const count = n * h * w;
  return { shape, channels: c, count, parts: Math.min(MAX_PARTS, Math.ceil(count / MIN_PART)) };
}

export const batchnorm2dSavedSize = (g: BatchNormGeometry): number => 4 * g.channels;
export const batchnorm2dScratchSize = (g: BatchNormGeometry): number => 2 * g.channels * g.parts;

function uniform(g: BatchNormGeometry, o: BatchNormOptions, momentum = o.momentum ?? 0.1) {
  const eps = o.eps ?? 1e-5;
  if (!(Number.isFinite(eps) && eps >= 0)) throw new ConfigError(`batchnorm2d: eps must be a finite number ≥ 0, got ${String(eps)}`);
  if (!Number.isFinite(momentum)) throw new ConfigError(`batchnorm2d: momentum must be a finite number, got ${String(momentum)}`);
  const [, c, h, w] = g.shape;
  return {
    channels: c, plane: h * w, count: g.count, parts: g.parts, total: g.count * c,
    affine: affine(o) ? 1 : 0, eps, momentum,
  };
}

const affine = (o: BatchNormOptions) => o.affine ?? true;

function required<T>(label: string, what: string, v: T | undefined): T {
  if (v === undefined) throw new KilnError(`${label}: affine batchnorm2d needs '${what}'`);
  return v;
}

/** γ and β bindings, or a placeholder (never read) without affine. */
function params(device: GPUDevice, o: BatchNormOptions, b: { weight?: Binding; bias?: Binding }, label: string) {
  if (!affine(o)) return { weight: placeholder(device), bias: placeholder(device) };
  return { weight: required(label, 'weight', b.weight), bias: required(label, 'bias', b.bias) };
}

/**
 * Training forward: three dispatches (per-part statistics, per-channel merge + running update, normalise).
 * Writes y, saved (mean, invstd) and updates runningMean/runningVar in place. Momentum can be changed
 * per step with batchnorm2dPrepare.
 */
export function batchnorm2dForwardTrain(device: GPUDevice, g: BatchNormGeometry, o: BatchNormOptions,
  b: { x: Binding; y: Binding; weight?: Binding; bias?: Binding; scratch: Binding; saved: Binding; runningMean: Binding; runningVar: Binding },
  label = 'batchnorm2d/forward'): Dispatch[] {
  if (g.count < 2) {
    throw new ShapeError(`batchnorm2d: training needs more than one value per channel, got input ${fmt(g.shape)}`);
  }
  const u = uniform(g, o);
  return [
    makeDispatch(device, batchnorm2dShader, 'stats_partial', `${label}/stats`, g.channels * g.parts, u, { x: b.x, partial: b.scratch }),
    makeDispatch(device, batchnorm2dShader, 'stats_finish', `${label}/merge`, g.channels, u,
      { partial_in: b.scratch, saved: b.saved, running_mean: b.runningMean, running_var: b.runningVar }),
    makeDispatch(device, batchnorm2dShader, 'normalize_train', `${label}/normalize`, g.count * g.channels, u,
      { x: b.x, y: b.y, saved_in: b.saved, ...params(device, o, b, label) }),
  ];
}

/**
 * Sets the running-statistics factor for the next submitted step: nn.BatchNorm2d's momentum, or for
 * momentum=None (a cumulative average) 1 / num_batches_tracked, computed by the caller.
 */
export function batchnorm2dPrepare(device: GPUDevice, forward: readonly Dispatch[], g: BatchNormGeometry, o: BatchNormOptions,
  momentum: number): void {
  const u = uniform(g, o, momentum);
  for (const d of forward) writeUniform(device, d, u);
}

/** Evaluation forward: normalises with runningMean/runningVar (read only). */
export function batchnorm2dForwardEval(device: GPUDevice, g: BatchNormGeometry, o: BatchNormOptions,
  b: { x: Binding; y: Binding; weight?: Binding; bias?: Binding; runningMean: Binding; runningVar: Binding },
  label = 'batchnorm2d/forward-eval'): Dispatch {
  return makeDispatch(device, batchnorm2dShader, 'normalize_eval', label, g.count * g.channels, uniform(g, o),
    { x: b.x, y: b.y, running_mean: b.runningMean, running_var: b.runningVar, ...params(device, o, b, label) });
}

/**
 * Backward of the training forward: dx, and with affine dweight (dγ) and dbias (dβ), written (not
 * accumulated). Reads x and the forward's `saved`; adds two per-channel means to `saved`.
 */
export function batchnorm2dBackward(device: GPUDevice, g: BatchNormGeometry, o: BatchNormOptions,
  b: { x: Binding; dy: Binding; dx: Binding; weight?: Binding; dweight?: Binding; dbias?: Binding; scratch: Binding; saved: Binding },
  label = 'batchnorm2d/backward'): Dispatch[] {
  const u = uniform(g, o);
  const finish = affine(o)
    ? makeDispatch(device, batchnorm2dShader, 'grad_finish_affine', `${label}/dparams`, g.channels, u,
      { partial_in: b.scratch, saved: b.saved, dweight: required(label, 'dweight', b.dweight), dbias: required(label, 'dbias', b.dbias) })
    : makeDispatch(device, batchnorm2dShader, 'grad_finish', `${label}/sums`, g.channels, u, { partial_in: b.scratch, saved: b.saved });
  return [
    makeDispatch(device, batchnorm2dShader, 'grad_partial', `${label}/partial`, g.channels * g.parts, u,
      { x: b.x, g: b.dy, partial: b.scratch, saved_in: b.saved }),
    finish,
    makeDispatch(device, batchnorm2dShader, 'grad_input', `${label}/dx`, g.count * g.channels, u,
      { x: b.x, g: b.dy, dx: b.dx, saved_in: b.saved, weight: affine(o) ? required(label, 'weight', b.weight) : placeholder(device) }),
  ];
}
