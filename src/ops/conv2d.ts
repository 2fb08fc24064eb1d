// Conv2d (PyTorch semantics, weight [out, in/groups, kh, kw], any stride, padding, dilation and
// groups): the four dispatches of its forward and backward passes. The input gradient reuses the
// transposed-convolution kernel.
import type { Binding } from '../gpu/kernel.ts';
import convWgsl from '../../shaders/conv2d.wgsl?raw';
import convCommonWgsl from '../../shaders/conv_common.wgsl?raw';
import { convTransposeInvocations, convTransposeShader } from './conv_transpose2d.ts';
import { activationOverrides, type Activation, type ActivationOptions } from './activation.ts';
import { makeDispatch, placeholder, shader, type Dispatch } from './dispatch.ts';
import { swapSides, type ConvGeometry } from '../geometry/conv.ts';

export const conv2dShader = shader('conv2d', `${convCommonWgsl}\n${convWgsl}`);

export type { ConvGeometry } from '../geometry/conv.ts';
export { conv2dGeometry } from '../geometry/conv.ts';

/** The uniform struct shared by conv2d.wgsl and conv_transpose2d.wgsl. */
export function convUniform(g: ConvGeometry, hasBias: boolean, split: GradSplit = { chunks: 1, chunkImages: g.batch }, reduceLen = 0) {
  return {
    batch: g.batch, c_in: g.cIn, c_out: g.cOut, has_bias: hasBias ? 1 : 0,
    in_size: g.inSize, out_size: g.outSize, kernel: g.kernel, stride: g.stride, pad: g.padding, dilation: g.dilation,
    tap_step: [g.stride[0] / gcd(g.stride[0], g.dilation[0]), g.stride[1] / gcd(g.stride[1], g.dilation[1])],
    group_in: g.cIn / g.groups, group_out: g.cOut / g.groups,
    chunk_images: split.chunkImages, chunks: split.chunks, reduce_len: reduceLen,
  };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The kernels' MIXED_GROUPS override: on when a block of 4 output channels (of y, the tensor with
 * cOut channels) can span two groups, so each channel must read its own group's x. Off for
 * groups = 1 and whenever groups hold whole blocks, which keeps the one-load-serves-four path.
 */
export const groupOverrides = (g: ConvGeometry): Record<string, number> =>
  (g.groups > 1 && (g.cOut / g.groups) % 4 !== 0 ? { MIXED_GROUPS: 1 } : {});

/** y = act(conv2d(x, w) + bias): the bias and an optional activation are applied as y is stored. */
export function conv2dForward(device: GPUDevice, g: ConvGeometry, b: { x: Binding; w: Binding; bias?: Binding; y: Binding; fy?: Binding },
  label = 'conv2d/forward', activation?: Activation, actOptions: ActivationOptions = {}, gradOverrides: Record<string, number> = {}): Dispatch {
  // One invocation per 4 output channels × 4 pixels of a row (see conv2d.wgsl).
  const invocations = g.batch * Math.ceil(g.cOut / 4) * g.outSize[0] * Math.ceil(g.outSize[1] / 4);
  return makeDispatch(device, conv2dShader, 'forward', label, invocations,
    convUniform(g, !!b.bias), { x: b.x, w: b.w, bias: b.bias ?? placeholder(device), y: b.y, fy: b.fy ?? placeholder(device) },
    { ...activationOverrides(activation, actOptions), ...gradOverrides, ...groupOverrides(g) });
}

/**
 * dx = conv_transpose2d(dy, w): the transposed convolution with this conv's stride, padding,
 * dilation and groups maps the output grid back onto the input grid, and weight [out, in/groups]
 * is exactly its [in', out'/groups] layout.
 */
export function conv2dBackwardInput(device: GPUDevice, g: ConvGeometry, b: { dy: Binding; w: Binding; dx: Binding },
  label = 'conv2d/backward/dx'): Dispatch {
  const t = swapSides(g);
  return makeDispatch(device, convTransposeShader, 'forward', label, convTransposeInvocations(t),
    convUniform(t, false), { x: b.dy, w: b.w, bias: placeholder(device), y: b.dx, fy: placeholder(device) }, groupOverrides(t));
}

/**
 * How a gradient sum over the batch is split: each chunk of images is summed by its own threads,
 * then the chunks are added. Weight and bias gradients have few outputs (432 for the seed's first
 * conv), so without the split a big GPU would run a handful of threads with very long loops.
 */
export interface GradSplit { chunks: number; chunkImages: number }

/** Aim for at least this many threads in a gradient sum (enough to fill a GPU, cheap on a CPU). */
const GRAD_THREADS = 2048;

export function gradSplit(g: ConvGeometry, outputs: number): GradSplit {
  const wanted = Math.min(g.batch, Math.max(1, Math.ceil(GRAD_THREADS / outputs)));
  const chunkImages = Math.ceil(g.batch / wanted);
  return { chunks: Math.ceil(g.batch / chunkImages), chunkImages };
}

const weightBlocks = (g: ConvGeometry) => Math.ceil(g.cOut / 4) * Math.ceil(g.cIn / g.groups / 4) * g.kernel[0] * g.kernel[1];
/** Elements of the weight [cOut, cIn/groups, kh, kw]. */
const weightSize = (g: ConvGeometry) => g.cOut * (g.cIn / g.groups) * g.kernel[0] * g.kernel[1];

/** Floats of scratch the weight and bias gradients need for their per-chunk partial sums (0: none). */
export function convGradScratch(g: ConvGeometry): { weight: number; bias: number } {
  const w = gradSplit(g, weightBlocks(g)), b = gradSplit(g, g.cOut);
  return { weight: w.chunks > 1 ? w.chunks * weightSize(g) : 0, bias: b.chunks > 1 ? b.chunks * g.cOut : 0 };
}

/** Sums per-chunk partials into `total` (skipped when there is one chunk, written in place). */
function chunked(device: GPUDevice, label: string, g: ConvGeometry, split: GradSplit, len: number, entry: string,
  invocations: number, buffers: Record<string, Binding>, out: string, total: Binding, scratch?: Binding,
  overrides: Record<string, number> = {}): Dispatch[] {
  const pass = (into: Binding, lbl: string) =>
    makeDispatch(device, conv2dShader, entry, lbl, invocations * split.chunks, convUniform(g, false, split), { ...buffers, [out]: into }, overrides);
  if (split.chunks === 1) return [pass(total, label)];
  if (!scratch) throw new Error(`${label}: ${split.chunks} chunks need a scratch buffer (convGradScratch)`);
  return [
    pass(scratch, `${label}/chunks`),
    makeDispatch(device, conv2dShader, 'sum_chunks', `${label}/sum`, len, convUniform(g, false, split, len), { part: scratch, total }),
  ];
}

/** dW = sum over the batch of dy ⊗ x patches; `scratch` as sized by convGradScratch(g).weight. */
export function convGradWeight(device: GPUDevice, g: ConvGeometry, b: { x: Binding; dy: Binding; dw: Binding; scratch?: Binding },
  label = 'conv2d/backward/dw'): Dispatch[] {
  const blocks = weightBlocks(g);
  return chunked(device, label, g, gradSplit(g, blocks), weightSize(g), 'grad_weight', blocks,
    { x: b.x, g: b.dy }, 'dw', b.dw, b.scratch, groupOverrides(g));
}

/** db = sum of dy over batch and pixels; `scratch` as sized by convGradScratch(g).bias. */
export function convGradBias(device: GPUDevice, g: ConvGeometry, b: { dy: Binding; db: Binding; scratch?: Binding },
  label = 'conv2d/backward/db'): Dispatch[] {
  return chunked(device, label, g, gradSplit(g, g.cOut), g.cOut, 'grad_bias', g.cOut, { g: b.dy }, 'db', b.db, b.scratch);
}
