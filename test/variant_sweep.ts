// The kernel-variant sweep, one copy shared by test/conv_variants.gpu.test.ts and
// scripts/device-check.ts (STYLE.md: a second copy of a harness drifts): the conv shape sweeps and
// their float64 references, the roles each conv pass plays in the graph, the GEMM shapes, and the
// comparison within 1e-4 + 1e-4·|ref|. Free of Vitest so the device script can bundle it; the GPU
// plumbing (upload, run and read back inside error scopes) is passed in as `GpuIo`.
import { conv2d, conv2dBackward } from './reference/conv2d.ts';
import { convTranspose2d, convTranspose2dBackward } from './reference/conv_transpose2d.ts';
import * as actRef from './reference/activations.ts';
import { maxpool2d, maxpool2dBackward } from './reference/maxpool2d.ts';
import { mulberry32, rand, type Tensor } from './reference/tensor.ts';
import { pool2dGeometry } from '../src/geometry/pool.ts';
import { conv2dGeometry, convTranspose2dGeometry, swapSides, type ConvGeometry } from '../src/geometry/conv.ts';
import { capsOf, type ConvArgs } from '../src/ops/conv_passes.ts';
import type { Pass, Variant } from '../src/ops/variant.ts';
import type { Gpu } from '../src/gpu/device.ts';
import type { Dispatch } from '../src/ops/dispatch.ts';

export type P = [number, number];
type Shape4 = [number, number, number, number];
export interface ConvCase { name: string; x: Shape4; cOut: number; k: P; s: P; p: P; d?: P; groups?: number }
export interface ConvTCase extends ConvCase { op: P }

/** The shared sweep: also run op by op in test/conv2d.gpu.test.ts. */
export const CONV_SWEEP: ConvCase[] = [
  { name: 'seed conv1.0, batch 1', x: [1, 3, 32, 32], cOut: 16, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'seed conv1.0, batch 8', x: [8, 3, 32, 32], cOut: 16, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'seed conv1.0, batch 32', x: [32, 3, 32, 32], cOut: 16, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'seed conv2.0, batch 1', x: [1, 16, 16, 16], cOut: 32, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'seed conv2.0, batch 8', x: [8, 16, 16, 16], cOut: 32, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'odd 7×9, k1', x: [2, 3, 7, 9], cOut: 1, k: [1, 1], s: [1, 1], p: [0, 0] },
  { name: 'odd 7×9, k2 s2', x: [2, 1, 7, 9], cOut: 3, k: [2, 2], s: [2, 2], p: [0, 0] },
  { name: 'k5 s3 p2', x: [2, 3, 11, 13], cOut: 16, k: [5, 5], s: [3, 3], p: [2, 2] },
  { name: 'rectangular k[2,3] s[1,2] p[0,1]', x: [2, 3, 7, 9], cOut: 4, k: [2, 3], s: [1, 2], p: [0, 1] },
  { name: 'k3 s2 p1, 32 channels', x: [1, 32, 9, 7], cOut: 3, k: [3, 3], s: [2, 2], p: [1, 1] },
  { name: 'k3 s3 p0 (rows left over)', x: [1, 2, 10, 11], cOut: 2, k: [3, 3], s: [3, 3], p: [0, 0] },
  { name: 'dilation 2', x: [2, 3, 9, 10], cOut: 4, k: [3, 3], s: [1, 1], p: [2, 2], d: [2, 2] },
  { name: 'dilation [2,3], stride [2,1]', x: [2, 3, 11, 12], cOut: 5, k: [3, 2], s: [2, 1], p: [1, 2], d: [2, 3] },
  { name: 'groups 2 (4 out per group)', x: [2, 8, 9, 9], cOut: 8, k: [3, 3], s: [1, 1], p: [1, 1], groups: 2 },
  { name: 'groups 2, 3 in / 4 out per group, dilation 2, stride 2', x: [2, 6, 12, 11], cOut: 8, k: [3, 3], s: [2, 2], p: [2, 2], d: [2, 2], groups: 2 },
  { name: 'groups 2, 6 out per group', x: [2, 4, 8, 9], cOut: 12, k: [2, 3], s: [1, 2], p: [0, 1], groups: 2 },
  { name: 'depthwise', x: [2, 5, 9, 8], cOut: 5, k: [3, 3], s: [1, 1], p: [1, 1], groups: 5 },
  { name: 'depthwise ×2 (in 4 → out 8), stride 2', x: [2, 4, 8, 9], cOut: 8, k: [3, 3], s: [2, 2], p: [1, 1], groups: 4 },
  { name: 'depthwise, 16 channels, k5 d2 (batch 4)', x: [4, 16, 10, 10], cOut: 16, k: [5, 5], s: [1, 1], p: [4, 4], d: [2, 2], groups: 16 },
  { name: 'groups 3, 2 in / 3 out per group, dilation [1,2]', x: [2, 6, 9, 9], cOut: 9, k: [3, 3], s: [2, 1], p: [1, 2], d: [1, 2], groups: 3 },
];

export const CONV: ConvCase[] = [
  ...CONV_SWEEP,
  // Beyond the shared sweep: widths that are multiples of 4 but not 8 or 16 (partial column
  // blocks of the row kernels), more channels than one channel block, a k2 s2 conv on whole vec4
  // rows (space-to-depth) with bias, and groups on the row kernels.
  { name: 'k3 s1 p1, width 12, 40 → 36 channels', x: [2, 40, 5, 12], cOut: 36, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'k3 s1 p1, width 20, stride 2 in height', x: [3, 5, 9, 20], cOut: 7, k: [3, 3], s: [2, 1], p: [2, 1] },
  { name: 'k2 s2, width 16, 6 → 20 channels', x: [2, 6, 7, 16], cOut: 20, k: [2, 2], s: [2, 2], p: [0, 0] },
  { name: 'k3 s1 p1, width 8, groups 2 (6 in / 10 out per group)', x: [2, 12, 5, 8], cOut: 20, k: [3, 3], s: [1, 1], p: [1, 1], groups: 2 },
  // More input channels than the row weight-gradient kernel's 64-lane workgroup: two workgroups per
  // channel block, one of which holds the quad that stores the bias.
  { name: 'k3 s1 p1, width 8, 72 → 20 channels', x: [1, 72, 4, 8], cOut: 20, k: [3, 3], s: [1, 1], p: [1, 1] },
  // The row weight gradient for 1 to 3 input channels (row3c: a quad per pixel chunk): a group's
  // second channel block partly filled, and 2 channels with a kernel 2 rows high, strided in height.
  { name: 'k3 s1 p1, width 8, groups 2 (3 in / 20 out per group)', x: [2, 6, 5, 8], cOut: 40, k: [3, 3], s: [1, 1], p: [1, 1], groups: 2 },
  { name: 'k[2,3] s[2,1] p[0,1], width 12, 2 → 6 channels', x: [2, 2, 7, 12], cOut: 6, k: [2, 3], s: [2, 1], p: [0, 1] },
  // The same for the quad-sharing k2 s2 weight gradient (s2q: a lane per input-channel pair): groups
  // with a partly filled workgroup and channel block, an odd channel count, and more pairs than one
  // 64-lane workgroup.
  { name: 'k2 s2, width 8, groups 2 (17 in / 20 out per group)', x: [2, 34, 6, 8], cOut: 40, k: [2, 2], s: [2, 2], p: [0, 0], groups: 2 },
  { name: 'k2 s2, width 8, 132 → 20 channels', x: [1, 132, 2, 8], cOut: 20, k: [2, 2], s: [2, 2], p: [0, 0] },
];

/** The shared sweep: also run op by op in test/conv_transpose2d.gpu.test.ts. */
export const CONVT_SWEEP: ConvTCase[] = [
  { name: 'seed transconv1.0, batch 1', x: [1, 32, 8, 8], cOut: 16, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
  { name: 'seed transconv1.0, batch 8', x: [8, 32, 8, 8], cOut: 16, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
  { name: 'seed transconv2.0, batch 1', x: [1, 16, 16, 16], cOut: 3, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
  { name: 'seed transconv2.0, batch 8', x: [8, 16, 16, 16], cOut: 3, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
  { name: 'k3 s1 p1 (same size)', x: [2, 3, 7, 9], cOut: 1, k: [3, 3], s: [1, 1], p: [1, 1], op: [0, 0] },
  { name: 'k3 s2 p1 op1 (exact 2× upsample)', x: [2, 3, 7, 9], cOut: 4, k: [3, 3], s: [2, 2], p: [1, 1], op: [1, 1] },
  { name: 'k5 s3 p2 op1', x: [2, 1, 5, 4], cOut: 3, k: [5, 5], s: [3, 3], p: [2, 2], op: [1, 1] },
  { name: 'k1 s3 (gaps between pixels)', x: [1, 3, 4, 5], cOut: 16, k: [1, 1], s: [3, 3], p: [0, 0], op: [2, 1] },
  { name: 'rectangular k[2,3] s[3,1] p[1,0] op[2,0]', x: [2, 3, 7, 9], cOut: 2, k: [2, 3], s: [3, 1], p: [1, 0], op: [2, 0] },
  { name: 'padding ≥ kernel−1 (crops)', x: [1, 16, 6, 6], cOut: 3, k: [2, 2], s: [2, 2], p: [2, 1], op: [1, 0] },
  { name: 'k4 s2 p1 (DCGAN)', x: [2, 32, 4, 4], cOut: 3, k: [4, 4], s: [2, 2], p: [1, 1], op: [0, 0] },
  { name: 'dilation 2, stride 1', x: [2, 3, 5, 6], cOut: 4, k: [3, 3], s: [1, 1], p: [1, 2], op: [0, 0], d: [2, 2] },
  { name: 'dilation 2, stride 2 (odd rows: bias only)', x: [2, 3, 4, 5], cOut: 4, k: [3, 3], s: [2, 2], p: [0, 1], op: [1, 1], d: [2, 2] },
  { name: 'dilation [2,3], stride [3,2]', x: [2, 2, 4, 5], cOut: 3, k: [3, 3], s: [3, 2], p: [1, 2], op: [1, 2], d: [2, 3] },
  { name: 'dilation 4, stride 2, output padding 3 (< dilation)', x: [1, 3, 4, 4], cOut: 2, k: [2, 2], s: [2, 2], p: [1, 1], op: [3, 3], d: [4, 4] },
  { name: 'groups 2 (4 out per group)', x: [2, 8, 5, 5], cOut: 8, k: [3, 3], s: [2, 2], p: [1, 1], op: [1, 1], groups: 2 },
  { name: 'groups 2, 4 in / 3 out per group', x: [2, 8, 5, 4], cOut: 6, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0], groups: 2 },
  { name: 'depthwise', x: [2, 5, 5, 6], cOut: 5, k: [3, 3], s: [2, 2], p: [1, 1], op: [0, 1], groups: 5 },
  { name: 'depthwise ×2 (in 4 → out 8), dilation 2', x: [2, 4, 5, 5], cOut: 8, k: [2, 3], s: [2, 2], p: [0, 1], op: [1, 1], d: [2, 2], groups: 4 },
  { name: 'groups 3, 2 in / 3 out per group, dilation [2,1]', x: [2, 6, 4, 5], cOut: 9, k: [3, 3], s: [2, 3], p: [1, 1], op: [1, 0], d: [2, 1], groups: 3 },
];

export const CONVT: ConvTCase[] = [
  ...CONVT_SWEEP,
  // Beyond the shared sweep: a stride-1 3-wide layer on whole vec4 rows (the row kernels'
  // transposed case), a k2 s2 layer with output padding, and kernel = stride = 3 (depth-to-space
  // with 3×3 blocks on rows that are not whole vec4s).
  { name: 'k3 s1 p1, width 8, 20 → 36 channels', x: [2, 20, 6, 8], cOut: 36, k: [3, 3], s: [1, 1], p: [1, 1], op: [0, 0] },
  { name: 'k2 s2 op1', x: [2, 5, 3, 4], cOut: 6, k: [2, 2], s: [2, 2], p: [0, 0], op: [1, 1] },
  // k2 s2 on rows of 8 with a last row that no tap reads (the weight gradient's s2 kernel must not
  // sum the bias in its loop then: that row's gradient is part of the bias's).
  { name: 'k2 s2 op[1,0], width 8', x: [2, 3, 3, 4], cOut: 2, k: [2, 2], s: [2, 2], p: [0, 0], op: [1, 0] },
  { name: 'k3 s3', x: [2, 5, 2, 6], cOut: 4, k: [3, 3], s: [3, 3], p: [0, 0], op: [0, 0] },
  // An odd number of output channels past one quad of pairs: the quad-sharing weight gradient's
  // last lane sums the bias of one channel, not two.
  { name: 'k2 s2, width 8, 8 → 9 channels', x: [2, 8, 3, 4], cOut: 9, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
];

/** The seed autoencoder's four conv layers at `batch` (named as the sweep names them). */
export function seedCases(batch: number): { conv: ConvCase[]; convT: ConvTCase[] } {
  return {
    conv: [
      { name: `seed conv1.0, batch ${batch}`, x: [batch, 3, 32, 32], cOut: 16, k: [3, 3], s: [1, 1], p: [1, 1] },
      { name: `seed conv2.0, batch ${batch}`, x: [batch, 16, 16, 16], cOut: 32, k: [3, 3], s: [1, 1], p: [1, 1] },
    ],
    convT: [
      { name: `seed transconv1.0, batch ${batch}`, x: [batch, 32, 8, 8], cOut: 16, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
      { name: `seed transconv2.0, batch ${batch}`, x: [batch, 16, 16, 16], cOut: 3, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
    ],
  };
}

/** Cases of `all` by name; an unknown name is an error, so a renamed case cannot drop out silently. */
export function pick<C extends ConvCase>(all: C[], names: string[]): C[] {
  return names.map((n) => all.find((c) => c.name === n) ?? (() => { throw new Error(`no sweep case named '${n}'`); })());
}

/** GEMM shapes (M, N, K): 1×1×1, odd sizes, sizes just past a tile, the seed's convolutions as GEMMs. */
export const GEMM_SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 5, 7], [4, 4, 4], [33, 12, 20], [31, 36, 8], [64, 64, 64], [100, 44, 36], [65, 520, 12],
  [8192, 32, 144], // conv2.0 forward as implicit GEMM (M = pixels, N = out channels, K = in channels × taps)
  [32, 144, 1024], // a weight gradient's shape (K = pixels), one image's worth
  [256, 256, 256],
];

/** One case with its inputs and float64 results, computed once and shared by every variant. */
interface Prepared { name: string; g: ConvGeometry; x: Tensor; w: Tensor; b: Tensor; y: Tensor; dy: Tensor; grads: { dx: Tensor; dw: Tensor; db: Tensor } }

const cache = new Map<string, Prepared>();
export function prepareConv(c: ConvCase): Prepared {
  const hit = cache.get(`c:${c.name}`);
  if (hit) return hit;
  const rng = mulberry32(c.x.reduce((a, b) => a * 31 + b, c.cOut));
  const groups = c.groups ?? 1;
  const x = rand([...c.x], rng), w = rand([c.cOut, c.x[1] / groups, c.k[0], c.k[1]], rng), b = rand([c.cOut], rng);
  const params = { stride: c.s, padding: c.p, dilation: c.d ?? [1, 1] as P, groups };
  const y = conv2d(x, w, b, params);
  const dy = rand(y.shape, rng);
  const r = { name: c.name, g: conv2dGeometry(c.x, w.shape, params), x, w, b, y, dy, grads: conv2dBackward(x, w, dy, params) };
  cache.set(`c:${c.name}`, r);
  return r;
}
export function prepareConvT(c: ConvTCase): Prepared {
  const hit = cache.get(`t:${c.name}`);
  if (hit) return hit;
  const rng = mulberry32(c.x.reduce((a, b) => a * 17 + b, c.cOut + 7));
  const groups = c.groups ?? 1;
  const x = rand([...c.x], rng), w = rand([c.x[1], c.cOut / groups, c.k[0], c.k[1]], rng), b = rand([c.cOut], rng);
  const params = { stride: c.s, padding: c.p, outputPadding: c.op, dilation: c.d ?? [1, 1] as P, groups };
  const y = convTranspose2d(x, w, b, params);
  const dy = rand(y.shape, rng);
  const r = { name: c.name, g: convTranspose2dGeometry(c.x, w.shape, params), x, w, b, y, dy, grads: convTranspose2dBackward(x, w, dy, params) };
  cache.set(`t:${c.name}`, r);
  return r;
}

/** What one check runs: the args, the io tensors to upload, the outputs to read and their references. */
export interface Check { what: string; args: ConvArgs; inputs: Record<string, Tensor>; outputs: Record<string, Tensor> }

/**
 * The cases a sweep runs: forward kernels see `fwd`/`fwdT`, gradient kernels (sums over the batch,
 * where large batches matter) `grad`/`gradT`.
 */
export interface Sweep { fwd: ConvCase[]; fwdT: ConvTCase[]; grad: ConvCase[]; gradT: ConvTCase[] }

/**
 * Every check of conv pass `pass` in every role the graph gives it: conv.forward is a conv2d's
 * forward and a transposed conv's input gradient, conv.transposed the reverse, conv.grad_params
 * both weight gradients, conv.grad_bias both bias gradients.
 */
export function roleChecks(pass: string, s: Sweep): Check[] {
  switch (pass) {
    case 'conv.forward': return [
      ...s.fwd.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d forward)`, args: { g: c.g, bias: true },
        inputs: { x: c.x, w: c.w, bias: c.b }, outputs: { y: c.y } })),
      ...s.fwdT.map(prepareConvT).map((c) => ({ what: `${c.name} (conv_transpose2d dx)`, args: { g: swapSides(c.g), bias: false },
        inputs: { x: c.dy, w: c.w }, outputs: { y: c.grads.dx } })),
    ];
    case 'conv.transposed': return [
      ...s.fwdT.map(prepareConvT).map((c) => ({ what: `${c.name} (conv_transpose2d forward)`, args: { g: c.g, bias: true },
        inputs: { x: c.x, w: c.w, bias: c.b }, outputs: { y: c.y } })),
      ...s.fwd.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d dx)`, args: { g: swapSides(c.g), bias: false },
        inputs: { x: c.dy, w: c.w }, outputs: { y: c.grads.dx } })),
    ];
    case 'conv.grad_params': return [
      ...s.grad.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d dw, db)`, args: { g: c.g, bias: true },
        inputs: { x: c.x, dy: c.dy }, outputs: { dw: c.grads.dw, db: c.grads.db } })),
      // A transposed conv's weight gradient also sums its bias (xBias) in the graph; every other case
      // checks it, the rest the weight gradient alone.
      ...s.gradT.map(prepareConvT).map((c, i): Check => (i % 2 === 0
        ? { what: `${c.name} (conv_transpose2d dw, db)`, args: { g: swapSides(c.g), bias: false, xBias: true }, inputs: { x: c.dy, dy: c.x }, outputs: { dw: c.grads.dw, db: c.grads.db } }
        : { what: `${c.name} (conv_transpose2d dw)`, args: { g: swapSides(c.g), bias: false }, inputs: { x: c.dy, dy: c.x }, outputs: { dw: c.grads.dw } })),
    ];
    case 'conv.grad_bias': return [
      ...s.gradT.map(prepareConvT).map((c) => ({ what: `${c.name} (conv_transpose2d db)`, args: { g: c.g, bias: true },
        inputs: { dy: c.dy }, outputs: { db: c.grads.db } })),
      ...s.grad.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d db)`, args: { g: c.g, bias: true },
        inputs: { dy: c.dy }, outputs: { db: c.grads.db } })),
    ];
    default: throw new Error(`no sweep roles for pass '${pass}'`);
  }
}

export const ACTS = ['relu', 'selu', 'sigmoid', 'tanh'] as const;
const ACT_REF: Record<string, (v: Float64Array) => Float64Array> = { relu: actRef.relu, selu: actRef.selu, sigmoid: actRef.sigmoid, tanh: actRef.tanh };
// Backward from the pre-activation z (the references' form), for an activation backward fused into
// an input-gradient store: the kernel is given y = act(z) in f32 and must produce act'(z)·(its sum).
const ACT_BWD: Record<string, (z: Float64Array, dy: Float64Array) => Float64Array> = {
  relu: actRef.reluBackward, selu: actRef.seluBackward, sigmoid: actRef.sigmoidBackward, tanh: actRef.tanhBackward,
};

/** Pre-activations for a fused activation backward: both signs, |z| < 3, fixed by n. */
function preActivations(n: number): Float64Array {
  const r = mulberry32(n + 17);
  return Float64Array.from({ length: n }, () => 6 * r() - 3);
}

/** Forward checks of a forward pass (conv.forward or conv.transposed) on `cases`, to fuse an activation into. */
export function forwardChecks(pass: string, conv: ConvCase[], convT: ConvTCase[]): Check[] {
  const prepared = pass === 'conv.forward' ? conv.map(prepareConv) : convT.map(prepareConvT);
  return prepared.map((c) => ({ what: c.name, args: { g: c.g, bias: true }, inputs: { x: c.x, w: c.w, bias: c.b }, outputs: { y: c.y } }));
}

/**
 * `got` against `ref` within 1e-4 + 1e-4·|ref|: the first few mismatches ([] when all match) and
 * the worst error as a multiple of the tolerance (Infinity for NaN or a wrong length).
 */
export function compare(got: Float32Array, ref: ArrayLike<number>, what: string): { bad: string[]; worst: number } {
  if (got.length !== ref.length) return { bad: [`${what}: length ${got.length} ≠ ${ref.length}`], worst: Infinity };
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const r = ref[i]!, d = Math.abs(got[i]! - r), tol = 1e-4 + 1e-4 * Math.abs(r);
    if (!(d <= tol) && bad.length < 3) bad.push(`${what}[${i}] got ${got[i]} want ${r}`);
    worst = Math.max(worst, d / tol || (d === 0 ? 0 : Infinity));
  }
  return { bad, worst };
}

/** The GPU plumbing a sweep needs (test/gpu.ts in tests; plain WebGPU in the device script). */
export interface GpuIo {
  /** Runs `fn` inside error scopes; any GPU error is thrown. */
  scoped<T>(g: Gpu, fn: () => T | Promise<T>): Promise<T>;
  upload(g: Gpu, data: ArrayLike<number>, label: string): GPUBuffer;
  empty(g: Gpu, count: number, label: string): GPUBuffer;
  /** Records the dispatches in one pass, submits, and waits. */
  run(g: Gpu, dispatches: Dispatch[]): Promise<void>;
  readback(g: Gpu, buf: GPUBuffer, count: number): Promise<Float32Array>;
}

export interface CheckResult { bad: string[]; worst: number; skipped?: string }

/**
 * Builds and runs variant `v` with `args` on `inputs` (uploaded) and `outputs` (empty, floats
 * each), with the scratch and stage it asks for, inside error scopes; then `read` reads back.
 * Every buffer is destroyed after: large sweeps (batch 32 and up) would otherwise hold every
 * case's buffers until collection.
 */
async function runVariant<T>(g: Gpu, io: GpuIo, v: Variant<ConvArgs>, args: ConvArgs, label: string, inputs: Record<string, ArrayLike<number>>,
  outputs: Record<string, number>, read: (bufs: Record<string, GPUBuffer>) => Promise<T>): Promise<T> {
  const made: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (made.push(b), b);
  try {
    return await io.scoped(g, async () => {
      const bufs: Record<string, GPUBuffer> = {};
      for (const [k, d] of Object.entries(inputs)) bufs[k] = keep(io.upload(g, d, k));
      for (const [k, n] of Object.entries(outputs)) bufs[k] = keep(io.empty(g, n, k));
      const scratch = v.scratch?.(args) ?? 0, stage = v.stage?.(args) ?? 0;
      if (scratch > 0) bufs.scratch = keep(io.empty(g, scratch, 'scratch'));
      if (stage > 0) bufs.stage = keep(io.empty(g, stage, 'stage'));
      await io.run(g, v.build(g.device, args, bufs, label));
      return await read(bufs);
    });
  } finally {
    for (const b of made) b.destroy();
  }
}

/**
 * Runs `v` on one check (with `act` fused into the store, or with `actGrad`, an activation backward
 * fused into it: the output is then that activation's input gradient, given its output `fy`); its
 * mismatches, or why it is unsupported.
 */
export async function runCheck(g: Gpu, io: GpuIo, pass: Pass<ConvArgs>, v: Variant<ConvArgs>, c: Check, act?: ConvArgs['act'],
  actGrad?: ConvArgs['act']): Promise<CheckResult> {
  const args = act ? { ...c.args, act } : actGrad ? { ...c.args, actGrad } : c.args;
  const why = v.unsupported?.(capsOf(g.device), args);
  if (why) return { bad: [], worst: 0, skipped: why };
  const z = actGrad ? preActivations(c.outputs.y!.data.length) : undefined;
  const inputs: Record<string, ArrayLike<number>> = Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, t.data]));
  if (z) inputs.fy = Float32Array.from(ACT_REF[actGrad!]!(z));
  const outputs = Object.fromEntries(Object.entries(c.outputs).map(([k, t]) => [k, t.data.length]));
  return runVariant(g, io, v, args, `${pass.name}/${v.name}`, inputs, outputs, async (bufs) => {
    const out: CheckResult = { bad: [], worst: 0 };
    for (const [k, t] of Object.entries(c.outputs)) {
      const ref = act ? ACT_REF[act]!(t.data) : z ? ACT_BWD[actGrad!]!(z, t.data) : t.data;
      const r = compare(await io.readback(g, bufs[k]!, t.data.length), ref, `${c.what}: ${k}`);
      out.bad.push(...r.bad);
      out.worst = Math.max(out.worst, r.worst);
    }
    return out;
  });
}

export interface VariantSweep { ran: number; bad: string[]; worst: number; unsupported: { what: string; why: string }[] }

/** Variant `v` over every check in turn: how many ran, every mismatch, and each unsupported case with its reason. */
export async function sweepVariant(g: Gpu, io: GpuIo, pass: Pass<ConvArgs>, v: Variant<ConvArgs>, checks: Check[]): Promise<VariantSweep> {
  const out: VariantSweep = { ran: 0, bad: [], worst: 0, unsupported: [] };
  for (const c of checks) {
    // A GPU error fails this check with its message and the sweep goes on to the next.
    const r = await runCheck(g, io, pass, v, c).catch((e: unknown): CheckResult => ({ bad: [`${c.what}: ${(e as Error).message ?? e}`], worst: Infinity }));
    if (r.skipped) out.unsupported.push({ what: c.what, why: r.skipped });
    else out.ran++;
    out.bad.push(...r.bad);
    out.worst = Math.max(out.worst, r.worst);
  }
  return out;
}

/**
 * Conv cases for a 2×2 max pool fused after the activation (conv.forward with args.pool): the seed's
 * two convolutions, several channel blocks with a partial last one, and sizes the in-register pool
 * (row3-r16-pool) declines — an odd height, a width not a multiple of 8 — which the others pool
 * with maxpool2d's kernel (the odd row and column left over, as PyTorch's floor mode drops them),
 * and a 2×2 stride-2 conv for the space-to-depth kernels.
 */
export const POOL_CASES: ConvCase[] = [
  { name: 'seed conv1.0, batch 2 (pooled)', x: [2, 3, 32, 32], cOut: 16, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'seed conv2.0, batch 8', x: [8, 16, 16, 16], cOut: 32, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'k3 s1 p1, 6×16, 20 → 36 channels', x: [2, 20, 6, 16], cOut: 36, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'k3 s1 p1, width 12, 40 → 36 channels', x: [2, 40, 5, 12], cOut: 36, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'k3 s3 p0 (rows left over)', x: [1, 2, 10, 11], cOut: 2, k: [3, 3], s: [3, 3], p: [0, 0] },
  { name: 'k2 s2, 8×16, 6 → 20 channels (pooled)', x: [2, 6, 8, 16], cOut: 20, k: [2, 2], s: [2, 2], p: [0, 0] },
  // 2 row taps × 5 channels = 10 reduction steps: the pooling row kernel's last trip of three pads two.
  { name: 'k[2,3] p[0,1], 9×16, 5 → 20 channels (10 steps)', x: [2, 5, 9, 16], cOut: 20, k: [2, 3], s: [1, 1], p: [0, 1] },
];

/** The activation before a fused pool, in float64: ACTS, and GELU and leaky ReLU (which the row kernel pools after, not before). */
function poolActRef(act: NonNullable<ConvArgs['act']>, slope = 0.01): (v: Float64Array) => Float64Array {
  if (act === 'gelu') return actRef.gelu;
  if (act === 'leakyrelu') return (v) => actRef.leakyRelu(v, slope);
  return ACT_REF[act]!;
}

/**
 * Runs conv.forward variant `v` with activation `act` (leaky ReLU's `slope`) and a fused 2×2 max pool on case `c`: the
 * pooled output within 1e-4 + 1e-4·|ref| of pool(act(conv)) in float64, and each argmax the
 * reference's, or (a near tie that float32 rounding may order either way) a pixel whose reference
 * value is within the same tolerance of the maximum.
 */
export async function runPoolCheck(g: Gpu, io: GpuIo, v: Variant<ConvArgs>, c: ConvCase, act: ConvArgs['act'], slope?: number): Promise<CheckResult> {
  const r = prepareConv(c);
  const a = { shape: r.y.shape, data: act ? poolActRef(act, slope)(r.y.data) : r.y.data };
  const o = { kernel: [2, 2] as P, stride: [2, 2] as P, padding: [0, 0] as P };
  const ref = maxpool2d(a, o);
  const args: ConvArgs = { g: r.g, act, slope, bias: true, pool: pool2dGeometry(r.y.shape, o) };
  const why = v.unsupported?.(capsOf(g.device), args);
  if (why) return { bad: [], worst: 0, skipped: why };
  const n = ref.y.data.length;
  return runVariant(g, io, v, args, `conv.forward+pool/${v.name}`, { x: r.x.data, w: r.w.data, bias: r.b.data }, { y: n, argmax: n }, async (bufs) => {
    const out = compare(await io.readback(g, bufs.y!, n), ref.y.data, `${c.name} + ${act ?? 'no activation'} + pool: y`);
    const got = new Int32Array((await io.readback(g, bufs.argmax!, n)).buffer);
    const [H, W] = [r.y.shape[2]!, r.y.shape[3]!];
    const plane = ref.y.shape[2]! * ref.y.shape[3]!;
    for (let i = 0; i < n; i++) {
      if (got[i] === ref.argmax[i]) continue;
      const base = Math.floor(i / plane) * H * W, best = ref.y.data[i]!;
      const at = got[i]!, there = at >= 0 && at < H * W ? a.data[base + at]! : Number.NaN;
      if (!(Math.abs(there - best) <= 1e-4 + 1e-4 * Math.abs(best)) && out.bad.length < 3) {
        out.bad.push(`${c.name}: argmax[${i}] got ${at} (value ${there}) want ${ref.argmax[i]} (value ${best})`);
        out.worst = Infinity;
      }
    }
    return out;
  });
}

/**
 * Conv cases whose input gradient (conv.transposed) goes on through a 2×2 max pool before the conv
 * (args.unpool): the seed's conv2.0, several channel blocks on whole-vec4 rows, and shapes only the
 * pool kernel after the pass can take (stride 2 in height: two classes; odd widths).
 */
export const UNPOOL_CASES: ConvCase[] = [
  { name: 'seed conv2.0, batch 2 (unpooled)', x: [2, 16, 16, 16], cOut: 32, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'k3 s1 p1, width 12, 40 → 36 channels', x: [2, 40, 5, 12], cOut: 36, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'k3 s1 p1, width 20, stride 2 in height', x: [3, 5, 9, 20], cOut: 7, k: [3, 3], s: [2, 1], p: [2, 1] },
  { name: 'k5 s3 p2', x: [2, 3, 11, 13], cOut: 16, k: [5, 5], s: [3, 3], p: [2, 2] },
];

/**
 * Transposed conv cases whose input gradient (conv.forward) goes on through a 2×2 max pool before
 * the layer: the seed's transconv1.0 (after conv2's pool), a k2 s2 layer with several channel
 * blocks, and a k3 s2 one that only the pool kernel after the pass can take.
 */
export const UNPOOL_CASES_T: ConvTCase[] = [
  { name: 'seed transconv1.0, batch 2 (unpooled)', x: [2, 32, 8, 8], cOut: 16, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
  { name: 'k2 s2, 40 → 20 channels, width 8 (unpooled)', x: [2, 40, 4, 8], cOut: 20, k: [2, 2], s: [2, 2], p: [0, 0], op: [0, 0] },
  { name: 'k3 s2 p1 op1, width 8 (unpooled)', x: [2, 3, 4, 8], cOut: 4, k: [3, 3], s: [2, 2], p: [1, 1], op: [1, 1] },
];

/**
 * Runs input-gradient variant `v` — conv.transposed for a conv case, conv.forward for a transposed
 * conv case (`transposed`) — as case c's input gradient continued through the backward of a 2×2 max
 * pool before the layer and of activation `act` before that pool: the pool's input is act(z) for
 * seeded z of twice the layer input's height and width, and the result must match
 * act'(z)·maxpool_backward(the layer's input gradient) in float64 within 1e-4 + 1e-4·|ref|.
 */
export async function runUnpoolCheck(g: Gpu, io: GpuIo, v: Variant<ConvArgs>, c: ConvCase, act: ConvArgs['act'], transposed = false): Promise<CheckResult> {
  const r = transposed ? prepareConvT(c as ConvTCase) : prepareConv(c);
  const [n, ch, h, w] = r.x.shape as [number, number, number, number];
  const full = [n, ch, 2 * h, 2 * w];
  const z = preActivations(full.reduce((a, b) => a * b, 1));
  const a = { shape: full, data: act ? ACT_REF[act]!(z) : z };
  const o = { kernel: [2, 2] as P, stride: [2, 2] as P, padding: [0, 0] as P };
  const pooled = maxpool2d(a, o);
  const routed = maxpool2dBackward(r.grads.dx, pooled.argmax, full).data;
  const want = act ? ACT_BWD[act]!(z, routed) : routed;
  const args: ConvArgs = { g: swapSides(r.g), bias: false, unpool: pool2dGeometry(full, o), ...(act ? { actGrad: act } : {}) };
  const why = v.unsupported?.(capsOf(g.device), args);
  if (why) return { bad: [], worst: 0, skipped: why };
  return runVariant(g, io, v, args, `${transposed ? 'conv.forward' : 'conv.transposed'}+unpool/${v.name}`,
    { x: r.dy.data, w: r.w.data, argmax: new Float32Array(pooled.argmax.buffer), py: Float32Array.from(pooled.y.data) }, { y: want.length },
    async (bufs) => compare(await io.readback(g, bufs.y!, want.length), want, `${c.name} + pool + ${act ?? 'no activation'} backward: dx`));
}
