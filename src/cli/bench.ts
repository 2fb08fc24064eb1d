// `kiln bench`: the training step's speed on synthetic data after warm-up — images/s, ms/step,
// GFLOP/s, planned peak bytes, pipeline compile time and the adapter.
import { openNodeDevice } from '../gpu/node.ts';
import { rng } from '../nn/init.ts';
import { stepFlops } from '../nn/flops.ts';
import { Trainer } from '../train/trainer.ts';
import { loadModel, num, parse } from './options.ts';

export const BENCH_HELP = `bench options:
  --model <cae|spec.json>  --batch N (32)  --steps N (20 timed)  --warmup N (3)  --json`;

export async function bench(argv: string[]): Promise<number> {
  const a = parse(argv, {
    model: { type: 'string' }, batch: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' }, json: { type: 'boolean' },
  });
  const model = loadModel(a.model);
  const batch = num(a.batch, '--batch', 32, { int: true, min: 1 });
  const steps = num(a.steps, '--steps', 20, { int: true, min: 1 });
  const warmup = num(a.warmup, '--warmup', 3, { int: true, min: 1 });
  const size = model.spec.input.reduce((x, y) => x * y, 1);
  const count = Math.max(batch, 256);
  const r = rng(1);
  const pixels = Uint8Array.from({ length: count * size }, () => Math.floor(r() * 256));

  const gpu = await openNodeDevice();
  try {
    const t0 = performance.now();
    const trainer = new Trainer(gpu, model, { count, pixels, source: 'synthetic' }, { batch, optimizer: { kind: 'adam', options: { lr: 1e-3 } }, seed: 0, shuffle: true });
    // Pipelines compile on creation, and some drivers finish the job on first use: count both.
    await trainer.step({ flush: true });
    await trainer.drain();
    const compileMs = performance.now() - t0;
    for (let i = 1; i < warmup; i++) await trainer.step();
    await trainer.drain();
    const t1 = performance.now();
    for (let i = 0; i < steps; i++) await trainer.step({ flush: i === steps - 1 });
    await trainer.drain();
    const seconds = (performance.now() - t1) / 1000;
    const flops = stepFlops(model, batch).total;
    const result = {
      images_per_s: (steps * batch) / seconds,
      ms_per_step: (1000 * seconds) / steps,
      gflop_per_s: (flops * steps) / seconds / 1e9,
      gflop_per_step: flops / 1e9,
      planned_peak_bytes: trainer.plan.peakBytes,
      transient_bytes_without_reuse: trainer.plan.naiveTransientBytes,
      compile_ms: compileMs,
      batch, steps, adapter: gpu.adapterName,
    };
    trainer.destroy();
    if (a.json) console.log(JSON.stringify(result));
    else {
      console.log(`adapter            ${result.adapter}`);
      console.log(`images/s           ${result.images_per_s.toFixed(1)}  (batch ${batch}, ${steps} steps after ${warmup} warm-up)`);
      console.log(`ms/step            ${result.ms_per_step.toFixed(1)}`);
      console.log(`GFLOP/s            ${result.gflop_per_s.toFixed(2)}  (${(result.gflop_per_step * 1000).toFixed(1)} MFLOP/step)`);
      console.log(`planned peak       ${(result.planned_peak_bytes / 2 ** 20).toFixed(2)} MiB (transients ${(result.transient_bytes_without_reuse / 2 ** 20).toFixed(2)} MiB without reuse)`);
      console.log(`compile + 1st step ${result.compile_ms.toFixed(0)} ms`);
    }
    return 0;
  } finally {
    gpu.close();
  }
}
