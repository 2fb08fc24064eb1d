// Every variant of every convolution pass (src/ops/conv_passes.ts), each forced in turn, against the
// float64 references over the same shape sweeps as conv2d.gpu.test.ts and conv_transpose2d.gpu.test.ts
// (the seed's layers, odd sizes, strides, paddings, output paddings, dilations, groups). Each pass
// is checked in every role the graph gives it: conv.forward is a conv2d's forward and a transposed
// conv's input gradient, conv.transposed the reverse, conv.grad_params both weight gradients.
// A variant that cannot run a shape here says why; those are printed, and counted, never dropped.
import { afterAll, describe, expect, it } from 'vitest';
import { conv2d, conv2dBackward } from './reference/conv2d.ts';
import { convTranspose2d, convTranspose2dBackward } from './reference/conv_transpose2d.ts';
import * as actRef from './reference/activations.ts';
import { mulberry32, rand, type Tensor } from './reference/tensor.ts';
import { conv2dGeometry, convTranspose2dGeometry, swapSides, type ConvGeometry } from '../src/geometry/conv.ts';
import { capsOf, CONV_PASSES, convForwardPass, convGradParamsPass, convTransposedPass, type ConvArgs } from '../src/ops/conv_passes.ts';
import type { Pass, Variant } from '../src/ops/variant.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { empty, gpu, readback, run, scoped, upload } from './gpu.ts';

type P = [number, number];
type Shape4 = [number, number, number, number];
interface ConvCase { name: string; x: Shape4; cOut: number; k: P; s: P; p: P; d?: P; groups?: number }
interface ConvTCase extends ConvCase { op: P }

const CONV: ConvCase[] = [
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
  // Beyond the shared sweep: widths that are multiples of 4 but not 8 or 16 (partial column
  // blocks of the row kernels), more channels than one channel block, a k2 s2 conv on whole vec4
  // rows (space-to-depth) with bias, and groups on the row kernels.
  { name: 'k3 s1 p1, width 12, 40 → 36 channels', x: [2, 40, 5, 12], cOut: 36, k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'k3 s1 p1, width 20, stride 2 in height', x: [3, 5, 9, 20], cOut: 7, k: [3, 3], s: [2, 1], p: [2, 1] },
  { name: 'k2 s2, width 16, 6 → 20 channels', x: [2, 6, 7, 16], cOut: 20, k: [2, 2], s: [2, 2], p: [0, 0] },
  { name: 'k3 s1 p1, width 8, groups 2 (6 in / 10 out per group)', x: [2, 12, 5, 8], cOut: 20, k: [3, 3], s: [1, 1], p: [1, 1], groups: 2 },
];

const CONVT: ConvTCase[] = [
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
  // Beyond the shared sweep: a stride-1 3-wide layer on whole vec4 rows (the row kernels'
  // transposed case), a k2 s2 layer with output padding, and kernel = stride = 3 (depth-to-space
  // with 3×3 blocks on rows that are not whole vec4s).
  { name: 'k3 s1 p1, width 8, 20 → 36 channels', x: [2, 20, 6, 8], cOut: 36, k: [3, 3], s: [1, 1], p: [1, 1], op: [0, 0] },
  { name: 'k2 s2 op1', x: [2, 5, 3, 4], cOut: 6, k: [2, 2], s: [2, 2], p: [0, 0], op: [1, 1] },
  { name: 'k3 s3', x: [2, 5, 2, 6], cOut: 4, k: [3, 3], s: [3, 3], p: [0, 0], op: [0, 0] },
];

/** One case with its inputs and float64 results, computed once and shared by every variant. */
interface Prepared { name: string; g: ConvGeometry; x: Tensor; w: Tensor; b: Tensor; y: Tensor; dy: Tensor; grads: { dx: Tensor; dw: Tensor; db: Tensor } }

const cache = new Map<string, Prepared>();
function prepareConv(c: ConvCase): Prepared {
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
function prepareConvT(c: ConvTCase): Prepared {
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
interface Check { what: string; args: ConvArgs; inputs: Record<string, Tensor>; outputs: Record<string, Tensor> }

// The forward kernels see batches 1, 2, 4 and 8; batch 32 (conv1.0) is checked where it matters, in
// the gradient sums over the batch — and keeps this file's run time down on a software adapter.
const FWD = CONV.filter((c) => c.x[0] < 32), FWDT = CONVT.filter((c) => c.x[0] < 32);

const ROLES: Record<string, () => Check[]> = {
  'conv.forward': () => [
    ...FWD.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d forward)`, args: { g: c.g, bias: true },
      inputs: { x: c.x, w: c.w, bias: c.b }, outputs: { y: c.y } })),
    ...FWDT.map(prepareConvT).map((c) => ({ what: `${c.name} (conv_transpose2d dx)`, args: { g: swapSides(c.g), bias: false },
      inputs: { x: c.dy, w: c.w }, outputs: { y: c.grads.dx } })),
  ],
  'conv.transposed': () => [
    ...FWDT.map(prepareConvT).map((c) => ({ what: `${c.name} (conv_transpose2d forward)`, args: { g: c.g, bias: true },
      inputs: { x: c.x, w: c.w, bias: c.b }, outputs: { y: c.y } })),
    ...FWD.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d dx)`, args: { g: swapSides(c.g), bias: false },
      inputs: { x: c.dy, w: c.w }, outputs: { y: c.grads.dx } })),
  ],
  'conv.grad_params': () => [
    ...CONV.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d dw, db)`, args: { g: c.g, bias: true },
      inputs: { x: c.x, dy: c.dy }, outputs: { dw: c.grads.dw, db: c.grads.db } })),
    ...CONVT.map(prepareConvT).map((c) => ({ what: `${c.name} (conv_transpose2d dw)`, args: { g: swapSides(c.g), bias: false },
      inputs: { x: c.dy, dy: c.x }, outputs: { dw: c.grads.dw } })),
  ],
  'conv.grad_bias': () => [
    ...CONVT.map(prepareConvT).map((c) => ({ what: `${c.name} (conv_transpose2d db)`, args: { g: c.g, bias: true },
      inputs: { dy: c.dy }, outputs: { db: c.grads.db } })),
    ...CONV.map(prepareConv).map((c) => ({ what: `${c.name} (conv2d db)`, args: { g: c.g, bias: true },
      inputs: { dy: c.dy }, outputs: { db: c.grads.db } })),
  ],
};

const unsupportedSeen: string[] = [];
afterAll(() => {
  if (unsupportedSeen.length > 0) console.log(`unsupported here (${unsupportedSeen.length}):\n  ${unsupportedSeen.join('\n  ')}`);
});

/** Mismatches beyond 1e-4 + 1e-4·|ref| (the first few), or [] when all match. */
function mismatches(got: Float32Array, ref: Tensor, what: string): string[] {
  if (got.length !== ref.data.length) return [`${what}: length ${got.length} ≠ ${ref.data.length}`];
  const bad: string[] = [];
  for (let i = 0; i < got.length && bad.length < 3; i++) {
    const r = ref.data[i]!, d = Math.abs(got[i]! - r);
    if (!(d <= 1e-4 + 1e-4 * Math.abs(r))) bad.push(`${what}[${i}] got ${got[i]} want ${r}`);
  }
  return bad;
}

/** Runs `v` on one check; returns its mismatches, or the reason it is unsupported. */
async function runCheck(g: Gpu, pass: Pass<ConvArgs>, v: Variant<ConvArgs>, c: Check, act?: ConvArgs['act']): Promise<{ bad: string[]; skipped?: string }> {
  const args = act ? { ...c.args, act } : c.args;
  const why = v.unsupported?.(capsOf(g.device), args);
  if (why) return { bad: [], skipped: why };
  return scoped(g, async () => {
    const io: Record<string, GPUBuffer> = {};
    for (const [k, t] of Object.entries(c.inputs)) io[k] = upload(g, t.data, k);
    for (const [k, t] of Object.entries(c.outputs)) io[k] = empty(g, t.data.length, k);
    const scratch = v.scratch?.(args) ?? 0;
    if (scratch > 0) io.scratch = empty(g, scratch, 'scratch');
    await run(g, v.build(g.device, args, io, `${pass.name}/${v.name}`));
    const bad: string[] = [];
    for (const [k, t] of Object.entries(c.outputs)) {
      const ref = act ? { ...t, data: ACT_REF[act]!(t.data) } : t;
      bad.push(...mismatches(await readback(g, io[k]!, t.data.length), ref, `${c.what}: ${k}`));
    }
    return { bad };
  });
}

const ACT_REF: Record<string, (v: Float64Array) => Float64Array> = { relu: actRef.relu, selu: actRef.selu, sigmoid: actRef.sigmoid, tanh: actRef.tanh };

for (const pass of CONV_PASSES) {
  describe(`${pass.name}: every variant matches the float64 reference`, () => {
    for (const v of pass.variants) {
      it(v.name, async () => {
        const g = await gpu();
        const bad: string[] = [];
        let ran = 0;
        for (const c of ROLES[pass.name]!()) {
          const r = await runCheck(g, pass, v, c);
          if (r.skipped) unsupportedSeen.push(`${pass.name} ${v.name}, ${c.what}: ${r.skipped}`);
          else ran++;
          bad.push(...r.bad);
        }
        console.log(`${pass.name} ${v.name}: ${ran} shapes checked`);
        expect(bad).toEqual([]);
      });
    }
  });
}

describe('the activation fused into a forward kernel is applied to every output', () => {
  const acts = ['relu', 'selu', 'sigmoid', 'tanh'] as const;
  for (const pass of [convForwardPass, convTransposedPass]) {
    // The first shape a variant supports, from the wide multi-block ones on.
    const checks: Check[] = (pass === convForwardPass ? [...CONV.slice(20), ...CONV].map(prepareConv) : [...CONVT.slice(20), ...CONVT].map(prepareConvT))
      .map((c) => ({ what: c.name, args: { g: c.g, bias: true }, inputs: { x: c.x, w: c.w, bias: c.b }, outputs: { y: c.y } }));
    pass.variants.forEach((v, i) => {
      // Each variant with one activation (rotating), so every activation meets every kernel family.
      const act = acts[i % acts.length]!;
      it(`${pass.name} ${v.name} + ${act}`, async () => {
        const g = await gpu();
        const check = checks.find((c) => !v.unsupported?.(capsOf(g.device), c.args));
        if (!check) {
          unsupportedSeen.push(`${pass.name} ${v.name} + ${act}: no shape of the sweep is supported here`);
          expect(v.unsupported?.(capsOf(g.device), checks[0]!.args)).toBeTruthy();
          return;
        }
        const r = await runCheck(g, pass, v, check, act);
        expect(r.bad).toEqual([]);
      });
    });
  }
});

describe('weight gradients are bit-reproducible (fixed-order sums, no atomics)', () => {
  const c = prepareConv(CONV[2]!);
  for (const v of convGradParamsPass.variants) {
    it(v.name, async () => {
      const g = await gpu();
      const args: ConvArgs = { g: c.g, bias: true };
      const why = v.unsupported?.(capsOf(g.device), args);
      if (why) { unsupportedSeen.push(`conv.grad_params ${v.name}, ${c.name} (twice): ${why}`); return; }
      await scoped(g, async () => {
        const io = { x: upload(g, c.x.data, 'x'), dy: upload(g, c.dy.data, 'dy'), dw: empty(g, c.w.data.length, 'dw'), db: empty(g, c.b.data.length, 'db'),
          scratch: empty(g, Math.max(4, v.scratch?.(args) ?? 0), 'scratch') };
        const ds = v.build(g.device, args, io, `repro/${v.name}`);
        await run(g, ds);
        const first = [await readback(g, io.dw, c.w.data.length), await readback(g, io.db, c.b.data.length)];
        await run(g, ds);
        const second = [await readback(g, io.dw, c.w.data.length), await readback(g, io.db, c.b.data.length)];
        expect(new Uint32Array(second[0]!.buffer)).toEqual(new Uint32Array(first[0]!.buffer));
        expect(new Uint32Array(second[1]!.buffer)).toEqual(new Uint32Array(first[1]!.buffer));
      });
    });
  }
});
