// conv2d forward and all three gradients on the GPU against the float64 reference, over a sweep of
// shapes (the seed model's layers, odd sizes, rectangular kernels, strides 1–3, paddings 0–2,
// dilations, groups: depthwise, with a channel multiplier, group sizes not divisible by 4), and the
// activations a convolution can apply as it stores its output.
import { describe, it } from 'vitest';
import { conv2d, conv2dBackward } from './reference/conv2d.ts';
import { convTranspose2d } from './reference/conv_transpose2d.ts';
import * as actRef from './reference/activations.ts';
import { convTranspose2dForward, convTranspose2dGeometry } from '../src/ops/conv_transpose2d.ts';
import { mulberry32, rand, type Tensor } from './reference/tensor.ts';
import { conv2dBackwardInput, conv2dForward, conv2dGeometry, convGradBias, convGradScratch, convGradWeight } from '../src/ops/conv2d.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';
import { CONV_SWEEP } from './variant_sweep.ts';

type P = [number, number];
const CASES = CONV_SWEEP; // the shapes the kernel-variant sweep shares (test/variant_sweep.ts)

describe('conv2d on the GPU matches the float64 reference', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.x.join('×')} → ${c.cOut}, k${c.k} s${c.s} p${c.p} d${c.d ?? [1, 1]} g${c.groups ?? 1}`, async () => {
      const g = await gpu();
      const d = g.device;
      const rng = mulberry32(c.x.reduce((a, b) => a * 31 + b, c.cOut));
      const x = rand([...c.x], rng);
      const groups = c.groups ?? 1;
      const w = rand([c.cOut, c.x[1] / groups, c.k[0], c.k[1]], rng);
      const b = rand([c.cOut], rng);
      const params = { stride: c.s, padding: c.p, dilation: c.d ?? [1, 1] as P, groups };
      const geo = conv2dGeometry(c.x, w.shape, params);
      const scratch = convGradScratch(geo);
      const ref = conv2d(x, w, b, params);
      const dy = rand(ref.shape, rng);
      const grads = conv2dBackward(x, w, dy, params);
      await scoped(g, async () => {
        const bx = upload(g, x.data, 'x'), bw = upload(g, w.data, 'w'), bb = upload(g, b.data, 'b');
        const by = empty(g, ref.data.length, 'y'), bdy = upload(g, dy.data, 'dy');
        const bdx = empty(g, x.data.length, 'dx'), bdw = empty(g, w.data.length, 'dw'), bdb = empty(g, c.cOut, 'db');
        await run(g, [
          conv2dForward(d, geo, { x: bx, w: bw, bias: bb, y: by }),
          conv2dBackwardInput(d, geo, { dy: bdy, w: bw, dx: bdx }),
          ...convGradWeight(d, geo, { x: bx, dy: bdy, dw: bdw, scratch: empty(g, scratch.weight, 'dw scratch') }),
          ...convGradBias(d, geo, { dy: bdy, db: bdb, scratch: empty(g, scratch.bias, 'db scratch') }),
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

describe('a convolution with a fused activation equals the activation of the convolution', () => {
  for (const act of ['relu', 'selu', 'sigmoid', 'tanh'] as const) {
    it(`conv2d and conv_transpose2d + ${act}`, async () => {
      const g = await gpu();
      const rng = mulberry32(act.length * 101);
      const x = rand([2, 3, 7, 9], rng), w = rand([5, 3, 3, 3], rng), wt = rand([3, 4, 2, 2], rng), b = rand([5], rng), bt = rand([4], rng);
      const apply = { relu: actRef.relu, selu: actRef.selu, sigmoid: actRef.sigmoid, tanh: actRef.tanh }[act];
      const y = apply(conv2d(x, w, b, { stride: [1, 1], padding: [1, 1] }).data);
      const yt = apply(convTranspose2d(x, wt, bt, { stride: [2, 2], padding: [0, 0], outputPadding: [1, 0] }).data);
      await scoped(g, async () => {
        const bx = upload(g, x.data, 'x'), by = empty(g, y.length, 'y'), byt = empty(g, yt.length, 'yt');
        await run(g, [
          conv2dForward(g.device, conv2dGeometry(x.shape, w.shape, { padding: 1 }), { x: bx, w: upload(g, w.data, 'w'), bias: upload(g, b.data, 'b'), y: by }, 'c', act),
          convTranspose2dForward(g.device, convTranspose2dGeometry(x.shape, wt.shape, { stride: 2, outputPadding: [1, 0] }),
            { x: bx, w: upload(g, wt.data, 'wt'), bias: upload(g, bt.data, 'bt'), y: byt }, 't', act),
        ]);
        expectClose(await readback(g, by, y.length), y, `conv2d+${act}`);
        expectClose(await readback(g, byt, yt.length), yt, `conv_transpose2d+${act}`);
      });
    });
  }
});

describe('a fused activation with groups and dilation', () => {
  it('grouped, dilated conv2d and conv_transpose2d + sigmoid', async () => {
    const g = await gpu();
    const rng = mulberry32(4242);
    const x = rand([2, 6, 8, 9], rng), w = rand([9, 2, 3, 3], rng), wt = rand([6, 3, 3, 2], rng), b = rand([9], rng);
    const cp = { stride: [2, 1] as P, padding: [2, 1] as P, dilation: [2, 1] as P, groups: 3 };
    const tp = { stride: [2, 2] as P, padding: [1, 0] as P, outputPadding: [1, 1] as P, dilation: [1, 2] as P, groups: 3 };
    const y = actRef.sigmoid(conv2d(x, w, b, cp).data);
    const yt = actRef.sigmoid(convTranspose2d(x, wt, b, tp).data);
    await scoped(g, async () => {
      const bx = upload(g, x.data, 'x'), bb = upload(g, b.data, 'b'), by = empty(g, y.length, 'y'), byt = empty(g, yt.length, 'yt');
      await run(g, [
        conv2dForward(g.device, conv2dGeometry(x.shape, w.shape, cp), { x: bx, w: upload(g, w.data, 'w'), bias: bb, y: by }, 'c', 'sigmoid'),
        convTranspose2dForward(g.device, convTranspose2dGeometry(x.shape, wt.shape, tp), { x: bx, w: upload(g, wt.data, 'wt'), bias: bb, y: byt }, 't', 'sigmoid'),
      ]);
      expectClose(await readback(g, by, y.length), y, 'grouped conv2d+sigmoid');
      expectClose(await readback(g, byt, yt.length), yt, 'grouped conv_transpose2d+sigmoid');
    });
  });
});
