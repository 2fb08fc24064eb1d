// Element-wise activations, forward and backward: ReLU, SELU, Sigmoid, Tanh, LeakyReLU, GELU (exact
// erf form), PyTorch semantics. The functions live in common.wgsl so convolutions can fuse them.
import { ConfigError, KilnError } from '../errors.ts';
import type { Binding } from '../gpu/kernel.ts';
import actWgsl from '../../shaders/activation.wgsl?raw';
import { makeDispatch, shader, type Dispatch } from './dispatch.ts';

export const activationShader = shader('activation', actWgsl);

export type Activation = 'relu' | 'selu' | 'sigmoid' | 'tanh' | 'leakyrelu' | 'gelu';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'selu', 'sigmoid', 'tanh', 'leakyrelu', 'gelu'];

/** The value of the shaders' `override ACT` for each activation (0 = none); see common.wgsl. */
export const ACTIVATION_CODES: Record<Activation, number> = { relu: 1, selu: 2, sigmoid: 3, tanh: 4, leakyrelu: 5, gelu: 6 };

/**
 * What each backward reads besides dy: the forward output y where the derivative is a function of
 * y alone, or the input x (GELU: Φ(x) + x·φ(x) cannot be recovered from x·Φ(x)).
 */
export const BACKWARD_READS: Record<Activation, 'x' | 'y'> = {
  relu: 'y', selu: 'y', sigmoid: 'y', tanh: 'y', leakyrelu: 'y', gelu: 'x',
};

/**
 * Whether a training graph may fuse the activation into the preceding convolution's store: only
 * when its backward reads y, since the fused convolution never materialises its pre-activation.
 * (Forward-only use, e.g. inference, may fuse any of them through activationOverrides.)
 */
export const FUSABLE: Record<Activation, boolean> = {
  relu: true, selu: true, sigmoid: true, tanh: true, leakyrelu: true, gelu: false,
};

/** Per-activation settings: LeakyReLU's negative_slope (default 0.01, as nn.LeakyReLU). */
export interface ActivationOptions { negativeSlope?: number }
export const DEFAULT_NEGATIVE_SLOPE = 0.01;

/**
 * LeakyReLU's slope, checked. Its backward is computed from the output, which needs slope ≥ 0 (then
 * y > 0 exactly where x > 0); a negative slope is refused rather than given a wrong gradient.
 */
export function negativeSlope(o: ActivationOptions = {}): number {
  const s = o.negativeSlope ?? DEFAULT_NEGATIVE_SLOPE;
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) {
    throw new ConfigError(`leakyrelu: negative_slope must be a finite number ≥ 0 (its gradient is taken from the output), got ${String(s)}`);
  }
  return s;
}

const slopeOverride = (kind: Activation, o: ActivationOptions): Record<string, number> =>
  (kind === 'leakyrelu' ? { SLOPE: negativeSlope(o) } : {});

/** Pipeline overrides that make a kernel apply `act` to what it stores (with LeakyReLU's slope). */
export const activationOverrides = (act?: Activation, o: ActivationOptions = {}): Record<string, number> =>
  (act ? { ACT: ACTIVATION_CODES[act], ...slopeOverride(act, o) } : {});

/**
 * Pipeline overrides that make a kernel apply `act`'s backward to what it stores (ACT_GRAD, read from
 * the activation's output; with LeakyReLU's slope): a pool's backward, a loss gradient, a conv's
 * input gradient.
 */
export const activationGradOverrides = (act?: Activation, o: ActivationOptions = {}): Record<string, number> =>
  (act ? { ACT_GRAD: ACTIVATION_CODES[act], ...slopeOverride(act, o) } : {});

/** Counts that are multiples of 4 run the vec4 entries (see activation.wgsl), the rest one element an invocation. */
const vec4s = (count: number) => count % 4 === 0;

export function activationForward(device: GPUDevice, kind: Activation, count: number, b: { x: Binding; y: Binding },
  label = `${kind}/forward`, o: ActivationOptions = {}): Dispatch {
  if (vec4s(count)) {
    return makeDispatch(device, activationShader, 'forward4', label, count / 4, { count }, { x4: b.x, y4: b.y }, activationOverrides(kind, o));
  }
  return makeDispatch(device, activationShader, `${kind}_forward`, label, count, { count }, b, slopeOverride(kind, o));
}

/** dx from dy and the forward tensor BACKWARD_READS[kind] names (x or y; the other may be omitted). */
export function activationBackward(device: GPUDevice, kind: Activation, count: number,
  b: { x?: Binding; y?: Binding; dy: Binding; dx: Binding }, label = `${kind}/backward`, o: ActivationOptions = {}): Dispatch {
  const reads = BACKWARD_READS[kind];
  const saved = b[reads];
  if (!saved) {
    throw new KilnError(`${label}: ${kind} backward reads the forward ${reads === 'x' ? 'input x' : 'output y'}, which was not given`);
  }
  if (vec4s(count)) {
    const bindings: Record<string, Binding> = { [reads === 'y' ? 'fy4' : 'x4']: saved, g4: b.dy, dx4: b.dx };
    return kind === 'gelu'
      ? makeDispatch(device, activationShader, 'gelu_backward4', label, count / 4, { count }, bindings)
      : makeDispatch(device, activationShader, 'backward4', label, count / 4, { count }, bindings, activationOverrides(kind, o));
  }
  const bindings: Record<string, Binding> = { [reads === 'y' ? 'fy' : 'x']: saved, g: b.dy, dx: b.dx };
  return makeDispatch(device, activationShader, `${kind}_backward`, label, count, { count }, bindings, slopeOverride(kind, o));
}
