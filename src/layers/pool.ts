// Pooling layers: MaxPool2d (records each window's argmax for its backward pass) and AvgPool2d.
import { ShapeError } from '../errors.ts';
import { pool2dGeometry, type PoolGeometry } from '../geometry/pool.ts';
import type { Pair } from '../geometry/util.ts';
import type { Layer, LayerRecord, Shape } from './types.ts';

export interface PoolFields { kernel: Pair; stride?: Pair; padding: Pair }

const pairOf = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);
const py = (p: Pair) => `(${pairOf(p).join(', ')})`;

export const POOL_FIELDS = {
  kernel: { kind: 'pair', min: 1, doc: 'window size' },
  stride: { kind: 'pair', min: 1, optional: true, doc: 'step between windows (default: the kernel)' },
  padding: { kind: 'pair', min: 0, default: 0, doc: 'implicit padding, at most half the kernel' },
} as const;

function image(op: string, x: Shape): number[] {
  if (x.length !== 3) throw new ShapeError(`${op} needs a [channels, height, width] input, got [${x.join(', ')}]`);
  return [...x];
}

export const poolGeometry = (op: string, L: Layer<PoolFields>, batch: number): PoolGeometry =>
  pool2dGeometry([batch, ...image(op, L.inShape)], L.fields, op);

export const poolShape = (op: string, x: Shape, f: PoolFields): Shape => {
  const g = pool2dGeometry([1, ...image(op, x)], f, op);
  return [g.outShape[1], g.outShape[2], g.outShape[3]];
};

export const poolTorch = (f: PoolFields) => `kernel_size=${py(f.kernel)}, stride=${py(f.stride ?? f.kernel)}, padding=${py(f.padding)}`;

/**
 * A max pool a convolution before it may apply as it stores (src/graph/autograd.ts): 2×2, stride 2,
 * no padding — the convnet pool. Its geometry, or undefined for any other layer or pool.
 */
export function fusablePool(L: Layer | undefined, batch: number): PoolGeometry | undefined {
  if (L?.type !== 'maxpool2d') return undefined;
  const g = poolGeometry('maxpool2d', L as unknown as Layer<PoolFields>, batch);
  const is = (v: [number, number], n: number) => v[0] === n && v[1] === n;
  return is(g.kernel, 2) && is(g.stride, 2) && is(g.padding, 0) ? g : undefined;
}

export const maxpool2d: LayerRecord<PoolFields> = {
  type: 'maxpool2d', doc: 'max over each window (padding counts as −∞); the first maximum wins, NaN wins',
  fields: POOL_FIELDS,
  shape: (x, f) => poolShape('maxpool2d', x, f),
  params: () => [],
  buffers: () => [],
  forward(b, L, x) {
    const g = poolGeometry('maxpool2d', L, b.batch);
    const y = b.tensor('out', g.outShape);
    const argmax = b.tensor('argmax', g.outShape, 'i32');
    b.node('forward', 'forward', 'maxpool2d.forward', g, { x }, { y, argmax });
    return { x, y, argmax };
  },
  fusesActivationGrad: true,
  backward(b, L, saved, dy, needDx, fuse) {
    if (!needDx) return undefined;
    const g = poolGeometry('maxpool2d', L, b.batch);
    const dx = b.tensor('grad_in', g.inShape);
    if (fuse && fuse.kind !== 'gelu') {
      b.node('backward', `backward+${fuse.kind}`, 'maxpool2d.backward_act', { g, kind: fuse.kind, slope: fuse.slope },
        { dy, argmax: saved.argmax!, y: saved.y }, { dx });
    } else b.node('backward', 'backward', 'maxpool2d.backward', g, { dy, argmax: saved.argmax! }, { dx });
    return dx;
  },
  flops: () => ({ forward: 0, backwardInput: 0, backwardParams: 0 }),
  torch: (L) => `nn.MaxPool2d(${poolTorch(L.fields)})`,
};

export interface AvgPoolFields extends PoolFields { countIncludePad: boolean }

export const avgpool2d: LayerRecord<AvgPoolFields> = {
  type: 'avgpool2d', doc: 'mean over each window (count_include_pad: padding zeros count in the divisor)',
  fields: { ...POOL_FIELDS, countIncludePad: { kind: 'bool', default: true, doc: 'count padding in the divisor (PyTorch count_include_pad)' } },
  shape: (x, f) => poolShape('avgpool2d', x, f),
  params: () => [],
  buffers: () => [],
  forward(b, L, x) {
    const g = poolGeometry('avgpool2d', L, b.batch);
    const y = b.tensor('out', g.outShape);
    b.node('forward', 'forward', 'avgpool2d.forward', { g, countIncludePad: L.fields.countIncludePad }, { x }, { y });
    return { x, y };
  },
  backward(b, L, _saved, dy, needDx) {
    if (!needDx) return undefined;
    const g = poolGeometry('avgpool2d', L, b.batch);
    const dx = b.tensor('grad_in', g.inShape);
    b.node('backward', 'backward', 'avgpool2d.backward', { g, countIncludePad: L.fields.countIncludePad }, { dy }, { dx });
    return dx;
  },
  flops: () => ({ forward: 0, backwardInput: 0, backwardParams: 0 }),
  torch: (L) => `nn.AvgPool2d(${poolTorch(L.fields)}, count_include_pad=${L.fields.countIncludePad ? 'True' : 'False'})`,
};
