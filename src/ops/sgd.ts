// SGD (torch.optim.SGD semantics) applied in place. The uniform is rewritten per step only because
// the first step seeds the momentum buffer differently.
import type { Binding } from '../gpu/kernel.ts';
import sgdWgsl from '../../shaders/sgd.wgsl?raw';
import { makeDispatch, placeholder, shader, writeUniform, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';

export const sgdShader = shader('sgd', sgdWgsl);

export interface SgdOptions { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }

function uniform(count: number, o: SgdOptions, step: number, slot = 0) {
  const momentum = o.momentum ?? 0;
  return {
    count, first_step: step === 1 ? 1 : 0, nesterov: o.nesterov ? 1 : 0, has_momentum: momentum !== 0 ? 1 : 0,
    lr: o.lr, momentum, dampening: o.dampening ?? 0, weight_decay: o.weightDecay ?? 0, status_index: 2 * slot,
  };
}

/**
 * `momentum` must be a zero-initialised buffer of `count` floats (bound even when momentum is 0).
 * With the guard's `status` ring and `halt` word, a flagged step is skipped.
 */
export function sgdStep(device: GPUDevice, count: number, o: SgdOptions,
  b: { param: Binding; grad: Binding; momentum: Binding; status?: Binding; halt?: Binding }, label = 'sgd/step'): Dispatch {
  const flags = { status: b.status ?? placeholder(device), halt: b.halt ?? placeholder(device) };
  // Whole vec4s: four parameters an invocation (sgd.wgsl's step4), the same bits.
  if (count % 4 === 0) {
    return makeDispatch(device, sgdShader, 'step4', label, count / 4, uniform(count, o, 1),
      { param4: b.param, grad4: b.grad, momentum_buf4: b.momentum, ...flags });
  }
  return makeDispatch(device, sgdShader, 'step', label, count, uniform(count, o, 1),
    { param: b.param, grad: b.grad, momentum_buf: b.momentum, ...flags });
}

/** Sets the scalars for step `step` (1-based) and its guard slot, before the step's command buffer is submitted. */
export function sgdPrepare(device: GPUDevice, d: Dispatch, count: number, o: SgdOptions, step: number, slot = 0): void {
  writeUniform(device, d, uniform(count, o, step, slot));
}

export interface SgdArgs { count: number; options: SgdOptions }

/** io: param, grad, momentum (flat, `count` floats); the first step is flagged per step. */
export const sgdPass = singlePass<SgdArgs>('optimizer.sgd', ['grad', 'param', 'momentum', 'status', 'halt'], ['param', 'momentum'],
  (d, a, io, label) => [sgdStep(d, a.count, a.options,
    { param: io.param!, grad: io.grad!, momentum: io.momentum!, status: io.status, halt: io.halt }, label)],
  { perStep: (d, [k], a, s) => sgdPrepare(d, k!, a.count, a.options, s.step, s.lossSlot) });
