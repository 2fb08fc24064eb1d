// Kernel variants for a CLI run: the plan's (pass, shape)s tuned on this adapter, cached in the
// user's cache folder (--tune cached: measure only what the cache lacks; full: measure everything
// again; off: the default kernels), and `kiln tune`, which prints the table.
import type { Gpu } from '../gpu/device.ts';
import { buildEvalGraph, buildTrainingGraph, type OptimizerConfig } from '../graph/autograd.ts';
import type { Model } from '../nn/spec.ts';
import { defaults, type Choose } from '../run/lower.ts';
import { planStep } from '../plan/plan.ts';
import { checkLimits } from '../plan/limits.ts';
import { tune, type TuneEntry, type TuneMode } from '../tune/tuner.ts';
import { fileCache } from '../tune/cache_node.ts';
import { adapterFacts } from '../tune/cache.ts';
import { defaultRange } from '../train/trainer.ts';
import type { DataRange } from '../data/range.ts';
import { openNodeDevice } from '../gpu/node.ts';
import { loadModel, num, oneOf, parse } from './options.ts';

/** First-run tuning stops measuring new shapes after this long (the rest keep their defaults). */
export const TUNE_BUDGET_MS = 12_000;

export interface TuneRun { choose: Choose; entries: TuneEntry[]; ms: number }

/** Tunes the training step (and, when `evalRecords`, the evaluation pass) of `model` at `batch`. */
export async function tuneFor(gpu: Gpu, model: Model, o: { tune: TuneMode; batch: number; records: number; range?: DataRange;
  optimizer?: OptimizerConfig; evalRecords?: number }): Promise<TuneRun> {
  if (o.tune === 'off') return { choose: defaults, entries: [], ms: 0 };
  const range = o.range ?? defaultRange(model);
  const graphs = [buildTrainingGraph(model, { batch: o.batch, records: o.records, range, lossRing: 64,
    optimizer: o.optimizer ?? { kind: 'adam', options: { lr: 1e-3 } } }).graph];
  // Tuning allocates each pass's tensors at full size: refuse a plan the device cannot hold first.
  checkLimits(planStep(graphs[0]!), gpu.limits, { batch: o.batch, records: o.records });
  if (o.evalRecords) {
    const batch = Math.min(o.batch, o.evalRecords);
    graphs.push(buildEvalGraph(model, { batch, records: o.evalRecords, range, batches: Math.ceil(o.evalRecords / batch) }).graph);
  }
  return tune(gpu, graphs, { mode: o.tune, cache: fileCache(undefined, adapterFacts(gpu)), budgetMs: TUNE_BUDGET_MS });
}

export const TUNE_HELP = `tune options:
  --model <cae|classifier|spec.json>  --batch N (32)  --tune full|cached (full)  --json`;

const ms = (v: number | string | undefined) => (typeof v === 'number' ? v.toFixed(2) : v === undefined ? '' : v);

/** `kiln tune`: measures every variant of every pass of the model's step and prints the table. */
export async function tuneCommand(argv: string[]): Promise<number> {
  const a = parse(argv, { model: { type: 'string' }, batch: { type: 'string' }, tune: { type: 'string' }, json: { type: 'boolean' } });
  const model = loadModel(a.model);
  const batch = num(a.batch, '--batch', 32, { int: true, min: 1 });
  const mode = oneOf(a.tune, '--tune', ['full', 'cached'] as const, 'full');
  const gpu = await openNodeDevice({ timestamps: true });
  try {
    const r = await tuneFor(gpu, model, { tune: mode, batch, records: batch });
    await gpu.errors.settle('tuning', gpu.wait);
    if (a.json) {
      for (const e of r.entries) console.log(JSON.stringify(e));
      console.log(JSON.stringify({ summary: true, tune_ms: r.ms, adapter: gpu.adapterName, cache: fileCache().where }));
      return 0;
    }
    console.log(`adapter ${gpu.adapterName}; tuned in ${(r.ms / 1000).toFixed(1)} s; cache ${fileCache().where}`);
    for (const e of r.entries) {
      console.log(`\n${e.pass}  ${e.labels.join(', ')}  (${(e.flops / 1e6).toFixed(1)} MFLOP)  → ${e.chosen} [${e.source}]`);
      for (const [v, t] of Object.entries(e.times)) {
        const gf = typeof t === 'number' && e.flops > 0 ? `  ${(e.flops / t / 1e6).toFixed(2)} GFLOP/s` : '';
        console.log(`  ${v === e.chosen ? '*' : ' '} ${v.padEnd(18)} ${ms(t).toString().padStart(9)}${typeof t === 'number' ? ' ms' : ''}${gf}`);
      }
    }
    return 0;
  } finally {
    gpu.close();
  }
}

/** The CLI's `train` side: tune (or read the cache) before the plan is built. */
export async function chooser(gpu: Gpu, model: Model, a: { tune: TuneMode; batch: number; range?: DataRange; optimizer: OptimizerConfig },
  records: number, evalRecords?: number): Promise<Choose> {
  return (await tuneFor(gpu, model, { ...a, records, evalRecords })).choose;
}
