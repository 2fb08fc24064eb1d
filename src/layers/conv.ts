// Conv2d and ConvTranspose2d. Three conv passes cover all six of their passes: a conv's input
// gradient is a transposed conv of the same geometry and vice versa, and a transposed conv's
// weight gradient is the conv weight gradient with input and output gradient exchanged.
import { ShapeError } from '../errors.ts';
import { conv2dGeometry, convMacs, convTranspose2dGeometry, swapSides, type ConvGeometry } from '../geometry/conv.ts';
import type { Pair } from '../geometry/util.ts';
import type { Tensor } from '../graph/graph.ts';
import type { FusableActivation, FusedGrad, FusedPool, FusedPoolGrad, Layer, LayerBuilder, LayerRecord, Shape } from './types.ts';

export interface ConvFields { out: number; kernel: Pair; stride: Pair; padding: Pair; dilation: Pair; groups: number; bias: boolean }
export interface ConvTFields extends ConvFields { outputPadding: Pair }

const pairOf = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);
const py = (p: Pair) => `(${pairOf(p).join(', ')})`;

const CONV_FIELDS = {
  out: { kind: 'int', min: 1, doc: 'output channels' },
  kernel: { kind: 'pair', min: 1, doc: 'kernel size, a number or [h, w]' },
  stride: { kind: 'pair', min: 1, default: 1, doc: 'stride' },
  padding: { kind: 'pair', min: 0, default: 0, doc: 'zero padding' },
  dilation: { kind: 'pair', min: 1, default: 1, doc: 'spacing between kernel taps' },
  groups: { kind: 'int', min: 1, default: 1, doc: 'channel groups (in and out channels must divide by it; groups = in is depthwise)' },
  bias: { kind: 'bool', default: true, doc: 'learn an additive bias' },
} as const;

function image(op: string, x: Shape): [number, number, number] {
  if (x.length !== 3) {
    throw new ShapeError(`${op} needs a [channels, height, width] input, got [${x.join(', ')}]` +
      (x.length === 1 ? ' (a flatten or linear layer comes before it)' : ''));
  }
  return [x[0]!, x[1]!, x[2]!];
}

const convWeight = (x: Shape, f: ConvFields) => { const k = pairOf(f.kernel); return [f.out, image('conv2d', x)[0] / f.groups, k[0], k[1]]; };
const convTWeight = (x: Shape, f: ConvTFields) => { const k = pairOf(f.kernel); return [image('convtranspose2d', x)[0], f.out / f.groups, k[0], k[1]]; };

function geometry(L: Layer<ConvFields | ConvTFields>, batch: number): ConvGeometry {
  const x = [batch, ...L.inShape];
  return L.type === 'conv2d'
    ? conv2dGeometry(x, convWeight(L.inShape, L.fields), L.fields)
    : convTranspose2dGeometry(x, convTWeight(L.inShape, L.fields as ConvTFields), L.fields);
}

function params(weight: number[], f: ConvFields) {
  // PyTorch: kaiming_uniform_(a=√5) is uniform(±1/√fan_in), fan_in = weight.size(1)·kh·kw — `in/groups`
  // for Conv2d, but `out/groups` for ConvTranspose2d (its weight is [in, out/groups, kh, kw]).
  const bound = 1 / Math.sqrt(weight[1]! * weight[2]! * weight[3]!);
  return [{ name: 'weight', shape: weight, init: { kind: 'uniform' as const, bound } },
    ...(f.bias ? [{ name: 'bias', shape: [f.out], init: { kind: 'uniform' as const, bound } }] : [])];
}

function io(b: LayerBuilder, f: { bias: boolean }): Record<string, Tensor> {
  const w = b.param('weight');
  return f.bias ? { w, bias: b.param('bias') } : { w };
}

/**
 * A conv2d's graph nodes for geometry `g`. Linear (a 1×1 conv of a 1×1 image) adds the same ones,
 * so the two records cannot drift apart.
 */
export const convNodes = {
  forward(b: LayerBuilder, f: { bias: boolean }, x: Tensor, fuse: FusableActivation | undefined, g: ConvGeometry, outShape: Shape, pool?: FusedPool) {
    if (pool) {
      // conv → activation → max pool in one pass: the full-resolution activation is never a tensor.
      const y = b.tensor('pooled', pool.g.outShape);
      const argmax = b.tensor('argmax', pool.g.outShape, 'i32');
      b.node('forward', `forward${fuse ? `+${fuse.kind}` : ''}+maxpool`, 'conv.forward',
        { g, act: fuse?.kind, slope: fuse?.slope, bias: f.bias, pool: pool.g }, { x, ...io(b, f) }, { y, argmax });
      return { x, y, argmax };
    }
    const y = b.tensor('out', [b.batch, ...outShape]);
    b.node('forward', fuse ? `forward+${fuse.kind}` : 'forward', 'conv.forward',
      { g, act: fuse?.kind, slope: fuse?.slope, bias: f.bias }, { x, ...io(b, f) }, { y });
    return { x, y };
  },
  backward(b: LayerBuilder, f: { bias: boolean }, x: Tensor, dy: Tensor, needDx: boolean, g: ConvGeometry, fuse?: FusedGrad, poolGrad?: FusedPoolGrad): Tensor | undefined {
    const dw = b.grad('weight');
    if (dw) {
      const db = f.bias ? b.grad('bias') : undefined;
      b.node('backward', 'backward/params', 'conv.grad_params', { g, bias: !!db }, { x, dy }, db ? { dw, db } : { dw });
    }
    if (needDx && poolGrad) return unpoolDxNode(b, 'conv.transposed', g, dy, poolGrad);
    return needDx ? dxNode(b, 'conv.transposed', g, x, dy, fuse) : undefined;
  },
};

/**
 * A conv's (pass conv.transposed) or transposed conv's (conv.forward) input-gradient node continued
 * through the backward of the 2×2 max pool before the layer and of the activation before that pool:
 * the gradient at the pool's output never becomes a tensor (in the CAE, conv2.0's input gradient
 * routed straight to conv1's SELU, and transconv1.0's to conv2's).
 */
function unpoolDxNode(b: LayerBuilder, pass: 'conv.forward' | 'conv.transposed', g: ConvGeometry, dy: Tensor, p: FusedPoolGrad): Tensor {
  const dx = b.tensor('grad_in', p.g.inShape);
  const act = p.act;
  b.node('backward', `backward/dx+maxpool${act ? `+${act.kind}` : ''}`, pass,
    { g: swapSides(g), bias: false, unpool: p.g, ...(act ? { actGrad: act.kind, gradSlope: act.slope } : {}) },
    { x: dy, w: b.param('weight'), argmax: p.argmax, py: p.y }, { y: dx });
  return dx;
}

/**
 * The input-gradient node of a conv (pass conv.transposed) or transposed conv (conv.forward) with
 * geometry g. With `fuse` it also applies the backward of the activation before the layer as it
 * stores (reading that activation's output y): one dispatch and one tensor fewer (the CAE's ReLU
 * between its transposed convs, an MLP's activations between linears).
 */
function dxNode(b: LayerBuilder, pass: 'conv.forward' | 'conv.transposed', g: ConvGeometry, x: Tensor, dy: Tensor, fuse?: FusedGrad): Tensor {
  const dx = b.tensor('grad_in', x.shape);
  b.node('backward', fuse ? `backward/dx+${fuse.kind}` : 'backward/dx', pass,
    { g: swapSides(g), bias: false, ...(fuse ? { actGrad: fuse.kind, gradSlope: fuse.slope } : {}) },
    { x: dy, w: b.param('weight'), ...(fuse ? { fy: fuse.y } : {}) }, { y: dx });
  return dx;
}

export const conv2d: LayerRecord<ConvFields> = {
  type: 'conv2d', doc: '2-D convolution (cross-correlation), weight [out, in/groups, kh, kw]', fields: CONV_FIELDS,
  shape(x, f) {
    const g = conv2dGeometry([1, ...image('conv2d', x)], convWeight(x, f), f);
    return [f.out, ...g.outSize];
  },
  params: (x, f) => params(convWeight(x, f), f),
  buffers: () => [],
  fusesActivation: true,
  fusesActivationGrad: true,
  fusesPool: true,
  fusesPoolGrad: true,
  forward: (b, L, x, fuse, pool) => convNodes.forward(b, L.fields, x, fuse, geometry(L, b.batch), L.outShape, pool),
  backward: (b, L, { x }, dy, needDx, fuse, poolGrad) => convNodes.backward(b, L.fields, x, dy, needDx, geometry(L, b.batch), fuse, poolGrad),
  flops(L, batch) {
    const f = 2 * convMacs(geometry(L, batch));
    return { forward: f, backwardInput: f, backwardParams: f };
  },
  torch: (L) => {
    const f = L.fields;
    return `nn.Conv2d(${L.inShape[0]}, ${f.out}, kernel_size=${py(f.kernel)}, stride=${py(f.stride)}, padding=${py(f.padding)}, ` +
      `dilation=${py(f.dilation)}, groups=${f.groups}, bias=${f.bias ? 'True' : 'False'})`;
  },
};

export const convtranspose2d: LayerRecord<ConvTFields> = {
  type: 'convtranspose2d', doc: 'transposed 2-D convolution, weight [in, out/groups, kh, kw]',
  fields: { ...CONV_FIELDS, outputPadding: { kind: 'pair', min: 0, default: 0, doc: 'extra rows/columns on one side of the output' } },
  shape(x, f) {
    const g = convTranspose2dGeometry([1, ...image('convtranspose2d', x)], convTWeight(x, f), f);
    return [f.out, ...g.outSize];
  },
  params: (x, f) => params(convTWeight(x, f), f),
  buffers: () => [],
  fusesActivation: true,
  fusesActivationGrad: true,
  fusesPoolGrad: true,
  forward(b, L, x, fuse) {
    const g = geometry(L, b.batch);
    const y = b.tensor('out', [b.batch, ...L.outShape]);
    b.node('forward', fuse ? `forward+${fuse.kind}` : 'forward', 'conv.transposed',
      { g, act: fuse?.kind, slope: fuse?.slope, bias: L.fields.bias }, { x, ...io(b, L.fields) }, { y });
    return { x, y };
  },
  backward(b, L, { x }, dy, needDx, fuse, poolGrad) {
    const g = geometry(L, b.batch);
    const dw = b.grad('weight');
    if (dw) {
      const db = L.fields.bias ? b.grad('bias') : undefined; // a layer is frozen whole: both or neither
      // dw[ci, co, ky, kx] = Σ x[ci] ⊗ dy[co] patches: conv2d's weight gradient seen from the output
      // side, whose x is this layer's dy — so the same pass sums the bias gradient, Σ dy, too (xBias).
      b.node('backward', 'backward/params', 'conv.grad_params', { g: swapSides(g), bias: false, ...(db ? { xBias: true } : {}) },
        { x: dy, dy: x }, db ? { dw, db } : { dw });
    }
    if (needDx && poolGrad) return unpoolDxNode(b, 'conv.forward', g, dy, poolGrad);
    return needDx ? dxNode(b, 'conv.forward', g, x, dy, fuse) : undefined;
  },
  flops(L, batch) {
    const f = 2 * convMacs(swapSides(geometry(L, batch)));
    return { forward: f, backwardInput: f, backwardParams: f };
  },
  torch: (L) => {
    const f = L.fields;
    return `nn.ConvTranspose2d(${L.inShape[0]}, ${f.out}, kernel_size=${py(f.kernel)}, stride=${py(f.stride)}, padding=${py(f.padding)}, ` +
      `output_padding=${py(f.outputPadding)}, groups=${f.groups}, bias=${f.bias ? 'True' : 'False'}, dilation=${py(f.dilation)})`;
  },
};
