// Mean squared error: the loss (written into a slot of a loss buffer, never read back here) and its
// gradient 2(y − t)/N.
import type { Binding } from '../gpu/kernel.ts';
import mseWgsl from '../../shaders/mse.wgsl?raw';
import { makeDispatch, shader, writeUniform, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';

export const mseShader = shader('mse', mseWgsl);

/** Partial sums in the first reduction pass; also the length of the scratch buffer it needs. */
export const MSE_PARTS = 256;

function uniform(count: number, lossIndex: number) {
  return { count, loss_index: lossIndex, scale: 2 / count };
}

/** Two dispatches: strided partial sums into `scratch` (MSE_PARTS floats), then their mean into loss[lossIndex]. */
export function mseLoss(device: GPUDevice, count: number, lossIndex: number,
  b: { y: Binding; target: Binding; scratch: Binding; loss: Binding }, label = 'mse/loss'): Dispatch[] {
  const overrides = { PARTS: MSE_PARTS };
  return [
    makeDispatch(device, mseShader, 'partial_sums', `${label}/partial`, MSE_PARTS, uniform(count, lossIndex),
      { y: b.y, target_: b.target, partial: b.scratch }, overrides),
    makeDispatch(device, mseShader, 'finish', `${label}/finish`, 1, uniform(count, lossIndex),
      { partial_in: b.scratch, loss: b.loss }, overrides),
  ];
}

/** Points an mseLoss pair at another loss slot (the trainer's ring), for the next submitted step. */
export function msePrepare(device: GPUDevice, loss: readonly Dispatch[], count: number, lossIndex: number): void {
  writeUniform(device, loss[1]!, uniform(count, lossIndex));
}

export function mseGrad(device: GPUDevice, count: number, b: { y: Binding; target: Binding; dy: Binding },
  label = 'mse/grad'): Dispatch {
  return makeDispatch(device, mseShader, 'grad', label, count, uniform(count, 0), { y: b.y, target_: b.target, dy: b.dy });
}

export interface MseArgs { count: number }

/** io: y, target → loss (the ring; this step's slot set per step), dy, partials. */
export const msePass = singlePass<MseArgs>('loss.mse', ['y', 'target'], ['loss', 'dy', 'partials'],
  (d, a, io, label) => [
    ...mseLoss(d, a.count, 0, { y: io.y!, target: io.target!, scratch: io.partials!, loss: io.loss! }, label),
    mseGrad(d, a.count, { y: io.y!, target: io.target!, dy: io.dy! }, `${label}/grad`),
  ],
  { perStep: (d, ds, a, s) => msePrepare(d, ds.slice(0, 2), a.count, s.lossSlot) });
