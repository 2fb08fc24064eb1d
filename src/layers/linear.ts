// Linear (y = x·Wᵀ + b) and Flatten. A linear layer is a 1×1 convolution of a 1×1 image with
// `in` channels — the same memory layout ([B, in] = [B, in, 1, 1]) — so it runs on the conv passes
// and every conv kernel variant (the GEMM-shaped ones above all) serves it too.
import { ShapeError } from '../errors.ts';
import type { ConvGeometry } from '../geometry/conv.ts';
import { size } from '../graph/graph.ts';
import type { Layer, LayerRecord, Shape } from './types.ts';
import { convNodes } from './conv.ts';

export interface LinearFields { out: number; bias: boolean }

function features(x: Shape): number {
  if (x.length !== 1) {
    throw new ShapeError(`linear needs a [features] input, got [${x.join(', ')}]: add a flatten before it`);
  }
  return x[0]!;
}

function geometry(L: Layer<LinearFields>, batch: number): ConvGeometry {
  return { batch, cIn: features(L.inShape), cOut: L.fields.out, inSize: [1, 1], outSize: [1, 1], kernel: [1, 1],
    stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
}

export const linear: LayerRecord<LinearFields> = {
  type: 'linear', doc: 'fully connected: y = x·Wᵀ + b, weight [out, in]',
  fields: {
    out: { kind: 'int', min: 1, doc: 'output features' },
    bias: { kind: 'bool', default: true, doc: 'learn an additive bias' },
  },
  shape: (x, f) => { features(x); return [f.out]; },
  params(x, f) {
    const bound = 1 / Math.sqrt(features(x)); // PyTorch: kaiming_uniform_(a=√5) = uniform(±1/√in)
    return [{ name: 'weight', shape: [f.out, features(x)], init: { kind: 'uniform', bound } },
      ...(f.bias ? [{ name: 'bias', shape: [f.out], init: { kind: 'uniform' as const, bound } }] : [])];
  },
  buffers: () => [],
  fusesActivation: true,
  fusesActivationGrad: true,
  forward: (b, L, x, fuse) => convNodes.forward(b, L.fields, x, fuse, geometry(L, b.batch), [L.fields.out]),
  backward: (b, L, { x }, dy, needDx, fuse) => convNodes.backward(b, L.fields, x, dy, needDx, geometry(L, b.batch), fuse),
  flops(L, batch) {
    const f = 2 * batch * features(L.inShape) * L.fields.out;
    return { forward: f, backwardInput: f, backwardParams: f };
  },
  torch: (L) => `nn.Linear(${features(L.inShape)}, ${L.fields.out}, bias=${L.fields.bias ? 'True' : 'False'})`,
};

/** nn.Flatten(): [C, H, W] → [C·H·W]. A reshape of the same memory: no pass, no copy. */
export const flatten: LayerRecord<Record<string, never>> = {
  type: 'flatten', doc: 'flattens all but the batch dimension (no copy)',
  fields: {},
  shape: (x) => [size(x)],
  params: () => [],
  buffers: () => [],
  forward: (b, L, x) => ({ x, y: b.graph.reshape(x, [b.batch, ...L.outShape]) }),
  backward: (b, L, _saved, dy, needDx) => (needDx ? b.graph.reshape(dy, [b.batch, ...L.inShape]) : undefined),
  flops: () => ({ forward: 0, backwardInput: 0, backwardParams: 0 }),
  torch: () => 'nn.Flatten()',
};
