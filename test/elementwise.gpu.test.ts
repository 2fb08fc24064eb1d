// Activations (forward + backward), MSE loss and gradient on the GPU against the float64 reference,
// plus the edge cases: NaN in gives NaN out (forward and backward) for every activation; ±100 and
// ±inf give finite, correct values; the f32 erf behind GELU is within 1e-7 of float64 erf over
// [-10, 10]; the activation a convolution fuses (activate() with ACT/SLOPE) equals the standalone one;
// counts that are multiples of 4 take the vec4 kernels, with the scalar kernels' bits.
import { describe, expect, it } from 'vitest';
import * as ref from './reference/activations.ts';
import { mulberry32, rand } from './reference/tensor.ts';
import {
  activationBackward, activationForward, activationOverrides, ACTIVATIONS, BACKWARD_READS, FUSABLE, type Activation,
  type ActivationOptions,
} from '../src/ops/activation.ts';
import { makeDispatch, shader, type Dispatch } from '../src/ops/dispatch.ts';
import { ConfigError, KilnError } from '../src/errors.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

type Fwd = (x: Float64Array) => Float64Array;
type Bwd = (x: Float64Array, dy: Float64Array) => Float64Array;
const SLOPE = 0.2;
// Each activation under test, with its options and float64 reference (backward from the input x).
const KINDS: { name: string; kind: Activation; o: ActivationOptions; f: Fwd; b: Bwd }[] = [
  { name: 'relu', kind: 'relu', o: {}, f: ref.relu, b: ref.reluBackward },
  { name: 'selu', kind: 'selu', o: {}, f: ref.selu, b: ref.seluBackward },
  { name: 'sigmoid', kind: 'sigmoid', o: {}, f: ref.sigmoid, b: ref.sigmoidBackward },
  { name: 'tanh', kind: 'tanh', o: {}, f: ref.tanh, b: ref.tanhBackward },
  { name: 'leakyrelu', kind: 'leakyrelu', o: {}, f: (x) => ref.leakyRelu(x), b: (x, dy) => ref.leakyReluBackward(x, dy) },
  { name: `leakyrelu(${SLOPE})`, kind: 'leakyrelu', o: { negativeSlope: SLOPE }, f: (x) => ref.leakyRelu(x, SLOPE),
    b: (x, dy) => ref.leakyReluBackward(x, dy, SLOPE) },
  { name: 'leakyrelu(0)', kind: 'leakyrelu', o: { negativeSlope: 0 }, f: (x) => ref.leakyRelu(x, 0), b: (x, dy) => ref.leakyReluBackward(x, dy, 0) },
  { name: 'gelu', kind: 'gelu', o: {}, f: ref.gelu, b: ref.geluBackward },
];

// Forward then backward of one activation on the GPU; backward is given only what BACKWARD_READS names.
async function forwardBackward(k: (typeof KINDS)[number], x: ArrayLike<number>, dy: ArrayLike<number>) {
  const g = await gpu();
  const n = x.length;
  return scoped(g, async () => {
    const bx = upload(g, x, 'x'), by = empty(g, n, 'y'), bdy = upload(g, dy, 'dy'), bdx = empty(g, n, 'dx');
    const saved = BACKWARD_READS[k.kind] === 'x' ? { x: bx } : { y: by };
    await run(g, [
      activationForward(g.device, k.kind, n, { x: bx, y: by }, undefined, k.o),
      activationBackward(g.device, k.kind, n, { ...saved, dy: bdy, dx: bdx }, undefined, k.o),
    ]);
    return { y: await readback(g, by, n), dx: await readback(g, bdx, n) };
  });
}

// Test-only kernels over the shared prelude: erf_f32 itself, and activate() as a convolution's store runs it.
const probe = shader('probe', `
struct Elementwise { count: u32 }
@group(0) @binding(0) var<uniform> p: Elementwise;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn erf_values(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = erf_f32(x[i]); }
}
@compute @workgroup_size(WG)
fn fused(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = activate(x[i]); }
}`);

const EDGES = [-100, 100, -Infinity, Infinity, -0, 0];

describe('activations on the GPU match the float64 reference', () => {
  for (const k of KINDS) {
    for (const count of [1, 1000, 16 * 32 * 32 * 8 + 3]) {
      it(`${k.name} forward and backward, ${count} elements`, async () => {
        const rng = mulberry32(count + k.name.length);
        const x = rand([count], rng).data.map((v) => 4 * v); // covers both saturated tails
        const dy = rand([count], rng).data;
        const got = await forwardBackward(k, x, dy);
        const xf = Float64Array.from(Float32Array.from(x)); // the reference sees the f32 inputs the GPU sees
        expectClose(got.y, k.f(xf), `${k.name} y`);
        expectClose(got.dx, k.b(xf, Float64Array.from(Float32Array.from(dy))), `${k.name} dx`);
      });
    }
  }

  it('counts that are multiples of 4 run the vec4 entries, others the scalar ones, with the same bits', async () => {
    const g = await gpu();
    const rng = mulberry32(7);
    const x = rand([1001], rng).data.map((v) => 4 * v);
    const dy = rand([1001], rng).data;
    const buf = () => g.device.createBuffer({ size: 4004, usage: GPUBufferUsage.STORAGE });
    const [bx, by, bdy, bdx] = [buf(), buf(), buf(), buf()];
    for (const k of KINDS) {
      const saved = BACKWARD_READS[k.kind] === 'x' ? { x: bx } : { y: by };
      const entry = (d: Dispatch) => { d.uniform?.destroy(); return d.kernel.label; };
      expect(entry(activationForward(g.device, k.kind, 1000, { x: bx, y: by }, undefined, k.o))).toBe('activation.forward4');
      expect(entry(activationForward(g.device, k.kind, 1001, { x: bx, y: by }, undefined, k.o))).toBe(`activation.${k.kind}_forward`);
      expect(entry(activationBackward(g.device, k.kind, 1000, { ...saved, dy: bdy, dx: bdx }, undefined, k.o)))
        .toBe(k.kind === 'gelu' ? 'activation.gelu_backward4' : 'activation.backward4');
      expect(entry(activationBackward(g.device, k.kind, 999, { ...saved, dy: bdy, dx: bdx }, undefined, k.o))).toBe(`activation.${k.kind}_backward`);
      const vec = await forwardBackward(k, x.subarray(0, 1000), dy.subarray(0, 1000));
      const scalar = await forwardBackward(k, x, dy);
      expect(Array.from(vec.y), `${k.name} y`).toEqual(Array.from(scalar.y.subarray(0, 1000)));
      expect(Array.from(vec.dx), `${k.name} dx`).toEqual(Array.from(scalar.dx.subarray(0, 1000)));
    }
    for (const b of [bx, by, bdy, bdx]) b.destroy();
  });

  for (const k of KINDS) {
    it(`${k.name}: NaN in, NaN out (forward and backward); ±100 and ±inf as the reference`, async () => {
      // x = NaN with dy = 1, then x = 1 with dy = NaN, then the edges with dy = 0.75.
      const x = [NaN, 1, ...EDGES];
      const dy = [1, NaN, ...EDGES.map(() => 0.75)];
      const got = await forwardBackward(k, x, dy);
      expect(Number.isNaN(got.y[0]!), `${k.name}(NaN) = ${got.y[0]}`).toBe(true);
      expect(Number.isNaN(got.dx[0]!), `${k.name}'(NaN) = ${got.dx[0]}`).toBe(true);
      expect(Number.isNaN(got.dx[1]!), `${k.name} backward of dy = NaN gives ${got.dx[1]}`).toBe(true);
      const wantY = k.f(Float64Array.from(EDGES));
      const wantDx = k.b(Float64Array.from(EDGES), Float64Array.from(EDGES.map(() => 0.75)));
      EDGES.forEach((v, i) => {
        for (const [what, gotv, want] of [['y', got.y[i + 2]!, wantY[i]!], ['dx', got.dx[i + 2]!, wantDx[i]!]] as const) {
          const ok = Number.isFinite(want) ? Math.abs(gotv - want) <= 1e-4 + 1e-4 * Math.abs(want) : gotv === want;
          expect(ok, `${k.name} ${what} at x = ${v}: got ${gotv}, want ${want}`).toBe(true);
        }
      });
    });
  }

  it('ReLU, Sigmoid and Tanh give exact values at the edges (ReLU(-0) = +0, as before)', async () => {
    const got = (kind: Activation) => forwardBackward(KINDS.find((k) => k.name === kind)!, EDGES, EDGES.map(() => 1));
    expect(Array.from((await got('relu')).y)).toEqual([0, 100, 0, Infinity, 0, 0]);
    expect(Array.from((await got('sigmoid')).y.slice(0, 4))).toEqual([0, 1, 0, 1]);
    expect(Array.from((await got('tanh')).y.slice(0, 4))).toEqual([-1, 1, -1, 1]);
    const gelu = await got('gelu');
    expect(Array.from(gelu.y.slice(0, 4))).toEqual([-0, 100, -0, Infinity]);
    expect(Array.from(gelu.dx.slice(0, 4))).toEqual([0, 1, 0, 1]);
  });

  it('erf in f32 is within 1e-7 of float64 erf over [-10, 10], tails included', async () => {
    const g = await gpu();
    const xs: number[] = [];
    for (let i = 0; i <= 20000; i++) xs.push(-10 + i / 1000);
    for (const v of [1, -1, Math.fround(1) - 2 ** -24, 1 + 2 ** -23, 1e-30, -1e-30, 1e-8, 3.9, 5, 9.999]) xs.push(v);
    const x = Float32Array.from(xs);
    const y = await scoped(g, async () => {
      const bx = upload(g, x, 'x'), by = empty(g, x.length, 'erf');
      await run(g, [makeDispatch(g.device, probe, 'erf_values', 'erf', x.length, { count: x.length }, { x: bx, y: by })]);
      return readback(g, by, x.length);
    });
    let worst = 0, at = 0;
    x.forEach((v, i) => {
      const d = Math.abs(y[i]! - ref.erf(v));
      if (!(d <= worst)) { worst = d; at = v; }
    });
    console.log(`erf_f32: max |error| ${worst.toExponential(2)} at x = ${at}`);
    expect(worst, `worst at x = ${at}`).toBeLessThanOrEqual(1e-7);
    // Odd, and exactly ±1 from where erfc(x) is below half an f32 ulp of 1.
    x.forEach((v, i) => { if (v >= 4.5) expect(y[i]).toBe(1); });
  });

  it('GELU keeps its relative accuracy in the lower tail (x down to -12)', async () => {
    const x: number[] = [];
    for (let v = -12; v <= -1; v += 0.01) x.push(v);
    const got = await forwardBackward(KINDS.find((k) => k.kind === 'gelu')!, x, x.map(() => 1));
    const xf = Float64Array.from(Float32Array.from(x));
    // f32 cannot hold x/√2 or x²/2 exactly: an exponent of −72 carries ~1e-5 of relative error.
    // Measured on SwiftShader: ≤ 1.9e-5 (GELU) and ≤ 7.4e-6 (its derivative) over [-12, -1].
    expectClose(got.y, ref.gelu(xf), 'gelu tail', 0, 5e-5);
    expectClose(got.dx, ref.geluBackward(xf, xf.map(() => 1)), "gelu' tail", 0, 5e-5);
  });

  it("a convolution's fused store (activate() with ACT and SLOPE) equals the standalone kernel, bit for bit", async () => {
    const g = await gpu();
    const rng = mulberry32(77);
    const x = [NaN, ...EDGES, ...rand([997], rng).data.map((v) => 6 * v)];
    await scoped(g, async () => {
      const bx = upload(g, x, 'x');
      for (const k of KINDS) {
        const a = empty(g, x.length, 'standalone'), b = empty(g, x.length, 'fused');
        await run(g, [
          activationForward(g.device, k.kind, x.length, { x: bx, y: a }, undefined, k.o),
          makeDispatch(g.device, probe, 'fused', `fused ${k.name}`, x.length, { count: x.length }, { x: bx, y: b }, activationOverrides(k.kind, k.o)),
        ]);
        const [ga, gb] = [await readback(g, a, x.length), await readback(g, b, x.length)];
        expect(Array.from(new Uint32Array(gb.buffer)), k.name).toEqual(Array.from(new Uint32Array(ga.buffer)));
      }
    });
  });

  it('says which activations a training graph may fuse, and what each backward reads', async () => {
    expect(ACTIVATIONS.filter((a) => FUSABLE[a])).toEqual(['relu', 'selu', 'sigmoid', 'tanh', 'leakyrelu']);
    expect(ACTIVATIONS.filter((a) => BACKWARD_READS[a] === 'x')).toEqual(['gelu']);
    const g = await gpu();
    const b = empty(g, 4, 'b');
    expect(() => activationBackward(g.device, 'gelu', 4, { y: b, dy: b, dx: b })).toThrow(/gelu backward reads the forward input x/);
    expect(() => activationBackward(g.device, 'relu', 4, { x: b, dy: b, dx: b })).toThrow(KilnError);
    expect(() => activationForward(g.device, 'leakyrelu', 4, { x: b, y: b }, 'l', { negativeSlope: -0.1 })).toThrow(ConfigError);
    expect(() => activationOverrides('leakyrelu', { negativeSlope: NaN })).toThrow(/negative_slope/);
    expect(activationOverrides('relu')).toEqual({ ACT: 1 });
    expect(activationOverrides('leakyrelu')).toEqual({ ACT: 5, SLOPE: 0.01 });
  });
});
