// conv_transpose2d forward and gradients on the GPU against the float64 reference (the seed's
// zero-insertion definition), over the seed's layers and the kernel/stride/padding/output-padding
// combinations where WebGPU engines have got transposed convolution wrong, then dilations (incl.
// ones sharing a factor with the stride, so some output rows get no tap at all) and groups
// (depthwise, with a channel multiplier, group sizes not divisible by 4).
import { describe, it } from 'vitest';
import { convTranspose2d, convTranspose2dBackward } from './reference/conv_transpose2d.ts';
import { mulberry32, rand, type Tensor } from './reference/tensor.ts';
import {
  convTranspose2dBackwardBias, convTranspose2dBackwardInput, convTranspose2dBackwardWeight, convTranspose2dForward,
  convTranspose2dGeometry, convTranspose2dGradScratch,
} from '../src/ops/conv_transpose2d.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

type P = [number, number];
interface Case { name: string; x: [number, number, number, number]; cOut: number; k: P; s: P; p: P; op: P; d?: P; groups?: number }

const CASES: Case[] = [
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

describe('conv_transpose2d on the GPU matches the float64 reference', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.x.join('×')} → ${c.cOut}, k${c.k} s${c.s} p${c.p} op${c.op} d${c.d ?? [1, 1]} g${c.groups ?? 1}`, async () => {
      const g = await gpu();
      const d = g.device;
      const rng = mulberry32(c.x.reduce((a, b) => a * 17 + b, c.cOut + 7));
      const x = rand([...c.x], rng);
      const groups = c.groups ?? 1;
      const w = rand([c.x[1], c.cOut / groups, c.k[0], c.k[1]], rng);
      const b = rand([c.cOut], rng);
      const params = { stride: c.s, padding: c.p, outputPadding: c.op, dilation: c.d ?? [1, 1] as P, groups };
      const geo = convTranspose2dGeometry(c.x, w.shape, params);
      const scratch = convTranspose2dGradScratch(geo);
      const ref = convTranspose2d(x, w, b, params);
      const dy = rand(ref.shape, rng);
      const grads = convTranspose2dBackward(x, w, dy, params);
      await scoped(g, async () => {
        const bx = upload(g, x.data, 'x'), bw = upload(g, w.data, 'w'), bb = upload(g, b.data, 'b');
        const by = empty(g, ref.data.length, 'y'), bdy = upload(g, dy.data, 'dy');
        const bdx = empty(g, x.data.length, 'dx'), bdw = empty(g, w.data.length, 'dw'), bdb = empty(g, c.cOut, 'db');
        await run(g, [
          convTranspose2dForward(d, geo, { x: bx, w: bw, bias: bb, y: by }),
          convTranspose2dBackwardInput(d, geo, { dy: bdy, w: bw, dx: bdx }),
          ...convTranspose2dBackwardWeight(d, geo, { x: bx, dy: bdy, dw: bdw, scratch: empty(g, scratch.weight, 'dw scratch') }),
          ...convTranspose2dBackwardBias(d, geo, { dy: bdy, db: bdb, scratch: empty(g, scratch.bias, 'db scratch') }),
        ]);
        const check = async (buf: GPUBuffer, t: Tensor, what: string) => expectClose(await readback(g, buf, t.data.length), t.data, what);
        await check(by, ref, 'y');
        await check(bdx, grads.dx, 'dx');
        await check(bdw, grads.dw, 'dw');
        await check(bdb, grads.db, 'db');
      });
    });
  }
});
