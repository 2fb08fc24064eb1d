// Element-wise activations: ReLU, SELU, Sigmoid, Tanh, forward and backward.
import type { Binding } from '../gpu/kernel.ts';
import actWgsl from '../../shaders/activation.wgsl?raw';
import { makeDispatch, shader, type Dispatch } from './dispatch.ts';

export const activationShader = shader('activation', actWgsl);

export type Activation = 'relu' | 'selu' | 'sigmoid' | 'tanh';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'selu', 'sigmoid', 'tanh'];

/** Which forward tensor each backward reads: the input x, or the output y (cheaper, no exp()). */
export const BACKWARD_READS: Record<Activation, 'x' | 'y'> = { relu: 'x', selu: 'x', sigmoid: 'y', tanh: 'y' };

export function activationForward(device: GPUDevice, kind: Activation, count: number, b: { x: Binding; y: Binding },
  label = `${kind}/forward`): Dispatch {
  return makeDispatch(device, activationShader, `${kind}_forward`, label, count, { count }, b);
}

/** `saved` is the forward input for relu/selu and the forward output for sigmoid/tanh (see BACKWARD_READS). */
export function activationBackward(device: GPUDevice, kind: Activation, count: number,
  b: { saved: Binding; dy: Binding; dx: Binding }, label = `${kind}/backward`): Dispatch {
  const saved = BACKWARD_READS[kind] === 'x' ? 'x' : 'fy';
  return makeDispatch(device, activationShader, `${kind}_backward`, label, count, { count },
    { [saved]: b.saved, g: b.dy, dx: b.dx });
}
