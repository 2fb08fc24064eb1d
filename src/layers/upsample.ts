// Nearest-neighbour upsampling by integer factors (nn.Upsample(scale_factor=s, mode='nearest')).
import { ShapeError } from '../errors.ts';
import { upsampleGeometry } from '../geometry/upsample.ts';
import type { Pair } from '../geometry/util.ts';
import type { LayerRecord, Shape } from './types.ts';

export interface UpsampleFields { scale: Pair }

function image(x: Shape): number[] {
  if (x.length !== 3) throw new ShapeError(`upsample needs a [channels, height, width] input, got [${x.join(', ')}]`);
  return [...x];
}

const factors = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);

export const upsample: LayerRecord<UpsampleFields> = {
  type: 'upsample', doc: 'repeats every pixel scale_h × scale_w times (nearest)',
  fields: { scale: { kind: 'pair', min: 1, doc: 'integer factor, a number or [h, w]' } },
  shape: (x, f) => { const g = upsampleGeometry([1, ...image(x)], f); return [g.outShape[1], g.outShape[2], g.outShape[3]]; },
  params: () => [],
  buffers: () => [],
  forward(b, L, x) {
    const g = upsampleGeometry([b.batch, ...L.inShape], L.fields);
    const y = b.tensor('out', g.outShape);
    b.node('forward', 'forward', 'upsample.forward', g, { x }, { y });
    return { x, y };
  },
  backward(b, L, { x }, dy, needDx) {
    if (!needDx) return undefined;
    const dx = b.tensor('grad_in', x.shape);
    b.node('backward', 'backward', 'upsample.backward', upsampleGeometry([b.batch, ...L.inShape], L.fields), { dy }, { dx });
    return dx;
  },
  flops: () => ({ forward: 0, backwardInput: 0, backwardParams: 0 }),
  torch: (L) => `nn.Upsample(scale_factor=(${factors(L.fields.scale).map((v) => v.toFixed(1)).join(', ')}), mode='nearest')`,
};
