// SGD (plain, momentum, Nesterov, weight decay) and Adam updates on the GPU against the float64
// reference over several steps, with fresh gradients each step: the scalar kernels and the vec4 ones.
import { describe, expect, it } from 'vitest';
import { adamState, adamStep as adamRef, sgdStep as sgdRef, type SgdState } from './reference/optim.ts';
import { mulberry32, rand } from './reference/tensor.ts';
import { sgdPrepare, sgdStep, type SgdOptions } from '../src/ops/sgd.ts';
import { adamPrepare, adamStep, type AdamOptions } from '../src/ops/adam.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

// The seed model's parameter count (odd: one element an invocation) and its padded trainable
// buffer (a multiple of 4: the vec4 kernels, which the trainer runs).
const COUNTS = [7347, 7552];
const STEPS = 4;

describe('optimizers on the GPU match the float64 reference', () => {
  const sgdCases: [string, SgdOptions][] = [
    ['plain lr 0.1', { lr: 0.1 }],
    ['momentum 0.9', { lr: 0.05, momentum: 0.9 }],
    ['momentum 0.9, dampening 0.5, weight decay 0.01', { lr: 0.05, momentum: 0.9, dampening: 0.5, weightDecay: 0.01 }],
    ['nesterov 0.9', { lr: 0.05, momentum: 0.9, nesterov: true }],
  ];
  for (const [name, o] of sgdCases) for (const N of COUNTS) {
    it(`SGD ${name}, ${STEPS} steps, ${N} parameters`, async () => {
      const g = await gpu();
      const rng = mulberry32(name.length);
      const p = rand([N], rng).data;
      const state: SgdState = {};
      await scoped(g, async () => {
        const bp = upload(g, p, 'param'), bg = empty(g, N, 'grad'), bm = empty(g, N, 'momentum');
        const d = sgdStep(g.device, N, o, { param: bp, grad: bg, momentum: bm });
        expect(d.kernel.label).toBe(N % 4 === 0 ? 'sgd.step4' : 'sgd.step');
        for (let step = 1; step <= STEPS; step++) {
          const grad = rand([N], rng).data;
          sgdRef(p, grad, state, o);
          g.device.queue.writeBuffer(bg, 0, Float32Array.from(grad));
          sgdPrepare(g.device, d, N, o, step);
          await run(g, [d]);
        }
        expectClose(await readback(g, bp, N), p, 'param');
      });
    });
  }

  const adamCases: [string, AdamOptions][] = [
    ['PyTorch defaults, lr 1e-3', { lr: 1e-3 }],
    ['lr 0.1, betas 0.8/0.99, eps 1e-6, weight decay 0.01', { lr: 0.1, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01 }],
  ];
  for (const [name, o] of adamCases) for (const N of COUNTS) {
    it(`Adam ${name}, ${STEPS} steps, ${N} parameters`, async () => {
      const g = await gpu();
      const rng = mulberry32(name.length + 1);
      const p = rand([N], rng).data;
      const p0 = p.slice();
      const state = adamState(N);
      await scoped(g, async () => {
        const bp = upload(g, p, 'param'), bg = empty(g, N, 'grad'), bm = empty(g, N, 'm'), bv = empty(g, N, 'v');
        const d = adamStep(g.device, N, o, { param: bp, grad: bg, m: bm, v: bv });
        expect(d.kernel.label).toBe(N % 4 === 0 ? 'adam.step4' : 'adam.step');
        for (let step = 1; step <= STEPS; step++) {
          const grad = rand([N], rng).data;
          adamRef(p, grad, state, o);
          g.device.queue.writeBuffer(bg, 0, Float32Array.from(grad));
          adamPrepare(g.device, d, N, o, step);
          await run(g, [d]);
        }
        const got = await readback(g, bp, N);
        // Compare the update, not the parameter: with lr 1e-3 the step is ~1000× smaller than the
        // weights, and a wrong update would hide inside the weights' own tolerance.
        const dGot = Array.from(got, (v, i) => v - Math.fround(p0[i]!));
        const dRef = Array.from(p, (v, i) => v - p0[i]!);
        expectClose(dGot, dRef, 'update', 1e-6 + 1e-4 * o.lr, 1e-3);
        expect(Math.max(...dRef.map(Math.abs))).toBeGreaterThan(o.lr);
      });
    });
  }
});
