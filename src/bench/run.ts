// The training-step benchmark, the same in Node and in a browser: synthetic data, kernels tuned for
// this adapter (or not), warm-up, then timed steps; then a few profiled steps for per-pass GPU time,
// and the adapter's GEMM rate measured in the same run, so the step's GFLOP/s can be quoted as a
// fraction of what this adapter's best matrix multiply reaches (a roofline-style figure).
import type { Gpu } from '../gpu/device.ts';
import { buildTrainingGraph } from '../graph/autograd.ts';
import { rng } from '../nn/init.ts';
import { stepFlops } from '../nn/flops.ts';
import type { Model } from '../nn/spec.ts';
import { measureGemm } from '../ops/gemm.ts';
import { tune, type TuneMode } from '../tune/tuner.ts';
import type { TuneCache } from '../tune/cache.ts';
import { Trainer } from '../train/trainer.ts';
import { defaults } from '../run/lower.ts';
import { planStep } from '../plan/plan.ts';
import { checkLimits } from '../plan/limits.ts';

export interface BenchOptions { batch: number; steps: number; warmup: number; tune: TuneMode; cache?: TuneCache; profileSteps?: number }

export interface BenchResult {
  images_per_s: number;
  ms_per_step: number;
  gflop_per_s: number;
  gflop_per_step: number;
  /** The adapter's rate on Kiln's best GEMM kernel, measured in this run. */
  gemm_gflop_per_s: number;
  gemm_variant: string;
  /** gflop_per_s / gemm_gflop_per_s. */
  fraction_of_gemm: number;
  planned_peak_bytes: number;
  transient_bytes_without_reuse: number;
  dispatches_per_step: number;
  /** Tuning (or reading the cache), pipeline creation and the first step, from nothing. */
  compile_ms: number;
  tune_ms: number;
  /** Kernel variant per (pass, shape) of the step, and GPU ms per layer pass from profiled steps. */
  variants: { pass: string; layers: string[]; chosen: string; source: string }[];
  passes_ms: Record<string, number>;
  batch: number;
  steps: number;
  adapter: string;
}

export async function runBench(gpu: Gpu, model: Model, o: BenchOptions): Promise<BenchResult> {
  const size = model.input.reduce((x, y) => x * y, 1);
  const count = Math.max(o.batch, 256);
  const r = rng(1);
  const pixels = Uint8Array.from({ length: count * size }, () => Math.floor(r() * 256));
  const classes = model.classes ?? 1;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % classes);
  const data = { count, pixels, labels, source: 'synthetic' };
  const optimizer = { kind: 'adam' as const, options: { lr: 1e-3 } };

  const t0 = performance.now();
  const graph = buildTrainingGraph(model, { batch: o.batch, records: count, range: '0,1', optimizer, lossRing: 64 }).graph;
  checkLimits(planStep(graph), gpu.limits, { batch: o.batch, records: count });
  const tuned = o.tune === 'off' ? { choose: defaults, entries: [], ms: 0 } : await tune(gpu, [graph], { mode: o.tune, cache: o.cache, budgetMs: 12_000 });
  // Every chosen kernel built before timing starts (compile time is reported as compile_ms).
  const trainer = new Trainer(gpu, model, data, { batch: o.batch, optimizer, seed: 0, shuffle: true, choose: tuned.choose, upgrade: 'eager' });
  // Pipelines compile on creation, and some drivers finish the job on first use: count both.
  await trainer.step({ flush: true });
  await trainer.drain();
  const compileMs = performance.now() - t0;
  for (let i = 1; i < o.warmup; i++) await trainer.step();
  await trainer.drain();
  const t1 = performance.now();
  for (let i = 0; i < o.steps; i++) await trainer.step({ flush: i === o.steps - 1 });
  await trainer.drain();
  const seconds = (performance.now() - t1) / 1000;
  gpu.errors.throwIfFailed('benchmark');
  const flops = stepFlops(model, o.batch).total;
  const dispatches = trainer.dispatchCount;
  const plan = trainer.plan;
  trainer.dispose();

  // Per-pass GPU time: profiled steps split the step into one compute pass per layer pass.
  const passes: Record<string, number> = {};
  if (gpu.hasTimestamps && (o.profileSteps ?? 3) > 0) {
    const p = new Trainer(gpu, model, data, { batch: o.batch, optimizer, seed: 0, shuffle: true, choose: tuned.choose, profile: true, upgrade: 'eager' });
    for (let i = 0; i < (o.profileSteps ?? 3) + 1; i++) await p.step({ flush: true });
    await p.drain();
    const prof = p.profiler!;
    for (const [k, us] of prof.totals) passes[k] = us / 1000 / prof.steps;
    p.dispose();
  }
  const gemm = await measureGemm(gpu.device, gpu.wait);
  const gflops = (flops * o.steps) / seconds / 1e9;
  return {
    images_per_s: (o.steps * o.batch) / seconds, ms_per_step: (1000 * seconds) / o.steps,
    gflop_per_s: gflops, gflop_per_step: flops / 1e9,
    gemm_gflop_per_s: gemm.gflops, gemm_variant: gemm.variant, fraction_of_gemm: gemm.gflops > 0 ? gflops / gemm.gflops : 0,
    planned_peak_bytes: plan.peakBytes, transient_bytes_without_reuse: plan.naiveTransientBytes, dispatches_per_step: dispatches,
    compile_ms: compileMs, tune_ms: tuned.ms,
    variants: tuned.entries.map((e) => ({ pass: e.pass, layers: e.labels, chosen: e.chosen, source: e.source })),
    passes_ms: passes, batch: o.batch, steps: o.steps, adapter: gpu.adapterName,
  };
}
