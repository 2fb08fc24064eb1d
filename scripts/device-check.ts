// The prepared check for a lent real-GPU machine (H100/H200: Vulkan through Dawn, no Node or npm
// there). `bash scripts/device-bundle.sh` packs it with Dawn's binary, this machine's node and the
// Vulkan loader into .dev/kiln-device.tar.xz; unpack it there and run `./run.sh` (see the README).
// In order, timed per section:
//   1. the adapter: name, vendor/architecture/description, features (subgroups and their sizes),
//      key limits; a software adapter (SwiftShader, llvmpipe…) sets "software": true and a warning,
//      and its figures are never labelled GPU figures (--require-gpu makes it a failure);
//   2. every kernel variant of every conv pass and the GEMM, forced in turn, against the float64
//      references (test/variant_sweep.ts, the harness conv_variants.gpu.test.ts uses) on the seed's
//      layers at batch 32 and awkward shapes; an unsupported variant is listed with its reason;
//   3. the training step against PyTorch (test/fixtures/cae_train: 1 SGD, 3 SGD-momentum, 3 Adam
//      steps), with the default kernels and with the tuned ones (test/trainer.gpu.test.ts' criteria);
//   4. `tune` (mode full, no budget) of the cae and classifier steps at batch 32, 256 and 1024: the
//      choice per pass and every candidate's time; a candidate the tuner found wrong is a failure;
//   5. `runBench` with those choices at the same batches: images/s (a pilot, then 3 sized runs;
//      the median and the spread), ms/step, GFLOP/s, the GEMM rate and fraction, per-pass ms,
//      planned peak bytes, and a CIFAR-10 epoch (50,000 images) in seconds. 4 and 5 run batch by
//      batch; no new batch starts after --budget-s seconds (225; --quick 150), and any batch so
//      skipped is named in "warnings".
// Prints one JSON object on stdout (also written to --out FILE, default $OUT/device-check.json,
// after every section, so a run cut short still leaves what it had), a short summary on stderr,
// and exits 1 if any check failed. 80 s on an H200 (2026-11-28). `--quick` (batches 8 and 16, a few
// shapes, short benchmarks) is how it is tried here on SwiftShader first (≈ 2 min on 2 cores).
// Other flags: --only variants,parity,tune,bench   --fixtures DIR (test/fixtures)   --require-gpu
// (a software adapter fails the run)   --out FILE.   From source here (Vite's module runner):
//   node -e "import('vite').then(v => v.runnerImport(process.cwd() + '/scripts/device-check.ts', { configFile: process.cwd() + '/vite.config.ts', logLevel: 'error' }))" -- --quick
// On the GPU machine Dawn needs the Vulkan loader and the NVIDIA driver's ICD: the apt package
// libvulkan1 (the bundle carries Debian 12's libvulkan.so.1 for machines without it) and the
// driver's nvidia_icd.json (libnvidia-gl-<version> on Ubuntu; in NVIDIA containers it is mounted,
// e.g. /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json). run.sh finds both and exports them.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { create } from 'webgpu';
import { openNodeDevice } from '../src/gpu/node.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { record } from '../src/ops/dispatch.ts';
import { capsOf, CONV_PASSES, type ConvArgs } from '../src/ops/conv_passes.ts';
import type { Pass, Variant } from '../src/ops/variant.ts';
import { passOf, type PassName } from '../src/ops/passes.ts';
import { gemm, gemmPass } from '../src/ops/gemm.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { buildModel, CAE_SPEC, type Model } from '../src/nn/spec.ts';
import { classifierSpec } from '../src/nn/presets.ts';
import { Trainer } from '../src/train/trainer.ts';
import type { OptimizerConfig } from '../src/graph/autograd.ts';
import { buildTrainingGraph } from '../src/graph/autograd.ts';
import { tune } from '../src/tune/tuner.ts';
import { memoryCache } from '../src/tune/cache.ts';
import { runBench, type BenchResult } from '../src/bench/run.ts';
import { VERSION } from '../src/version.ts';
import { gemm as gemmRef } from '../test/reference/gemm.ts';
import { mulberry32, rand } from '../test/reference/tensor.ts';
import {
  ACTS, compare, CONV, CONVT, forwardChecks, GEMM_SHAPES, pick, POOL_CASES, roleChecks, runCheck, runPoolCheck, runUnpoolCheck, seedCases, sweepVariant, UNPOOL_CASES, UNPOOL_CASES_T,
  type ConvCase, type GpuIo, type Sweep,
} from '../test/variant_sweep.ts';

const argv = process.argv;
const opt = (name: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
const quick = argv.includes('--quick');
const only = opt('only')?.split(',');
const fixtures = opt('fixtures') ?? 'test/fixtures';
const outFile = opt('out') ?? (process.env.OUT ? `${process.env.OUT}/device-check.json` : undefined);
const BATCHES = quick ? [8, 16] : [32, 256, 1024];
// Tuning and benchmarks of a new (model, batch) start only before this many seconds from the start.
const budgetS = Number(opt('budget-s') ?? (quick ? 150 : 225));
const t0 = performance.now();
const secs = (from: number) => +((performance.now() - from) / 1000).toFixed(2);
const say = (line: string) => process.stderr.write(`${line}\n`);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

const failures: string[] = [];
let passed = 0;
const check = (ok: boolean, what: string) => { if (ok) passed++; else failures.push(what); return ok; };
const report: Record<string, unknown> = { tool: 'kiln device-check', kiln: VERSION, quick, started: new Date().toISOString() };
const seconds: Record<string, number> = {};
function save(): void {
  Object.assign(report, { seconds: { ...seconds, total: secs(t0) }, checks: { passed, failed: failures.length, failures }, ok: failures.length === 0 });
  if (outFile) writeFileSync(outFile, JSON.stringify(report, null, 1));
}
/** Runs one section, timed; an exception fails the run but not the sections after it. */
async function section(name: string, fn: () => Promise<void>): Promise<void> {
  if (only && !only.includes(name)) return;
  const s = performance.now();
  try { await fn(); } catch (e) { check(false, `${name}: ${message(e)}`); say(`${name}: FAILED ${message(e)}`); }
  seconds[name] = secs(s);
  save();
}

// ---- 1. the adapter --------------------------------------------------------------------------
const nodes = ['/dev/nvidia0', '/dev/dxg'].filter((p) => existsSync(p));
try { nodes.push(...readdirSync('/dev/dri').filter((f) => f.startsWith('renderD')).map((f) => `/dev/dri/${f}`)); } catch { /* none */ }
report.host = { node: process.version, platform: `${process.platform}-${process.arch}`, gpu_device_nodes: nodes,
  VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? null, VK_DRIVER_FILES: process.env.VK_DRIVER_FILES ?? null };
let opened: Gpu;
try {
  opened = await openNodeDevice({ timestamps: true, label: 'kiln-device-check' });
} catch (e) {
  // No adapter at all (on a GPU machine: usually no Vulkan loader or no NVIDIA ICD): still one JSON object.
  report.adapter = { error: message(e) };
  check(false, `adapter: ${message(e)}`);
  save();
  console.log(JSON.stringify(report, null, 1));
  say(`device check: no adapter: ${message(e)} (GPU device nodes: ${nodes.join(', ') || 'none'}; VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'})`);
  process.exit(1);
}
const g = opened;
const keep: GPU[] = []; // a Dawn instance must outlive every await on it
const LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize', 'minStorageBufferOffsetAlignment'] as const;
const pickLimits = (l: GPUSupportedLimits) => Object.fromEntries(LIMITS.map((k) => [k, l[k]]));
{
  const s = performance.now();
  const info = g.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  // The device holds only the features Kiln asked for; a second look at the adapter lists them all.
  let adapterFeatures: string[] | string, adapterLimits: Record<string, number> | string;
  try {
    const inst = create([]);
    keep.push(inst);
    const a = await g.wait(inst.requestAdapter({ powerPreference: 'high-performance' }));
    if (!a) throw new Error('no adapter on a second look');
    adapterFeatures = [...a.features].map(String).sort();
    adapterLimits = pickLimits(a.limits);
  } catch (e) { adapterFeatures = adapterLimits = `not read: ${message(e)}`; }
  const kind = g.isSoftware ? (/swiftshader|llvmpipe|lavapipe|warp/i.exec(`${info.architecture} ${info.description} ${info.device}`)?.[0]?.toLowerCase()
    ?? 'fallback adapter') : null;
  const warnings: string[] = [];
  Object.assign(report, {
    software: g.isSoftware, software_kind: kind, warnings,
    adapter: {
      name: g.adapterName, vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      is_fallback_adapter: info.isFallbackAdapter ?? null, subgroup_min_size: info.subgroupMinSize ?? null, subgroup_max_size: info.subgroupMaxSize ?? null,
      features: adapterFeatures, device_features: [...g.device.features].map(String).sort(), timestamps: g.hasTimestamps,
      limits: adapterLimits, device_limits: pickLimits(g.device.limits),
    },
  });
  // Kiln picks SwiftShader by itself on a machine without a GPU device node; say what it chose.
  (report.host as Record<string, unknown>).VK_ICD_FILENAMES = process.env.VK_ICD_FILENAMES ?? null;
  say(`adapter: ${g.adapterName}; subgroups ${g.device.features.has('subgroups') ? `${info.subgroupMinSize ?? '?'}–${info.subgroupMaxSize ?? '?'}` : 'no'}; ` +
    `timestamps ${g.hasTimestamps ? 'yes' : 'no'}`);
  if (g.isSoftware) {
    warnings.push(`software adapter (${kind}): every figure below is a software figure, not a GPU figure`);
    say(`WARNING: ${g.adapterName} is a SOFTWARE adapter (${kind}); its figures are not GPU figures. GPU device nodes: ${nodes.join(', ') || 'none'}; ` +
      `VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'}`);
    if (argv.includes('--require-gpu')) check(false, `adapter: ${g.adapterName} is software and --require-gpu was given`);
  }
  if (!g.hasTimestamps) warnings.push('no timestamp-query: no per-pass ms in the benchmark');
  seconds.adapter = secs(s);
  save();
}

// Plain WebGPU plumbing for the shared sweep (test/gpu.ts does the same for Vitest).
const io: GpuIo = {
  async scoped(gpu, fn) {
    for (const f of ['validation', 'out-of-memory', 'internal'] as const) gpu.device.pushErrorScope(f);
    let out: Awaited<ReturnType<typeof fn>> | undefined, thrown: unknown, failed = false;
    try { out = await fn(); } catch (e) { thrown = e; failed = true; }
    // The scopes are popped whatever happened; a GPU error is the real cause, so it wins.
    const errs = await gpu.wait(Promise.all([gpu.device.popErrorScope(), gpu.device.popErrorScope(), gpu.device.popErrorScope()]));
    const msgs = errs.filter((e) => e !== null).map((e) => e!.message.split('\n')[0]);
    if (msgs.length > 0) throw new Error(`GPU error: ${msgs.join(' | ')}`);
    if (failed) throw thrown;
    return out as Awaited<ReturnType<typeof fn>>;
  },
  upload(gpu, data, label) {
    const arr = Float32Array.from(data);
    const b = gpu.device.createBuffer({ label, size: Math.max(16, arr.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    gpu.device.queue.writeBuffer(b, 0, arr);
    return b;
  },
  empty: (gpu, count, label) => io.upload(gpu, new Float32Array(count), label),
  async run(gpu, dispatches) {
    const enc = gpu.device.createCommandEncoder({ label: 'device-check' });
    const pass = enc.beginComputePass({ label: 'device-check' });
    for (const d of dispatches) record(pass, d);
    pass.end();
    gpu.device.queue.submit([enc.finish()]);
    await gpu.wait(gpu.device.queue.onSubmittedWorkDone());
  },
  async readback(gpu, buf, count) {
    const staging = gpu.device.createBuffer({ label: 'device-check.readback', size: count * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, 0, staging, 0, count * 4);
    gpu.device.queue.submit([enc.finish()]);
    await gpu.wait(staging.mapAsync(GPUMapMode.READ));
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.destroy();
    return out;
  },
};

// ---- 2. every kernel variant against the float64 references ----------------------------------
await section('variants', async () => {
  const seed = seedCases(quick ? 8 : 32);
  const conv = [...seed.conv, ...pick(CONV, quick ? ['k5 s3 p2', 'groups 2, 3 in / 4 out per group, dilation 2, stride 2'] : [
    'odd 7×9, k2 s2', 'k5 s3 p2', 'k3 s3 p0 (rows left over)', 'dilation [2,3], stride [2,1]', 'groups 2, 3 in / 4 out per group, dilation 2, stride 2',
    'depthwise ×2 (in 4 → out 8), stride 2', 'depthwise, 16 channels, k5 d2 (batch 4)', 'k3 s1 p1, width 12, 40 → 36 channels',
    'k2 s2, width 16, 6 → 20 channels', 'k3 s1 p1, width 8, groups 2 (6 in / 10 out per group)'])];
  const convT = [...seed.convT, ...pick(CONVT, quick ? ['k5 s3 p2 op1', 'depthwise ×2 (in 4 → out 8), dilation 2'] : [
    'k5 s3 p2 op1', 'k1 s3 (gaps between pixels)', 'padding ≥ kernel−1 (crops)', 'dilation [2,3], stride [3,2]',
    'depthwise ×2 (in 4 → out 8), dilation 2', 'groups 3, 2 in / 3 out per group, dilation [2,1]', 'k3 s1 p1, width 8, 20 → 36 channels', 'k2 s2 op1', 'k3 s3'])];
  const sweep: Sweep = { fwd: conv, fwdT: convT, grad: conv, gradT: convT };
  const gemmShapes = GEMM_SHAPES.filter(([m, n, k]) => !quick || m * n * k <= 1 << 21);
  const results: Record<string, unknown>[] = [];
  report.variants = { sweep: { conv: conv.map((c) => c.name), conv_transpose: convT.map((c) => c.name), gemm: gemmShapes.map((s) => s.join('×')) }, results };
  let ran = 0, unsupported = 0;
  for (const pass of CONV_PASSES) {
    const checks = roleChecks(pass.name, sweep);
    const fused = pass.name === 'conv.forward' || pass.name === 'conv.transposed' ? forwardChecks(pass.name, [...conv.slice(2), ...conv.slice(0, 2)], [...convT.slice(2), ...convT.slice(0, 2)]) : [];
    for (const [i, v] of pass.variants.entries()) {
      const s = performance.now();
      const r = v.only ? { ran: 0, bad: [], worst: 0, unsupported: [] } : await sweepVariant(g, io, pass, v, checks);
      const row: Record<string, unknown> = { pass: pass.name, variant: v.name, prefers: v.prefers ?? null, ran: r.ran, of: checks.length,
        worst_vs_tolerance: +r.worst.toPrecision(3), failed_count: r.bad.length, failed: r.bad.slice(0, 10), unsupported: r.unsupported.map((u) => ({ case: u.what, reason: u.why })) };
      if (fused.length > 0 && !v.only) {
        row.fused_activation = await fusedCheck(pass, i, fused, false);
        row.fused_activation_backward = await fusedCheck(pass, i, fused, true);
      }
      if (pass.name === 'conv.forward') row.fused_pool = await poolCheck(v, i);
      // The in-register pool pools before a monotone activation and after GELU: both branches.
      if (v.name === 'row3-r16-pool') row.fused_pool_gelu = await poolCheck(v, i, 'gelu');
      if (pass.name === 'conv.transposed' || (pass.name === 'conv.forward' && !v.only)) row.fused_pool_backward = await unpoolCheck(pass.name, v, i);
      row.ms = Math.round(performance.now() - s);
      check(r.bad.length === 0, `variants: ${pass.name} ${v.name}: ${r.bad[0]}`);
      if (r.ran === 0 && !v.only) (report.warnings as string[]).push(`${pass.name} ${v.name} ran on no shape of the sweep here (${r.unsupported[0]?.why})`);
      ran += r.ran;
      unsupported += r.unsupported.length;
      results.push(row);
      if (r.bad.length > 0) say(`  ${pass.name} ${v.name}: ${r.bad.length} mismatches, first: ${r.bad[0]}`);
      save(); // a run cut short (a hung kernel) still shows how far it got
    }
  }
  for (const v of gemmPass.variants) {
    const s = performance.now();
    const row = { pass: 'gemm', variant: v.name, prefers: null, ran: 0, of: gemmShapes.length, worst_vs_tolerance: 0, failed_count: 0, failed: [] as string[],
      unsupported: [] as { case: string; reason: string }[], ms: 0 };
    for (const [m, n, k] of gemmShapes) {
      const why = v.unsupported?.(capsOf(g.device), { m, n, k });
      if (why) { row.unsupported.push({ case: `${m}×${n}×${k}`, reason: why }); continue; }
      const r = mulberry32(m * 7919 + n * 31 + k);
      const a = rand([m, k], r).data, b = rand([k, n], r).data;
      try {
        const c = await io.scoped(g, async () => {
          const bufs = { a: io.upload(g, a, 'a'), b: io.upload(g, b, 'b'), c: io.empty(g, m * n, 'c') };
          await io.run(g, gemm(g.device, v, { m, n, k }, bufs));
          const out = await io.readback(g, bufs.c, m * n);
          for (const x of Object.values(bufs)) x.destroy();
          return compare(out, gemmRef(a, b, m, n, k), `${m}×${n}×${k}`);
        });
        row.failed.push(...c.bad);
        row.worst_vs_tolerance = Math.max(row.worst_vs_tolerance, +c.worst.toPrecision(3));
      } catch (e) { row.failed.push(`${m}×${n}×${k}: ${message(e)}`); }
      row.ran++;
    }
    Object.assign(row, { failed_count: row.failed.length, ms: Math.round(performance.now() - s) });
    check(row.failed.length === 0, `variants: gemm ${v.name}: ${row.failed[0]}`);
    ran += row.ran;
    unsupported += row.unsupported.length;
    results.push(row);
  }
  const bad = results.filter((r) => (r.failed as string[]).length > 0 || (r.fused_activation as { ok?: boolean } | undefined)?.ok === false ||
    (r.fused_activation_backward as { ok?: boolean } | undefined)?.ok === false || (r.fused_pool as { ok?: boolean } | undefined)?.ok === false ||
    (r.fused_pool_backward as { ok?: boolean } | undefined)?.ok === false);
  (report.variants as Record<string, unknown>).summary = { variants: results.length, checks_ran: ran, failed_variants: bad.length, unsupported_cases: unsupported };
  say(`variants: ${results.length} variants, ${ran} checks ran, ${bad.length} variants failed${bad.length ? ` (${bad.map((r) => `${r.pass} ${r.variant}`).join(', ')})` : ''}, ` +
    `${unsupported} unsupported cases (listed with reasons in the JSON)`);
});

/**
 * Variant `i` of a forward pass with one activation fused (rotating, as the test does) — or, with
 * `backward`, an activation's backward fused into its store as an input-gradient pass — on the
 * first shape it supports.
 */
async function fusedCheck(pass: Pass<ConvArgs>, i: number, checks: ReturnType<typeof forwardChecks>, backward: boolean): Promise<Record<string, unknown>> {
  const v = pass.variants[i]!, act = ACTS[(i + (backward ? 1 : 0)) % ACTS.length]!;
  const args = (x: ConvArgs): ConvArgs => (backward ? { ...x, actGrad: act } : x);
  const c = checks.find((x) => !v.unsupported?.(capsOf(g.device), args(x.args)));
  if (!c) return { act, unsupported: v.unsupported?.(capsOf(g.device), args(checks[0]!.args)) ?? 'no shape of the sweep is supported here' };
  let r: { bad: string[]; worst: number };
  try { r = await (backward ? runCheck(g, io, pass, v, c, undefined, act) : runCheck(g, io, pass, v, c, act)); } catch (e) { r = { bad: [message(e)], worst: Infinity }; }
  check(r.bad.length === 0, `variants: ${pass.name} ${v.name} + ${act}${backward ? ' backward' : ''}: ${r.bad[0]}`);
  return { act, case: c.what, ok: r.bad.length === 0, worst_vs_tolerance: +r.worst.toPrecision(3), failed: r.bad };
}

type CaseResult = { bad: string[]; worst: number; skipped?: string };

/**
 * `run` on every case in turn (a thrown error fails that case): how many ran, the failures, the
 * worst error against the tolerance and each unsupported case with its reason; `mustRun`: running
 * on no case at all is a failure too.
 */
async function caseChecks(what: string, act: ConvArgs['act'], cases: ConvCase[], mustRun: boolean,
  run: (c: ConvCase) => Promise<CaseResult>): Promise<Record<string, unknown>> {
  const out = { act: act ?? null, ran: 0, ok: true, worst_vs_tolerance: 0, failed: [] as string[], unsupported: [] as { case: string; reason: string }[] };
  for (const c of cases) {
    let r: CaseResult;
    try { r = await run(c); } catch (e) { r = { bad: [`${c.name}: ${message(e)}`], worst: Infinity }; }
    if (r.skipped) { out.unsupported.push({ case: c.name, reason: r.skipped }); continue; }
    out.ran++;
    out.failed.push(...r.bad);
    out.worst_vs_tolerance = Math.max(out.worst_vs_tolerance, +r.worst.toPrecision(3));
  }
  out.ok = out.failed.length === 0 && (out.ran > 0 || !mustRun);
  check(out.ok, `variants: ${what}: ${out.failed[0] ?? 'ran on no case'}`);
  return out;
}

/**
 * conv.forward variant `i` with a 2×2 max pool fused after its activation (rotating, or `act`), on
 * every pool case it supports.
 */
function poolCheck(v: Variant<ConvArgs>, i: number, act: ConvArgs['act'] = ACTS[i % ACTS.length]!): Promise<Record<string, unknown>> {
  return caseChecks(`conv.forward ${v.name} + ${act} + pool`, act, POOL_CASES, true, (c) => runPoolCheck(g, io, v, c, act));
}

/**
 * Variant `i` of conv.transposed (a conv's input gradient) or conv.forward (a transposed conv's) as
 * an input gradient continued through a 2×2 max pool's and an activation's backward, on every case
 * it supports (d2s, kernel = stride, and the 3-wide row kernels of conv.forward take none: not a failure).
 */
function unpoolCheck(pass: string, v: Variant<ConvArgs>, i: number): Promise<Record<string, unknown>> {
  const act = ([...ACTS, undefined] as const)[i % (ACTS.length + 1)];
  const transposed = pass === 'conv.forward';
  return caseChecks(`${pass} ${v.name} + pool + ${act ?? 'no activation'} backward`, act, transposed ? UNPOOL_CASES_T : UNPOOL_CASES, false,
    (c) => runUnpoolCheck(g, io, v, c, act, transposed));
}

// ---- 3. the training step against PyTorch -----------------------------------------------------
await section('parity', async () => {
  const load = (f: string) => parseSafetensors(new Uint8Array(readFileSync(`${fixtures}/${f}`)), f).tensors;
  const tr = load('cae_train.safetensors');
  const pixels = Uint8Array.from(load('cae_forward_backward.safetensors').get('images_u8')!.data);
  const model = buildModel(CAE_SPEC, 'cae');
  const init = new Map(model.params.map((p) => [p.name, tr.get(`init.${p.name}`)!.data]));
  const runs: [string, OptimizerConfig, number][] = [['sgd', { kind: 'sgd', options: { lr: 0.01 } }, 1],
    ['sgdm', { kind: 'sgd', options: { lr: 0.01, momentum: 0.9 } }, 3], ['adam', { kind: 'adam', options: { lr: 1e-3 } }, 3]];
  const rows: Record<string, unknown>[] = [];
  report.parity = rows;
  const cache = memoryCache(); // the three tuned runs share their shapes: only the first measures
  for (const tuned of [false, true]) {
    for (const [prefix, optimizer, steps] of runs) {
      const row: Record<string, unknown> = { kernels: tuned ? 'tuned' : 'default', run: prefix, steps };
      rows.push(row);
      try {
        const losses: number[] = [];
        const options = { batch: 8, optimizer, seed: 0, shuffle: false, init, onLoss: (s: number, l: number) => { losses[s - 1] = l; } };
        const data = { count: 8, pixels, source: 'fixture' };
        const t = tuned ? await Trainer.create(g, model, data, { ...options, tune: 'cached', tuneCache: cache, tuneBudgetMs: Infinity })
          : new Trainer(g, model, data, options);
        if (tuned) row.chosen = t.tuning.map((e) => `${e.labels[0]}: ${e.chosen}`);
        for (let i = 0; i < steps; i++) await t.step({ flush: i === steps - 1 });
        await t.drain();
        const params = await t.params();
        t.dispose();
        // The criteria of test/trainer.gpu.test.ts: losses within 1e-4 relative; weights within
        // 1e-4 of the largest; the update itself (far smaller than the weights) within 2 %.
        const want = tr.get(`${prefix}.losses`)!.data;
        const lossErr = Math.max(...Array.from(want, (l, i) => Math.abs(losses[i]! - l) / l));
        let weightErr = 0, updateErr = 0;
        for (const p of model.params) {
          const w = tr.get(`${prefix}.after.${p.name}`)!.data, w0 = tr.get(`init.${p.name}`)!.data, v = params.get(p.name)!;
          const largest = Math.max(...Array.from(w, Math.abs));
          let worst = 0, update = 0, err = 0;
          for (let i = 0; i < w.length; i++) {
            worst = Math.max(worst, Math.abs(v[i]! - w[i]!));
            update = Math.max(update, Math.abs(w[i]! - w0[i]!));
            err = Math.max(err, Math.abs((v[i]! - w0[i]!) - (w[i]! - w0[i]!)));
          }
          weightErr = Math.max(weightErr, worst / largest);
          updateErr = Math.max(updateErr, err / (0.02 * update + 1e-7));
        }
        const ok = losses.length === want.length && lossErr < 1e-4 && weightErr <= 1e-4 && updateErr <= 1;
        Object.assign(row, { ok, loss_rel_error: +lossErr.toPrecision(3), weight_error_vs_largest: +weightErr.toPrecision(3), update_error_vs_tolerance: +updateErr.toPrecision(3) });
        check(ok, `parity: ${prefix} (${row.kernels} kernels): loss ${lossErr.toExponential(2)}, weights ${weightErr.toExponential(2)}, update ${updateErr.toFixed(2)}× tolerance`);
      } catch (e) { row.ok = false; row.error = message(e); check(false, `parity: ${prefix} (${row.kernels} kernels): ${message(e)}`); }
    }
  }
  const picked = (rows.find((r) => r.chosen)?.chosen as string[] | undefined) ?? [];
  if (picked.length > 0 && picked.every((c) => c.endsWith(': direct'))) (report.warnings as string[]).push('the tuned parity runs chose only default kernels');
  say(`parity vs PyTorch: ${rows.filter((r) => r.ok).length}/${rows.length} runs ok (worst loss ${Math.max(...rows.map((r) => (r.loss_rel_error as number) ?? Infinity)).toExponential(2)} relative)`);
});

// ---- 4. tuning, and 5. the benchmark with the tuned choices ------------------------------------
const MODELS: [string, Model][] = [['cae', buildModel(CAE_SPEC, 'cae')], ['classifier', buildModel(classifierSpec(10), 'classifier')]];
const tuneCache = memoryCache(); // filled by tuneOne, read by runBench ('cached') in benchOne
const optimizer = { kind: 'adam' as const, options: { lr: 1e-3 } };

/** Tunes every multi-variant pass of `model`'s step at `batch` (mode full, no budget) into tuneCache. */
async function tuneOne(rows: Record<string, unknown>[], name: string, model: Model, batch: number): Promise<void> {
  const row: Record<string, unknown> = { model: name, batch };
  rows.push(row);
  // The graph runBench builds, so its keys are the ones the benchmark looks up.
  const graph = buildTrainingGraph(model, { batch, records: Math.max(batch, 256), range: '0,1', optimizer, lossRing: 64 }).graph;
  const r = await tune(g, [graph], { mode: 'full', cache: tuneCache });
  const problems: string[] = [];
  const ms = (t: number | string | undefined) => (typeof t === 'number' ? +t.toPrecision(4) : t ?? null);
  row.ms = Math.round(r.ms);
  row.passes = r.entries.map((e) => {
    for (const [v, t] of Object.entries(e.times)) if (typeof t === 'string' && /^(wrong|failed)/.test(t)) problems.push(`${e.pass} ${v} (${e.labels[0]}): ${t}`);
    const def = e.times[passOf(e.pass as PassName).variants[0]!.name], chosen = e.times[e.chosen];
    return { pass: e.pass, layers: e.labels, key: e.key, chosen: e.chosen, chosen_ms: ms(chosen), default_ms: ms(def),
      speedup_vs_default: typeof def === 'number' && typeof chosen === 'number' ? +(def / chosen).toFixed(2) : null,
      chosen_gflop_per_s: typeof chosen === 'number' ? +(e.flops / chosen / 1e6).toPrecision(4) : null,
      times: Object.fromEntries(Object.entries(e.times).map(([k, t]) => [k, ms(t)])) };
  });
  // A candidate the tuner found wrong (against the default's output) or failing is a kernel bug here.
  row.problems = problems;
  for (const p of problems) check(false, `tune: ${name} batch ${batch}: ${p}`);
  if (problems.length === 0) check(true, '');
  say(`tune ${name} b${batch}: ${r.entries.length} passes in ${(r.ms / 1000).toFixed(1)} s; ` +
    `${r.entries.map((e) => `${e.labels[0]}/${e.pass.split('.')[1]}=${e.chosen}`).join(' ')}${problems.length ? `; ${problems.length} WRONG/FAILED` : ''}`);
}

/** runBench with the tuned choices: a short pilot sizes the timed runs (~1 s each on a GPU); the first of them is profiled. */
async function benchOne(rows: Record<string, unknown>[], name: string, model: Model, batch: number): Promise<void> {
  const row: Record<string, unknown> = { model: name, batch, adapter: g.adapterName, software: g.isSoftware };
  rows.push(row);
  const o = { batch, tune: 'cached' as const, cache: tuneCache };
  const pilot = await runBench(g, model, { ...o, steps: quick ? 2 : 10, warmup: quick ? 1 : 3, profileSteps: 0 });
  const steps = quick ? 3 : Math.max(10, Math.min(1000, Math.ceil(1000 / pilot.ms_per_step)));
  const runs: BenchResult[] = [];
  for (let i = 0; i < (quick ? 2 : 3); i++) runs.push(await runBench(g, model, { ...o, steps, warmup: quick ? 1 : 3, profileSteps: i === 0 ? 3 : 0 }));
  const ips = runs.map((r) => r.images_per_s);
  const med = [...runs].sort((a, b) => a.images_per_s - b.images_per_s)[Math.floor((runs.length - 1) / 2)]!; // lower median
  const r4 = (x: number) => +x.toPrecision(4);
  Object.assign(row, {
    images_per_s: r4(med.images_per_s), images_per_s_min: r4(Math.min(...ips)), images_per_s_max: r4(Math.max(...ips)),
    ms_per_step: r4(med.ms_per_step), gflop_per_s: r4(med.gflop_per_s), gflop_per_step: r4(med.gflop_per_step),
    gemm_gflop_per_s: r4(med.gemm_gflop_per_s), gemm_variant: med.gemm_variant, fraction_of_gemm: r4(med.fraction_of_gemm),
    cifar_epoch_s: r4(50_000 / med.images_per_s), planned_peak_bytes: med.planned_peak_bytes,
    transient_bytes_without_reuse: med.transient_bytes_without_reuse, dispatches_per_step: med.dispatches_per_step,
    passes_ms: Object.fromEntries(Object.entries(runs[0]!.passes_ms).map(([k, v]) => [k, r4(v)])),
    compile_ms: Math.round(pilot.compile_ms), steps,
    variants: med.variants.map((v) => ({ pass: v.pass, layers: v.layers, chosen: v.chosen, source: v.source })),
    runs: [pilot, ...runs].map((r) => ({ steps: r.steps, images_per_s: r4(r.images_per_s), ms_per_step: r4(r.ms_per_step), gemm_gflop_per_s: r4(r.gemm_gflop_per_s) })),
  });
  const retuned = med.variants.filter((v) => v.source !== 'cached').length;
  if (retuned > 0) (report.warnings as string[]).push(`bench ${name} b${batch}: ${retuned} passes were not in the tuning results (tuned by runBench itself)`);
  check(true, '');
  say(`${g.isSoftware ? `[SOFTWARE ${report.software_kind}, not GPU figures] ` : ''}bench ${name} b${batch}: ${row.images_per_s} img/s ` +
    `(${row.images_per_s_min}–${row.images_per_s_max}), ${row.ms_per_step} ms/step, ${row.gflop_per_s} GFLOP/s = ` +
    `${(100 * med.fraction_of_gemm).toFixed(1)} % of GEMM ${row.gemm_gflop_per_s} (${med.gemm_variant}); CIFAR epoch ${row.cifar_epoch_s} s`);
}

// Batch-major, each batch tuned then benchmarked, so a spent time budget drops the largest batches
// (listed in the warnings) rather than the whole benchmark.
{
  const tuning: Record<string, unknown>[] = [], bench: Record<string, unknown>[] = [], skipped: string[] = [];
  const on = (name: string) => !only || only.includes(name);
  if (on('tune')) report.tuning = tuning;
  if (on('bench')) report.bench = bench;
  const timed = async (name: string, what: string, fn: () => Promise<void>) => {
    if (!on(name)) return;
    const s = performance.now();
    try { await fn(); } catch (e) { check(false, `${name}: ${what}: ${message(e)}`); say(`${name} ${what}: FAILED ${message(e)}`); }
    seconds[name] = +((seconds[name] ?? 0) + secs(s)).toFixed(2);
    save();
  };
  for (const batch of BATCHES) {
    for (const [name, model] of MODELS) {
      if (secs(t0) > budgetS && (on('tune') || on('bench'))) { skipped.push(`${name} b${batch}`); continue; }
      await timed('tune', `${name} batch ${batch}`, () => tuneOne(tuning, name, model, batch));
      await timed('bench', `${name} batch ${batch}`, () => benchOne(bench, name, model, batch));
    }
  }
  if (skipped.length > 0) {
    (report.warnings as string[]).push(`time budget (--budget-s ${budgetS}) spent: tuning and benchmark not run for ${skipped.join(', ')}`);
    say(`WARNING: time budget (--budget-s ${budgetS}) spent: not run for ${skipped.join(', ')}`);
  }
}

// ---- the verdict --------------------------------------------------------------------------------
try { await g.errors.settle('device check', g.wait); report.gpu_errors = []; } catch (e) { report.gpu_errors = [message(e)]; check(false, `GPU errors: ${message(e)}`); }
save();
console.log(JSON.stringify(report, null, 1));
say(`${g.isSoftware ? `[SOFTWARE ${report.software_kind}] ` : ''}device check: ${passed} checks passed, ${failures.length} failed, ${secs(t0)} s` +
  `${failures.length ? `\n  ${failures.slice(0, 20).join('\n  ')}` : ''}`);
g.close();
process.exit(failures.length > 0 ? 1 : 0);
