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
import { CONVT_SWEEP } from './variant_sweep.ts';

type P = [number, number];
const CASES = CONVT_SWEEP; // the shapes the kernel-variant sweep shares (test/variant_sweep.ts)

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
