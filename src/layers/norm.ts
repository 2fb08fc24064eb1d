// BatchNorm2d and Dropout: the two layers that behave differently in training and evaluation.
// Batchnorm normalises by batch statistics while training (updating running_mean / running_var,
// and PyTorch's num_batches_tracked, which Kiln counts on the host) and by the running statistics in
// evaluation; dropout zeroes elements by a counter-based generator while training and is the
// identity in evaluation.
import { ShapeError } from '../errors.ts';
import { size, type Tensor } from '../graph/graph.ts';
import type { LayerRecord, Shape } from './types.ts';

export interface BatchNormFields { eps: number; momentum: number | null; affine: boolean }

function image(op: string, x: Shape): [number, number, number] {
  if (x.length !== 3) throw new ShapeError(`${op} needs a [channels, height, width] input, got [${x.join(', ')}]`);
  return [x[0]!, x[1]!, x[2]!];
}

export const batchnorm2d: LayerRecord<BatchNormFields> = {
  type: 'batchnorm2d', doc: 'batch normalisation over (N, H, W) per channel, with running statistics for evaluation',
  fields: {
    eps: { kind: 'number', above: 0, default: 1e-5, doc: 'added to the variance' },
    momentum: { kind: 'number-or-null', min: 0, max: 1, default: 0.1, doc: 'running-statistics factor (null: cumulative average)' },
    affine: { kind: 'bool', default: true, doc: 'learn a per-channel scale (weight) and shift (bias)' },
  },
  shape: (x) => { image('batchnorm2d', x); return x; },
  params: (x, f) => (f.affine
    ? [{ name: 'weight', shape: [x[0]!], init: { kind: 'const', value: 1 } }, { name: 'bias', shape: [x[0]!], init: { kind: 'const', value: 0 } }]
    : []),
  buffers: (x) => [
    { name: 'running_mean', shape: [x[0]!], dtype: 'f32', init: 0 },
    { name: 'running_var', shape: [x[0]!], dtype: 'f32', init: 1 },
    { name: 'num_batches_tracked', shape: [], dtype: 'i64', init: 0 },
  ],
  forward(b, L, x) {
    const [c, h, w] = image('batchnorm2d', L.inShape);
    const args = { shape: [b.batch, c, h, w] as [number, number, number, number], eps: L.fields.eps, momentum: L.fields.momentum, affine: L.fields.affine };
    const y = b.tensor('out', x.shape);
    const stats = { running_mean: b.buffer('running_mean'), running_var: b.buffer('running_var') };
    const affine: Record<string, Tensor> = L.fields.affine ? { weight: b.param('weight'), bias: b.param('bias') } : {};
    if (b.mode === 'eval') {
      b.node('forward', 'forward', 'batchnorm2d.eval', args, { x, ...affine, ...stats }, { y });
      return { x, y };
    }
    const saved = b.tensor('stats', [4 * c]);
    b.node('forward', 'forward', 'batchnorm2d.train', args, { x, ...affine, ...stats }, { y, saved, ...stats });
    return { x, y, saved };
  },
  backward(b, L, { x, saved }, dy, needDx) {
    const [c, h, w] = image('batchnorm2d', L.inShape);
    const dweight = L.fields.affine ? b.grad('weight') : undefined;
    if (!needDx && !dweight) return undefined;
    const args = { shape: [b.batch, c, h, w] as [number, number, number, number], eps: L.fields.eps, momentum: L.fields.momentum, affine: L.fields.affine };
    // The kernel writes dx and, with affine, both parameter gradients; unneeded ones go to scratch tensors.
    const dx = b.tensor(needDx ? 'grad_in' : 'grad_in_unused', x.shape);
    const params: Record<string, Tensor> = L.fields.affine
      ? { dweight: dweight ?? b.tensor('dweight_unused', [c]), dbias: b.grad('bias') ?? b.tensor('dbias_unused', [c]) } : {};
    b.node('backward', 'backward', 'batchnorm2d.backward', args,
      { x, dy, saved: saved!, ...(L.fields.affine ? { weight: b.param('weight') } : {}) }, { dx, saved: saved!, ...params });
    return needDx ? dx : undefined;
  },
  flops: () => ({ forward: 0, backwardInput: 0, backwardParams: 0 }),
  torch: (L) => `nn.BatchNorm2d(${L.inShape[0]}, eps=${L.fields.eps}, momentum=${L.fields.momentum === null ? 'None' : L.fields.momentum}, ` +
    `affine=${L.fields.affine ? 'True' : 'False'})`,
};

export interface DropoutFields { p: number }

export const dropout: LayerRecord<DropoutFields> = {
  type: 'dropout', doc: 'zeroes each element with probability p while training (scaling the rest by 1/(1−p)); identity in evaluation',
  fields: { p: { kind: 'number', min: 0, max: 1, default: 0.5, doc: 'probability of zeroing an element' } },
  shape: (x) => x,
  params: () => [],
  buffers: () => [],
  forward(b, L, x) {
    if (b.mode === 'eval' || L.fields.p === 0) return { x, y: x };
    const y = b.tensor('out', x.shape);
    // The layer index salts the generator, so two dropout layers never draw the same mask.
    b.node('forward', 'forward', 'dropout.forward', { count: size(x.shape), p: L.fields.p, seed: b.seed, salt: L.index }, { x }, { y });
    return { x, y };
  },
  backward(b, L, { x }, dy, needDx) {
    if (!needDx) return undefined;
    if (L.fields.p === 0) return dy;
    const dx = b.tensor('grad_in', x.shape);
    b.node('backward', 'backward', 'dropout.backward', { count: size(x.shape), p: L.fields.p, seed: b.seed, salt: L.index }, { dy }, { dx });
    return dx;
  },
  flops: () => ({ forward: 0, backwardInput: 0, backwardParams: 0 }),
  torch: (L) => `nn.Dropout(p=${L.fields.p})`,
};
