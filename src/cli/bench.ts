// `kiln bench`: the training step's speed on synthetic data (src/bench/run.ts) — images/s, ms/step,
// GFLOP/s and its fraction of the adapter's GEMM rate, per-pass GPU time and the kernel variants
// chosen, planned peak bytes, compile and tuning time — in Node (Dawn) or, with --browser, in
// headless Chromium through Playwright and the system chromium.
import { openNodeDevice } from '../gpu/node.ts';
import { runBench, type BenchResult } from '../bench/run.ts';
import { fileCache } from '../tune/cache_node.ts';
import { adapterFacts } from '../tune/cache.ts';
import { loadModel, num, oneOf, parse } from './options.ts';
import { benchInBrowser } from './bench_browser.ts';

export const BENCH_HELP = `bench options:
  --model <cae|classifier|spec.json>  --batch N (32)  --steps N (20 timed)  --warmup N (3)
  --tune full|cached|off (cached)  --browser (headless Chromium instead of Node)  --json`;

export async function bench(argv: string[]): Promise<number> {
  const a = parse(argv, {
    model: { type: 'string' }, batch: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' },
    tune: { type: 'string' }, browser: { type: 'boolean' }, json: { type: 'boolean' },
  });
  const modelArg = a.model;
  const model = loadModel(modelArg);
  const o = {
    batch: num(a.batch, '--batch', 32, { int: true, min: 1 }),
    steps: num(a.steps, '--steps', 20, { int: true, min: 1 }),
    warmup: num(a.warmup, '--warmup', 3, { int: true, min: 1 }),
    tune: oneOf(a.tune, '--tune', ['full', 'cached', 'off'] as const, 'cached'),
  };
  let result: BenchResult;
  if (a.browser) result = await benchInBrowser(model.spec, o);
  else {
    const gpu = await openNodeDevice({ timestamps: true });
    try {
      result = await runBench(gpu, model, { ...o, cache: fileCache(undefined, adapterFacts(gpu)) });
      await gpu.errors.settle('benchmark', gpu.wait);
    } finally {
      gpu.close();
    }
  }
  if (a.json) console.log(JSON.stringify(result));
  else print(result);
  return 0;
}

function print(r: BenchResult): void {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  console.log(`adapter            ${r.adapter}`);
  console.log(`images/s           ${r.images_per_s.toFixed(1)}  (batch ${r.batch}, ${r.steps} steps)`);
  console.log(`ms/step            ${r.ms_per_step.toFixed(1)}  (${r.dispatches_per_step} dispatches)`);
  console.log(`GFLOP/s            ${r.gflop_per_s.toFixed(2)}  (${(r.gflop_per_step * 1000).toFixed(1)} MFLOP/step)`);
  console.log(`GEMM GFLOP/s       ${r.gemm_gflop_per_s.toFixed(2)}  (${r.gemm_variant}); the step reaches ${(100 * r.fraction_of_gemm).toFixed(0)} % of it`);
  console.log(`planned peak       ${mib(r.planned_peak_bytes)} (transients ${mib(r.transient_bytes_without_reuse)} without reuse)`);
  console.log(`compile + 1st step ${r.compile_ms.toFixed(0)} ms (tuning ${r.tune_ms.toFixed(0)} ms)`);
  for (const v of r.variants) console.log(`  ${v.pass.padEnd(18)} ${v.chosen.padEnd(14)} [${v.source}] ${v.layers.join(', ')}`);
  for (const [k, ms] of Object.entries(r.passes_ms)) console.log(`  ${k.padEnd(28)} ${ms.toFixed(2)} ms`);
}
