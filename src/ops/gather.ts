// Batch gather from the GPU-resident dataset (bytes and labels) into normalised floats.
import gatherWgsl from '../../shaders/gather.wgsl?raw';
import { rangeScale, type DataRange } from '../data/range.ts';
import { makeDispatch, shader, writeUniform } from './dispatch.ts';
import { singlePass } from './variant.ts';

export const gatherShader = shader('gather', gatherWgsl);
export type { DataRange };

export interface GatherArgs { batch: number; recordSize: number; orderLength: number; range: DataRange }

function uniform(c: GatherArgs, base: number) {
  const { divisor, shift } = rangeScale(c.range);
  return { batch: c.batch, record_size: c.recordSize, base, order_len: c.orderLength, divisor, shift };
}

/** io: pixels, order, labels → x, y_labels. The batch position is set per step. */
export const gatherPass = singlePass<GatherArgs>('data.gather', ['pixels', 'order', 'labels'], ['x', 'y_labels'],
  (device, c, io, label) => [c.recordSize % 16 === 0
    ? makeDispatch(device, gatherShader, 'main16', label, c.batch * (c.recordSize / 16), uniform(c, 0),
      { pixels4: io.pixels!, order: io.order!, labels: io.labels!, x4: io.x!, y_labels: io.y_labels! })
    : c.recordSize % 4 === 0
    ? makeDispatch(device, gatherShader, 'main4', label, c.batch * (c.recordSize / 4), uniform(c, 0),
      { pixels: io.pixels!, order: io.order!, labels: io.labels!, x4: io.x!, y_labels: io.y_labels! })
    : makeDispatch(device, gatherShader, 'main', label, c.batch * c.recordSize, uniform(c, 0), io)],
  { perStep: (device, [d], c, s) => writeUniform(device, d!, uniform(c, s.batchBase)) });
