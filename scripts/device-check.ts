// A prepared check for a real GPU (run on a lent machine, bundled by scripts/device-bundle.sh):
// the kernels against the float64 reference on the seed's shapes and awkward ones, the whole
// training step against PyTorch's fixtures, then the benchmark at several batch sizes with a
// per-layer timestamp profile. Prints one JSON object; exits non-zero if any check fails.
import { readFileSync, writeFileSync } from 'node:fs';
import { openNodeDevice } from '../src/gpu/node.ts';
import { conv2dBackwardInput, conv2dForward, conv2dGeometry, convGradBias, convGradScratch, convGradWeight } from '../src/ops/conv2d.ts';
import { convTranspose2dBackwardBias, convTranspose2dBackwardInput, convTranspose2dBackwardWeight, convTranspose2dForward, convTranspose2dGeometry, convTranspose2dGradScratch } from '../src/ops/conv_transpose2d.ts';
import { maxpool2dBackward, maxpool2dForward, maxpool2dGeometry } from '../src/ops/maxpool2d.ts';
import { activationForward } from '../src/ops/activation.ts';
import { record, type Dispatch } from '../src/ops/dispatch.ts';
import { conv2d, conv2dBackward } from '../test/reference/conv2d.ts';
import { convTranspose2d, convTranspose2dBackward } from '../test/reference/conv_transpose2d.ts';
import { maxpool2d, maxpool2dBackward as poolRef } from '../test/reference/maxpool2d.ts';
import { mulberry32, rand } from '../test/reference/tensor.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { stepFlops } from '../src/nn/flops.ts';
import { Trainer } from '../src/train/trainer.ts';
import type { OptimizerConfig } from '../src/graph/autograd.ts';

const g = await openNodeDevice({ timestamps: true });
const d = g.device;
const errors: string[] = [];
d.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
const report: Record<string, unknown> = { adapter: g.adapterName, info: { ...g.adapterInfo }, checks: [] as unknown[] };
const checks = report.checks as { name: string; worst: number; ok: boolean }[];

const up = (a: ArrayLike<number>) => {
  const arr = Float32Array.from(a);
  const b = d.createBuffer({ size: Math.max(16, arr.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  d.queue.writeBuffer(b, 0, arr);
  return b;
};
const zeros = (n: number) => up(new Float32Array(n));
async function read(b: GPUBuffer, n: number) {
  const s = d.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const e = d.createCommandEncoder();
  e.copyBufferToBuffer(b, 0, s, 0, n * 4);
  d.queue.submit([e.finish()]);
  await g.wait(s.mapAsync(GPUMapMode.READ));
  const r = new Float32Array(s.getMappedRange().slice(0));
  s.destroy();
  return r;
}
async function run(ds: Dispatch[]) {
  const e = d.createCommandEncoder();
  const p = e.beginComputePass();
  for (const x of ds) record(p, x);
  p.end();
  d.queue.submit([e.finish()]);
  await g.wait(d.queue.onSubmittedWorkDone());
}
function compare(name: string, got: Float32Array, ref: ArrayLike<number>) {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / (1e-4 + 1e-4 * Math.abs(ref[i]!)));
  checks.push({ name, worst: +worst.toFixed(3), ok: worst <= 1 && got.length === ref.length });
}

type P = [number, number];
const convCases: [string, number[], number, P, P, P][] = [
  ['conv1.0 b32', [32, 3, 32, 32], 16, [3, 3], [1, 1], [1, 1]], ['conv2.0 b32', [32, 16, 16, 16], 32, [3, 3], [1, 1], [1, 1]],
  ['odd k5 s3 p2', [2, 3, 11, 13], 16, [5, 5], [3, 3], [2, 2]], ['rect k[2,3] s[1,2]', [2, 3, 7, 9], 4, [2, 3], [1, 2], [0, 1]],
];
for (const [name, xs, co, k, s, p] of convCases) {
  const r = mulberry32(xs[0]! + co);
  const x = rand(xs, r), w = rand([co, xs[1]!, ...k], r), b = rand([co], r);
  const y = conv2d(x, w, b, { stride: s, padding: p }), dy = rand(y.shape, r), gr = conv2dBackward(x, w, dy, { stride: s, padding: p });
  const geo = conv2dGeometry(xs, w.shape, { stride: s, padding: p });
  const B = { x: up(x.data), w: up(w.data), b: up(b.data), y: zeros(y.data.length), dy: up(dy.data), dx: zeros(x.data.length), dw: zeros(w.data.length), db: zeros(co) };
  await run([conv2dForward(d, geo, { x: B.x, w: B.w, bias: B.b, y: B.y }), conv2dBackwardInput(d, geo, { dy: B.dy, w: B.w, dx: B.dx }),
    ...convGradWeight(d, geo, { x: B.x, dy: B.dy, dw: B.dw, scratch: zeros(convGradScratch(geo).weight) }), ...convGradBias(d, geo, { dy: B.dy, db: B.db, scratch: zeros(convGradScratch(geo).bias) })]);
  compare(`conv2d ${name} y`, await read(B.y, y.data.length), y.data);
  compare(`conv2d ${name} dx`, await read(B.dx, x.data.length), gr.dx.data);
  compare(`conv2d ${name} dw`, await read(B.dw, w.data.length), gr.dw.data);
  compare(`conv2d ${name} db`, await read(B.db, co), gr.db.data);
}
const tCases: [string, number[], number, P, P, P, P][] = [
  ['transconv1.0 b32', [32, 32, 8, 8], 16, [2, 2], [2, 2], [0, 0], [0, 0]], ['transconv2.0 b32', [32, 16, 16, 16], 3, [2, 2], [2, 2], [0, 0], [0, 0]],
  ['k5 s3 p2 op1', [2, 1, 5, 4], 3, [5, 5], [3, 3], [2, 2], [1, 1]], ['k3 s2 p1 op1', [2, 3, 7, 9], 4, [3, 3], [2, 2], [1, 1], [1, 1]],
];
for (const [name, xs, co, k, s, p, op] of tCases) {
  const r = mulberry32(xs[0]! + co + 9);
  const x = rand(xs, r), w = rand([xs[1]!, co, ...k], r), b = rand([co], r);
  const prm = { stride: s, padding: p, outputPadding: op };
  const y = convTranspose2d(x, w, b, prm), dy = rand(y.shape, r), gr = convTranspose2dBackward(x, w, dy, prm);
  const geo = convTranspose2dGeometry(xs, w.shape, prm);
  const B = { x: up(x.data), w: up(w.data), b: up(b.data), y: zeros(y.data.length), dy: up(dy.data), dx: zeros(x.data.length), dw: zeros(w.data.length), db: zeros(co) };
  await run([convTranspose2dForward(d, geo, { x: B.x, w: B.w, bias: B.b, y: B.y }), convTranspose2dBackwardInput(d, geo, { dy: B.dy, w: B.w, dx: B.dx }),
    ...convTranspose2dBackwardWeight(d, geo, { x: B.x, dy: B.dy, dw: B.dw, scratch: zeros(convTranspose2dGradScratch(geo).weight) }), ...convTranspose2dBackwardBias(d, geo, { dy: B.dy, db: B.db, scratch: zeros(convTranspose2dGradScratch(geo).bias) })]);
  compare(`conv_transpose2d ${name} y`, await read(B.y, y.data.length), y.data);
  compare(`conv_transpose2d ${name} dx`, await read(B.dx, x.data.length), gr.dx.data);
  compare(`conv_transpose2d ${name} dw`, await read(B.dw, w.data.length), gr.dw.data);
  compare(`conv_transpose2d ${name} db`, await read(B.db, co), gr.db.data);
}
{
  const r = mulberry32(3);
  const x = rand([32, 16, 32, 32], r), ref = maxpool2d(x, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] });
  const dy = rand(ref.y.shape, r), dx = poolRef(dy, ref.argmax, x.shape);
  const geo = maxpool2dGeometry(x.shape, { kernel: 3, stride: 2, padding: 1 });
  const B = { x: up(x.data), y: zeros(ref.y.data.length), a: zeros(ref.y.data.length), dy: up(dy.data), dx: zeros(x.data.length) };
  await run([maxpool2dForward(d, geo, { x: B.x, y: B.y, argmax: B.a }), maxpool2dBackward(d, geo, { dy: B.dy, argmax: B.a, dx: B.dx })]);
  compare('maxpool2d k3 s2 p1 y', await read(B.y, ref.y.data.length), ref.y.data);
  compare('maxpool2d k3 s2 p1 dx', await read(B.dx, x.data.length), dx.data);
}
{
  const n = 65_535 * 64 * 3 + 17; // folded dispatch
  const x = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
  const B = { x: up(x), y: zeros(n) };
  await run([activationForward(d, 'relu', n, B)]);
  compare('relu folded dispatch', await read(B.y, n), Array.from(x, (v) => Math.max(0, v)));
}

// The training step against PyTorch (same fixtures as test/trainer.gpu.test.ts).
const load = (f: string) => parseSafetensors(new Uint8Array(readFileSync(`test/fixtures/${f}`)), f).tensors;
const fb = load('cae_forward_backward.safetensors'), tr = load('cae_train.safetensors');
const model = buildModel(CAE_SPEC, 'cae');
const init = new Map(model.params.map((p) => [p.name, tr.get(`init.${p.name}`)!.data]));
for (const [prefix, opt, steps] of [['sgd', { kind: 'sgd', options: { lr: 0.01 } }, 1], ['adam', { kind: 'adam', options: { lr: 1e-3 } }, 3]] as [string, OptimizerConfig, number][]) {
  const losses: number[] = [];
  const t = new Trainer(g, model, { count: 8, pixels: Uint8Array.from(fb.get('images_u8')!.data), source: 'fixture' },
    { batch: 8, optimizer: opt, seed: 0, shuffle: false, init, onLoss: (s, l) => { losses[s - 1] = l; } });
  for (let i = 0; i < steps; i++) await t.step({ flush: i === steps - 1 });
  await t.drain();
  const params = await t.params();
  t.destroy();
  const want = tr.get(`${prefix}.losses`)!.data;
  const lossErr = Math.max(...Array.from(want, (l, i) => Math.abs(losses[i]! - l) / l));
  let wErr = 0;
  for (const p of model.params) {
    const w = tr.get(`${prefix}.after.${p.name}`)!.data, v = params.get(p.name)!;
    const big = Math.max(...Array.from(w, Math.abs));
    for (let i = 0; i < w.length; i++) wErr = Math.max(wErr, Math.abs(v[i]! - w[i]!) / big);
  }
  checks.push({ name: `${prefix} ${steps} step(s) vs PyTorch (loss rel ${lossErr.toExponential(2)}, weights ${wErr.toExponential(2)})`, worst: Math.max(lossErr, wErr) / 1e-4, ok: lossErr < 1e-4 && wErr < 1e-4 });
}

// Benchmark: images/s at several batch sizes, and a per-layer profile at the largest.
const bench: unknown[] = [];
// KILN_CHECK_QUICK=1 shrinks the benchmark so the script itself can be tried on SwiftShader first.
const quick = process.env.KILN_CHECK_QUICK === '1';
const batches = quick ? [4] : [32, 128, 512];
for (const batch of batches) {
  const count = Math.max(batch * 4, 1024);
  const r = mulberry32(batch);
  const pixels = Uint8Array.from({ length: count * 3072 }, () => Math.floor((r() + 1) * 127.9));
  const profile = batch === batches[batches.length - 1];
  const t0 = performance.now();
  const t = new Trainer(g, model, { count, pixels, source: 'synthetic' }, { batch, optimizer: { kind: 'adam', options: { lr: 1e-3 } }, seed: 0, shuffle: true, profile });
  await t.step({ flush: true });
  await t.drain();
  const compileMs = performance.now() - t0;
  for (let i = 0; i < (quick ? 1 : 5); i++) await t.step();
  await t.drain();
  const steps = quick ? 2 : 50;
  const t1 = performance.now();
  for (let i = 0; i < steps; i++) await t.step({ flush: i === steps - 1 });
  await t.drain();
  const s = (performance.now() - t1) / 1000;
  const flops = stepFlops(model, batch).total;
  const row: Record<string, unknown> = { batch, images_per_s: Math.round((steps * batch) / s), ms_per_step: +(1000 * s / steps).toFixed(3),
    gflop_per_s: +((flops * steps) / s / 1e9).toFixed(1), planned_peak_bytes: t.plan.peakBytes, compile_ms: Math.round(compileMs), profiled: profile };
  if (profile && t.profiler) {
    row.layer_us_per_step = Object.fromEntries([...t.profiler.totals].map(([k, v]) => [k, +(v / t.profiler!.steps).toFixed(1)]));
    writeFileSync(`${process.env.OUT ?? '.'}/trace.json`, t.profiler.trace({ adapter: g.adapterName, batch }));
  }
  bench.push(row);
  t.destroy();
}
report.bench = bench;
report.gpu_errors = errors;
const failed = checks.filter((c) => !c.ok).length + errors.length;
report.summary = `${checks.length - checks.filter((c) => !c.ok).length} passed, ${failed} failed`;
console.log(JSON.stringify(report, null, 1));
writeFileSync(`${process.env.OUT ?? '.'}/device.json`, JSON.stringify(report, null, 1));
g.close();
process.exit(failed > 0 ? 1 : 0);
