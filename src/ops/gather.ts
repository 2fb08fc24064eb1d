// Batch gather from the GPU-resident dataset (bytes) into normalised floats.
import type { Binding } from '../gpu/kernel.ts';
import gatherWgsl from '../../shaders/gather.wgsl?raw';
import { makeDispatch, shader, writeUniform, type Dispatch } from './dispatch.ts';

export const gatherShader = shader('gather', gatherWgsl);

/** How bytes map to floats: [0, 1] pairs with a Sigmoid output, [−1, 1] with Tanh. */
export type DataRange = '0,1' | '-1,1';

export interface GatherConfig { batch: number; recordSize: number; orderLength: number; range: DataRange }

function uniform(c: GatherConfig, base: number) {
  const [divisor, shift] = c.range === '0,1' ? [255, 0] : [127.5, -1];
  return { batch: c.batch, record_size: c.recordSize, base, order_len: c.orderLength, divisor, shift };
}

export function gatherBatch(device: GPUDevice, c: GatherConfig, b: { pixels: Binding; order: Binding; x: Binding },
  label = 'data/gather'): Dispatch {
  return makeDispatch(device, gatherShader, 'main', label, c.batch * c.recordSize, uniform(c, 0), b);
}

/** Points the gather at the batch starting at position `base` of the order list. */
export function gatherPrepare(device: GPUDevice, d: Dispatch, c: GatherConfig, base: number): void {
  writeUniform(device, d, uniform(c, base));
}
