// Adam (torch.optim.Adam semantics, no amsgrad) applied in place. Bias corrections depend only on
// the step number, which the host knows without reading anything back, so they are computed here in
// float64 — as PyTorch computes them in Python — and written with the step's uniform.
import type { Binding } from '../gpu/kernel.ts';
import adamWgsl from '../../shaders/adam.wgsl?raw';
import { makeDispatch, shader, writeUniform, type Dispatch } from './dispatch.ts';

export const adamShader = shader('adam', adamWgsl);

export interface AdamOptions { lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }

export function adamUniform(count: number, o: AdamOptions, step: number) {
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  return {
    count, beta1, beta2, eps: o.eps ?? 1e-8, weight_decay: o.weightDecay ?? 0,
    step_size: o.lr / (1 - beta1 ** step),
    bias_c2_sqrt: Math.sqrt(1 - beta2 ** step),
  };
}

/** `m` and `v` must be zero-initialised buffers of `count` floats. */
export function adamStep(device: GPUDevice, count: number, o: AdamOptions,
  b: { param: Binding; grad: Binding; m: Binding; v: Binding }, label = 'adam/step'): Dispatch {
  return makeDispatch(device, adamShader, 'step', label, count, adamUniform(count, o, 1), b);
}

/** Sets the scalars for step `step` (1-based), before the step's command buffer is submitted. */
export function adamPrepare(device: GPUDevice, d: Dispatch, count: number, o: AdamOptions, step: number): void {
  writeUniform(device, d, adamUniform(count, o, step));
}
