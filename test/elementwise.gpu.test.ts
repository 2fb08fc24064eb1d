// Activations (forward + backward), MSE loss and gradient on the GPU against the float64 reference,
// plus the edge cases TF.js tests: ReLU(NaN) is NaN; Sigmoid, SELU and Tanh stay finite at ±100.
import { describe, expect, it } from 'vitest';
import * as ref from './reference/activations.ts';
import { mse, mseBackward } from './reference/mse.ts';
import { mulberry32, rand, tensor } from './reference/tensor.ts';
import { activationBackward, activationForward, ACTIVATIONS } from '../src/ops/activation.ts';
import { MSE_PARTS, mseGrad, mseLoss } from '../src/ops/mse.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

const forwardRef = { relu: ref.relu, selu: ref.selu, sigmoid: ref.sigmoid, tanh: ref.tanh };
const backwardRef = { relu: ref.reluBackward, selu: ref.seluBackward, sigmoid: ref.sigmoidBackward, tanh: ref.tanhBackward };

describe('activations on the GPU match the float64 reference', () => {
  for (const kind of ACTIVATIONS) {
    for (const count of [1, 1000, 16 * 32 * 32 * 8 + 3]) {
      it(`${kind} forward and backward, ${count} elements`, async () => {
        const g = await gpu();
        const rng = mulberry32(count + kind.length);
        const x = rand([count], rng).data.map((v) => 4 * v); // covers both saturated tails
        const dy = rand([count], rng).data;
        const y = forwardRef[kind](x);
        const dx = backwardRef[kind](x, dy);
        await scoped(g, async () => {
          const bx = upload(g, x, 'x'), by = empty(g, count, 'y'), bdy = upload(g, dy, 'dy'), bdx = empty(g, count, 'dx');
          await run(g, [
            activationForward(g.device, kind, count, { x: bx, y: by }),
            activationBackward(g.device, kind, count, { y: by, dy: bdy, dx: bdx }),
          ]);
          expectClose(await readback(g, by, count), y, `${kind} y`);
          expectClose(await readback(g, bdx, count), dx, `${kind} dx`);
        });
      });
    }
  }

  it('ReLU of NaN is NaN; Sigmoid, SELU and Tanh are finite at ±100 and ±inf', async () => {
    const g = await gpu();
    const x = [NaN, -100, 100, -Infinity, Infinity, -0, 0];
    const got: Record<string, Float32Array> = {};
    await scoped(g, async () => {
      const bx = upload(g, x, 'x');
      for (const kind of ACTIVATIONS) {
        const by = empty(g, x.length, 'y');
        await run(g, [activationForward(g.device, kind, x.length, { x: bx, y: by })]);
        got[kind] = await readback(g, by, x.length);
      }
    });
    expect(Number.isNaN(got.relu![0])).toBe(true);
    expect(Array.from(got.relu!.slice(1))).toEqual([0, 100, 0, Infinity, 0, 0]);
    for (const kind of ['sigmoid', 'selu', 'tanh']) {
      const finite = Array.from(got[kind]!.slice(1, 3)).every(Number.isFinite);
      expect(finite, `${kind}(±100) = ${Array.from(got[kind]!.slice(1, 3))}`).toBe(true);
    }
    expect(Array.from(got.sigmoid!.slice(1, 5))).toEqual([0, 1, 0, 1]);
    expect(Array.from(got.tanh!.slice(1, 5))).toEqual([-1, 1, -1, 1]);
    expectClose(got.selu!.slice(1, 3), ref.selu(new Float64Array([-100, 100])), 'selu(±100)');
  });
});

describe('MSE loss and gradient on the GPU match the float64 reference', () => {
  for (const count of [1, 7, MSE_PARTS + 1, 3 * 32 * 32 * 8]) {
    it(`${count} elements, loss into slot 2 of a ring`, async () => {
      const g = await gpu();
      const rng = mulberry32(count);
      const y = rand([count], rng), t = rand([count], rng);
      await scoped(g, async () => {
        const by = upload(g, y.data, 'y'), bt = upload(g, t.data, 'target');
        const scratch = empty(g, MSE_PARTS, 'scratch'), loss = upload(g, [-1, -1, -1, -1], 'loss'), bdy = empty(g, count, 'dy');
        await run(g, [...mseLoss(g.device, count, 2, { y: by, target: bt, scratch, loss }), mseGrad(g.device, count, { y: by, target: bt, dy: bdy })]);
        const l = await readback(g, loss, 4);
        expect(Array.from(l.slice(0, 2))).toEqual([-1, -1]); // other slots untouched
        expectClose([l[2]!], [mse(y, t)], 'loss');
        expectClose(await readback(g, bdy, count), mseBackward(y, tensor([count], t.data)).data, 'dy');
      });
    });
  }
});
