// maxpool2d forward (values and argmax) and backward on the GPU against the float64 reference,
// including overlapping windows (stride < kernel) where gradients from several windows add up.
import { describe, expect, it } from 'vitest';
import { maxpool2d, maxpool2dBackward } from './reference/maxpool2d.ts';
import { mulberry32, rand } from './reference/tensor.ts';
import { maxpool2dBackward as poolBackward, maxpool2dForward, maxpool2dGeometry, maxpoolBackwardActPass } from '../src/ops/maxpool2d.ts';
import * as act from './reference/activations.ts';
import { empty, expectClose, gpu, readback, readbackInt, run, scoped, upload } from './gpu.ts';

type P = [number, number];
const CASES: { name: string; x: [number, number, number, number]; k: P; s: P; p: P }[] = [
  { name: 'seed conv1.2, batch 8', x: [8, 16, 32, 32], k: [2, 2], s: [2, 2], p: [0, 0] },
  { name: 'seed conv2.2, batch 1', x: [1, 32, 16, 16], k: [2, 2], s: [2, 2], p: [0, 0] },
  { name: 'odd 7×9, k2 (drops last row/col)', x: [2, 3, 7, 9], k: [2, 2], s: [2, 2], p: [0, 0] },
  { name: 'overlapping k3 s1 p1', x: [2, 3, 7, 9], k: [3, 3], s: [1, 1], p: [1, 1] },
  { name: 'overlapping k3 s2 p1', x: [1, 16, 9, 7], k: [3, 3], s: [2, 2], p: [1, 1] },
  { name: 'rectangular k[2,3] s[1,3] p[1,0]', x: [2, 1, 7, 9], k: [2, 3], s: [1, 3], p: [1, 0] },
  { name: 'k5 s3 p2', x: [1, 3, 11, 13], k: [5, 5], s: [3, 3], p: [2, 2] },
  { name: '2×2 vec4 path, 24 wide', x: [3, 5, 6, 24], k: [2, 2], s: [2, 2], p: [0, 0] },
];

describe('maxpool2d on the GPU matches the float64 reference', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.x.join('×')} k${c.k} s${c.s} p${c.p}`, async () => {
      const g = await gpu();
      const rng = mulberry32(c.x.reduce((a, b) => a * 13 + b, 3));
      const x = rand([...c.x], rng);
      const ref = maxpool2d(x, { kernel: c.k, stride: c.s, padding: c.p });
      const dy = rand(ref.y.shape, rng);
      const dx = maxpool2dBackward(dy, ref.argmax, [...c.x]);
      const geo = maxpool2dGeometry(c.x, { kernel: c.k, stride: c.s, padding: c.p });
      expect([...geo.outShape]).toEqual(ref.y.shape);
      await scoped(g, async () => {
        const bx = upload(g, x.data, 'x'), by = empty(g, ref.y.data.length, 'y'), barg = empty(g, ref.y.data.length, 'argmax');
        const bdy = upload(g, dy.data, 'dy'), bdx = empty(g, x.data.length, 'dx');
        await run(g, [
          maxpool2dForward(g.device, geo, { x: bx, y: by, argmax: barg }),
          poolBackward(g.device, geo, { dy: bdy, argmax: barg, dx: bdx }),
        ]);
        expectClose(await readback(g, by, ref.y.data.length), ref.y.data, 'y');
        expect(Array.from(await readbackInt(g, barg, ref.argmax.length))).toEqual(Array.from(ref.argmax));
        expectClose(await readback(g, bdx, dx.data.length), dx.data, 'dx');
      });
    });
  }

  it('ties pick the first maximum in row-major order, as PyTorch does', async () => {
    const g = await gpu();
    const geo = maxpool2dGeometry([1, 1, 2, 2], { kernel: 2 });
    await scoped(g, async () => {
      const bx = upload(g, [1, 5, 5, 5], 'x'), by = empty(g, 1, 'y'), barg = empty(g, 1, 'argmax');
      await run(g, [maxpool2dForward(g.device, geo, { x: bx, y: by, argmax: barg })]);
      expect(Array.from(await readbackInt(g, barg, 1))).toEqual([1]);
    });
  });

  it('the 2×2 vec4 path keeps ties and NaN as the general kernel does (first maximum; a NaN wins)', async () => {
    const g = await gpu();
    const geo = maxpool2dGeometry([1, 1, 2, 8], { kernel: 2 });
    // Windows: [1 5 | 5 5] ties → index 1; [NaN 2 | 3 4] → NaN at 2; [0 0 | 0 0] → 4; [1 2 | 3 NaN] → NaN at 15.
    const x = [1, 5, NaN, 2, 0, 0, 1, 2, 5, 5, 3, 4, 0, 0, 3, NaN];
    await scoped(g, async () => {
      const bx = upload(g, x, 'x'), by = empty(g, 4, 'y'), barg = empty(g, 4, 'argmax');
      await run(g, [maxpool2dForward(g.device, geo, { x: bx, y: by, argmax: barg })]);
      expect(Array.from(await readbackInt(g, barg, 4))).toEqual([1, 2, 4, 15]);
      const y = Array.from(await readback(g, by, 4));
      expect(y[0]).toBe(5);
      expect(Number.isNaN(y[1])).toBe(true);
      expect(y[2]).toBe(0);
      expect(Number.isNaN(y[3])).toBe(true);
    });
  });

  // conv → activation → pool: the pool's backward also applies the activation's (from its output).
  const ACTS: [string, (z: Float64Array) => Float64Array, (z: Float64Array, g: Float64Array) => Float64Array][] = [
    ['relu', act.relu, act.reluBackward], ['selu', act.selu, act.seluBackward], ['sigmoid', act.sigmoid, act.sigmoidBackward],
    ['tanh', act.tanh, act.tanhBackward], ['leakyrelu', (z) => act.leakyRelu(z, 0.2), (z, g) => act.leakyReluBackward(z, g, 0.2)],
  ];
  for (const [kind, fwd, bwd] of ACTS) {
    it(`backward fused with ${kind}'s backward equals the two backward passes`, async () => {
      const g = await gpu();
      const shape = kind === 'selu' ? [2, 3, 8, 16] : [2, 3, 9, 8]; // SELU also through the 2×2 vec4 path
      const rng = mulberry32(kind.length * 7 + 1);
      const z = rand(shape, rng);
      const a = { shape, data: fwd(z.data) };
      const o = kind === 'selu' ? { kernel: [2, 2] as P, stride: [2, 2] as P, padding: [0, 0] as P } : { kernel: [3, 3] as P, stride: [2, 2] as P, padding: [1, 1] as P };
      const ref = maxpool2d(a, o);
      const dy = rand(ref.y.shape, rng);
      const want = bwd(z.data, maxpool2dBackward(dy, ref.argmax, shape).data);
      const geo = maxpool2dGeometry(shape, o);
      await scoped(g, async () => {
        const ba = upload(g, a.data, 'a'), by = empty(g, ref.y.data.length, 'y'), barg = empty(g, ref.y.data.length, 'argmax');
        const bdy = upload(g, dy.data, 'dy'), bdx = empty(g, a.data.length, 'dx');
        const fused = maxpoolBackwardActPass.variants[0]!.build(g.device, { g: geo, kind: kind as 'relu', slope: 0.2 },
          { dy: bdy, argmax: barg, y: by, dx: bdx }, 'pool+act');
        await run(g, [maxpool2dForward(g.device, geo, { x: ba, y: by, argmax: barg }), ...fused]);
        expectClose(await readback(g, bdx, want.length), want, `dx through ${kind}`);
      });
    });
  }
});
