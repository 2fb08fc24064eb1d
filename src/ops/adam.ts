// Adam (torch.optim.Adam semantics, no amsgrad) applied in place. Bias corrections depend only on
// the step number, which the host knows without reading anything back, so they are computed here in
// float64 — as PyTorch computes them in Python — and written with the step's uniform.
import type { Binding } from '../gpu/kernel.ts';
import adamWgsl from '../../shaders/adam.wgsl?raw';
import { makeDispatch, placeholder, shader, writeUniform, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';

export const adamShader = shader('adam', adamWgsl);

/**
 * `weightDecay` is Adam's L2 term (added to the gradient); with `decoupled` it is AdamW's decay
 * (the parameter shrinks by lr·weightDecay before the Adam update), as torch.optim.AdamW.
 */
export interface AdamOptions { lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number; decoupled?: boolean }

export function adamUniform(count: number, o: AdamOptions, step: number, slot = 0) {
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  return {
    count, beta1, beta2, eps: o.eps ?? 1e-8,
    weight_decay: o.decoupled ? 0 : o.weightDecay ?? 0,
    decay_factor: o.decoupled ? 1 - o.lr * (o.weightDecay ?? 0) : 1,
    step_size: o.lr / (1 - beta1 ** step),
    bias_c2_sqrt: Math.sqrt(1 - beta2 ** step),
    status_index: 2 * slot,
  };
}

/**
 * `m` and `v` must be zero-initialised buffers of `count` floats. With the guard's `status` ring and
 * `halt` word, a flagged step is skipped; without them the update always applies.
 */
export function adamStep(device: GPUDevice, count: number, o: AdamOptions,
  b: { param: Binding; grad: Binding; m: Binding; v: Binding; status?: Binding; halt?: Binding }, label = 'adam/step'): Dispatch {
  const flags = { status: b.status ?? placeholder(device), halt: b.halt ?? placeholder(device) };
  // Whole vec4s: four parameters an invocation (adam.wgsl's step4), the same bits.
  if (count % 4 === 0) {
    return makeDispatch(device, adamShader, 'step4', label, count / 4, adamUniform(count, o, 1),
      { param4: b.param, grad4: b.grad, m4: b.m, v4: b.v, ...flags });
  }
  return makeDispatch(device, adamShader, 'step', label, count, adamUniform(count, o, 1), { param: b.param, grad: b.grad, m: b.m, v: b.v, ...flags });
}

/** Sets the scalars for step `step` (1-based) and its guard slot, before the step's command buffer is submitted. */
export function adamPrepare(device: GPUDevice, d: Dispatch, count: number, o: AdamOptions, step: number, slot = 0): void {
  writeUniform(device, d, adamUniform(count, o, step, slot));
}

export interface AdamArgs { count: number; options: AdamOptions }

/** io: param, grad, m, v (all flat, `count` floats); the step's bias corrections are set per step. */
export const adamPass = singlePass<AdamArgs>('optimizer.adam', ['grad', 'param', 'm', 'v', 'status', 'halt'], ['param', 'm', 'v'],
  (d, a, io, label) => [adamStep(d, a.count, a.options,
    { param: io.param!, grad: io.grad!, m: io.m!, v: io.v!, status: io.status, halt: io.halt }, label)],
  { perStep: (d, [k], a, s) => adamPrepare(d, k!, a.count, a.options, s.step, s.lossSlot) });
