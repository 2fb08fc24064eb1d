// Element-wise activations: ReLU, SELU, Sigmoid, Tanh, forward and backward.
import type { Binding } from '../gpu/kernel.ts';
import actWgsl from '../../shaders/activation.wgsl?raw';
import { makeDispatch, shader, type Dispatch } from './dispatch.ts';

export const activationShader = shader('activation', actWgsl);

export type Activation = 'relu' | 'selu' | 'sigmoid' | 'tanh';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'selu', 'sigmoid', 'tanh'];

/** The value of the shaders' `override ACT` for each activation (0 = none); see common.wgsl. */
export const ACTIVATION_CODES: Record<Activation, number> = { relu: 1, selu: 2, sigmoid: 3, tanh: 4 };

/** Pipeline overrides that make a kernel apply `act` to what it stores. */
export const activationOverrides = (act?: Activation): Record<string, number> => (act ? { ACT: ACTIVATION_CODES[act] } : {});

export function activationForward(device: GPUDevice, kind: Activation, count: number, b: { x: Binding; y: Binding },
  label = `${kind}/forward`): Dispatch {
  return makeDispatch(device, activationShader, `${kind}_forward`, label, count, { count }, b);
}

/** dx from the forward *output* y (every derivative here is a function of y alone). */
export function activationBackward(device: GPUDevice, kind: Activation, count: number,
  b: { y: Binding; dy: Binding; dx: Binding }, label = `${kind}/backward`): Dispatch {
  return makeDispatch(device, activationShader, `${kind}_backward`, label, count, { count }, { fy: b.y, g: b.dy, dx: b.dx });
}
