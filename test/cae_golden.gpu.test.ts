// The seed's autoencoder, wired op by op on the GPU, against PyTorch's own numbers for the same
// weights and batch (test/fixtures, made by scripts/make_fixtures.py): the output, the loss and
// every parameter gradient. This is where the ops prove they compose the way PyTorch's do.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, type Tensor } from '../src/io/safetensors.ts';
import { activationBackward, activationForward } from '../src/ops/activation.ts';
import { conv2dBackwardInput, conv2dForward, conv2dGeometry, convGradBias, convGradScratch, convGradWeight } from '../src/ops/conv2d.ts';
import {
  convTranspose2dBackwardBias, convTranspose2dBackwardInput, convTranspose2dBackwardWeight, convTranspose2dForward,
  convTranspose2dGeometry, convTranspose2dGradScratch,
} from '../src/ops/conv_transpose2d.ts';
import { maxpool2dBackward, maxpool2dForward, maxpool2dGeometry } from '../src/ops/maxpool2d.ts';
import { lossDispatches, lossParts } from '../src/ops/loss.ts';
import type { Dispatch } from '../src/ops/dispatch.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

const fx = parseSafetensors(new Uint8Array(readFileSync(new URL('./fixtures/cae_forward_backward.safetensors', import.meta.url))),
  'cae_forward_backward.safetensors').tensors;
const get = (k: string): Tensor => {
  const t = fx.get(k);
  if (!t) throw new Error(`fixture lacks ${k}`);
  return t;
};

/** Compares against PyTorch's float32 result, with tolerance scaled to the tensor's magnitude. */
function expectLikeTorch(got: Float32Array, want: Tensor, what: string): void {
  const scale = Math.max(...Array.from(want.data, Math.abs));
  expectClose(got, want.data, `${what} (max |ref| ${scale.toExponential(2)})`, 1e-4 * scale, 1e-3);
}

describe('the seed autoencoder on the GPU matches PyTorch (forward + backward, batch 8)', () => {
  it('output, loss and all 8 parameter gradients', async () => {
    const g = await gpu();
    const d = g.device;
    const images = get('images_u8');
    const [n] = images.shape as [number];
    const x0 = images.data.map((v) => v / 255);
    const W = (name: string) => upload(g, get(`init.${name}`).data, name);
    const buf = (shape: readonly number[], label: string) => empty(g, shape.reduce((a, b) => a * b, 1), label);
    const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
    const sc = (n: number) => (n > 0 ? empty(g, n, 'scratch') : undefined);

    await scoped(g, async () => {
      const x = upload(g, x0, 'x');
      const p = {
        c1w: W('conv1.0.weight'), c1b: W('conv1.0.bias'), c2w: W('conv2.0.weight'), c2b: W('conv2.0.bias'),
        t1w: W('transconv1.0.weight'), t1b: W('transconv1.0.bias'), t2w: W('transconv2.0.weight'), t2b: W('transconv2.0.bias'),
      };
      const g1 = conv2dGeometry([n, 3, 32, 32], get('init.conv1.0.weight').shape, { padding: 1 });
      const s1 = [n, 16, 32, 32];
      const p1 = maxpool2dGeometry(s1, { kernel: 2, stride: 2 });
      const g2 = conv2dGeometry(p1.outShape, get('init.conv2.0.weight').shape, { padding: 1 });
      const s2 = [n, 32, 16, 16];
      const p2 = maxpool2dGeometry(s2, { kernel: 2, stride: 2 });
      const t1 = convTranspose2dGeometry(p2.outShape, get('init.transconv1.0.weight').shape, { stride: 2 });
      const s3 = [n, 16, 16, 16];
      const t2 = convTranspose2dGeometry(s3, get('init.transconv2.0.weight').shape, { stride: 2 });
      const s4 = [n, 3, 32, 32];

      const a = {
        c1: buf(s1, 'c1'), e1: buf(s1, 'e1'), q1: buf(p1.outShape, 'q1'), i1: buf(p1.outShape, 'i1'),
        c2: buf(s2, 'c2'), e2: buf(s2, 'e2'), q2: buf(p2.outShape, 'q2'), i2: buf(p2.outShape, 'i2'),
        u1: buf(s3, 'u1'), r1: buf(s3, 'r1'), u2: buf(s4, 'u2'), out: buf(s4, 'out'),
      };
      const mse = { kind: 'mse' as const, batch: n, values: size(s4) / n, target: 'input' as const };
      const loss = empty(g, 1, 'loss'), scratch = empty(g, lossParts(mse), 'scratch');
      const gr = {
        out: buf(s4, 'd.out'), u2: buf(s4, 'd.u2'), r1: buf(s3, 'd.r1'), u1: buf(s3, 'd.u1'), q2: buf(p2.outShape, 'd.q2'),
        e2: buf(s2, 'd.e2'), c2: buf(s2, 'd.c2'), q1: buf(p1.outShape, 'd.q1'), e1: buf(s1, 'd.e1'), c1: buf(s1, 'd.c1'),
      };
      const dw = {
        c1w: buf(get('init.conv1.0.weight').shape, 'dc1w'), c1b: buf([16], 'dc1b'), c2w: buf(get('init.conv2.0.weight').shape, 'dc2w'),
        c2b: buf([32], 'dc2b'), t1w: buf(get('init.transconv1.0.weight').shape, 'dt1w'), t1b: buf([16], 'dt1b'),
        t2w: buf(get('init.transconv2.0.weight').shape, 'dt2w'), t2b: buf([3], 'dt2b'),
      };
      const steps: Dispatch[] = [
        conv2dForward(d, g1, { x, w: p.c1w, bias: p.c1b, y: a.c1 }),
        activationForward(d, 'selu', size(s1), { x: a.c1, y: a.e1 }),
        maxpool2dForward(d, p1, { x: a.e1, y: a.q1, argmax: a.i1 }),
        conv2dForward(d, g2, { x: a.q1, w: p.c2w, bias: p.c2b, y: a.c2 }),
        activationForward(d, 'selu', size(s2), { x: a.c2, y: a.e2 }),
        maxpool2dForward(d, p2, { x: a.e2, y: a.q2, argmax: a.i2 }),
        convTranspose2dForward(d, t1, { x: a.q2, w: p.t1w, bias: p.t1b, y: a.u1 }),
        activationForward(d, 'relu', size(s3), { x: a.u1, y: a.r1 }),
        convTranspose2dForward(d, t2, { x: a.r1, w: p.t2w, bias: p.t2b, y: a.u2 }),
        activationForward(d, 'sigmoid', size(s4), { x: a.u2, y: a.out }),
        ...lossDispatches(d, mse, { y: a.out, target: x, partials: scratch, loss, dy: gr.out }),
        activationBackward(d, 'sigmoid', size(s4), { y: a.out, dy: gr.out, dx: gr.u2 }),
        ...convTranspose2dBackwardWeight(d, t2, { x: a.r1, dy: gr.u2, dw: dw.t2w, scratch: sc(convTranspose2dGradScratch(t2).weight) }),
        ...convTranspose2dBackwardBias(d, t2, { dy: gr.u2, db: dw.t2b, scratch: sc(convTranspose2dGradScratch(t2).bias) }),
        convTranspose2dBackwardInput(d, t2, { dy: gr.u2, w: p.t2w, dx: gr.r1 }),
        activationBackward(d, 'relu', size(s3), { y: a.r1, dy: gr.r1, dx: gr.u1 }),
        ...convTranspose2dBackwardWeight(d, t1, { x: a.q2, dy: gr.u1, dw: dw.t1w, scratch: sc(convTranspose2dGradScratch(t1).weight) }),
        ...convTranspose2dBackwardBias(d, t1, { dy: gr.u1, db: dw.t1b, scratch: sc(convTranspose2dGradScratch(t1).bias) }),
        convTranspose2dBackwardInput(d, t1, { dy: gr.u1, w: p.t1w, dx: gr.q2 }),
        maxpool2dBackward(d, p2, { dy: gr.q2, argmax: a.i2, dx: gr.e2 }),
        activationBackward(d, 'selu', size(s2), { y: a.e2, dy: gr.e2, dx: gr.c2 }),
        ...convGradWeight(d, g2, { x: a.q1, dy: gr.c2, dw: dw.c2w, scratch: sc(convGradScratch(g2).weight) }),
        ...convGradBias(d, g2, { dy: gr.c2, db: dw.c2b, scratch: sc(convGradScratch(g2).bias) }),
        conv2dBackwardInput(d, g2, { dy: gr.c2, w: p.c2w, dx: gr.q1 }),
        maxpool2dBackward(d, p1, { dy: gr.q1, argmax: a.i1, dx: gr.e1 }),
        activationBackward(d, 'selu', size(s1), { y: a.e1, dy: gr.e1, dx: gr.c1 }),
        ...convGradWeight(d, g1, { x, dy: gr.c1, dw: dw.c1w, scratch: sc(convGradScratch(g1).weight) }),
        ...convGradBias(d, g1, { dy: gr.c1, db: dw.c1b, scratch: sc(convGradScratch(g1).bias) }),
      ];
      await run(g, steps);

      expectLikeTorch(await readback(g, a.out, size(s4)), get('output'), 'output');
      // Every layer's output for image 0 (PyTorch's act.* tensors), so a wrong layer is named.
      const acts: [keyof typeof a, string][] = [['c1', 'conv1.0'], ['e1', 'conv1.1'], ['q1', 'conv1.2'], ['c2', 'conv2.0'], ['e2', 'conv2.1'],
        ['q2', 'conv2.2'], ['u1', 'transconv1.0'], ['r1', 'transconv1.1'], ['u2', 'transconv2.0'], ['out', 'transconv2.1']];
      for (const [k, name] of acts) {
        const want = get(`act.${name}`);
        expectLikeTorch(await readback(g, a[k], want.data.length), want, `act.${name} (image 0)`);
      }
      const l = (await readback(g, loss, 1))[0]!;
      expect(Math.abs(l - get('loss').data[0]!) / get('loss').data[0]!).toBeLessThan(1e-5);
      const names: Record<keyof typeof dw, string> = {
        c1w: 'conv1.0.weight', c1b: 'conv1.0.bias', c2w: 'conv2.0.weight', c2b: 'conv2.0.bias',
        t1w: 'transconv1.0.weight', t1b: 'transconv1.0.bias', t2w: 'transconv2.0.weight', t2b: 'transconv2.0.bias',
      };
      for (const [k, name] of Object.entries(names) as [keyof typeof dw, string][]) {
        const want = get(`grad.${name}`);
        expectLikeTorch(await readback(g, dw[k], want.data.length), want, `grad.${name}`);
      }
    });
  });
});
