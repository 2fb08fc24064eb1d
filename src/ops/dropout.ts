// Dropout in training mode, forward and backward, with its mask recomputed from a counter-based
// generator (Philox4x32-10, see dropout.wgsl) instead of stored: (seed, step, salt, element index)
// decide it. In evaluation mode dropout is the identity and needs no dispatch.
import { ConfigError } from '../errors.ts';
import type { Binding } from '../gpu/kernel.ts';
import dropoutWgsl from '../../shaders/dropout.wgsl?raw';
import { makeDispatch, shader, writeUniform, type Dispatch } from './dispatch.ts';

export const dropoutShader = shader('dropout', dropoutWgsl);

/**
 * p: the probability of zeroing an element (nn.Dropout's p). seed: the run's seed. salt: tells the
 * layers of one model apart (e.g. the layer index), so two dropouts never share a mask. All u32.
 */
export interface DropoutOptions { p: number; seed: number; salt: number }

const isU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** The uniform for training step `step`: p becomes an integer threshold on the 32-bit draws. */
export function dropoutUniform(count: number, o: DropoutOptions, step: number) {
  if (typeof o.p !== 'number' || !(o.p >= 0 && o.p <= 1)) throw new ConfigError(`dropout: p must be in [0, 1], got ${String(o.p)}`);
  for (const [name, v] of [['seed', o.seed], ['salt', o.salt], ['step', step]] as const) {
    if (!isU32(v)) throw new ConfigError(`dropout: ${name} must be an integer in [0, 2^32), got ${String(v)}`);
  }
  // p = 1 keeps nothing: scale 0 and every draw kept, so y = x · 0 (NaN stays NaN, as in PyTorch).
  const threshold = o.p === 1 ? 0 : Math.min(0xffffffff, Math.round(o.p * 2 ** 32));
  return { count, seed: o.seed, step, salt: o.salt, threshold, scale: o.p === 1 ? 0 : 1 / (1 - o.p) };
}

const blocks = (count: number) => Math.ceil(count / 4);

/** y = x · mask / (1 − p) for step 0; call dropoutPrepare before each step's submission. */
export function dropoutForward(device: GPUDevice, count: number, o: DropoutOptions, b: { x: Binding; y: Binding },
  label = 'dropout/forward'): Dispatch {
  return makeDispatch(device, dropoutShader, 'apply', label, blocks(count), dropoutUniform(count, o, 0), b);
}

/** dx = dy · mask / (1 − p), the mask redrawn from the same counters as the forward pass of that step. */
export function dropoutBackward(device: GPUDevice, count: number, o: DropoutOptions, b: { dy: Binding; dx: Binding },
  label = 'dropout/backward'): Dispatch {
  return makeDispatch(device, dropoutShader, 'apply', label, blocks(count), dropoutUniform(count, o, 0), { x: b.dy, y: b.dx });
}

/** Points a layer's dropout dispatches (forward and backward) at training step `step` (and o's seed). */
export function dropoutPrepare(device: GPUDevice, dispatches: readonly Dispatch[], count: number, o: DropoutOptions, step: number): void {
  const u = dropoutUniform(count, o, step);
  for (const d of dispatches) writeUniform(device, d, u);
}
