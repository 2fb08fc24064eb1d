#!/usr/bin/env node
// Soak run: trains the seed model (cae, Adam 1e-3) on the embedded sample for many steps through
// Kiln's public API and samples, every --every steps, the process RSS, the V8 heap, the bytes of
// live GPU buffers (gpu.liveBytes()) and the speed. Prints a Markdown table and a verdict; exits 1
// when memory grows after warm-up. Not a CI test: it takes long on a software adapter.
//
//   node --expose-gc scripts/soak.mjs [--steps 10000] [--every 500] [--batch 32] [--warmup 1000] [--tune cached|off]
//
// Verdict (after the first --warmup steps, which include pipeline compilation, tuning and the
// allocator settling):
//   - live GPU bytes must not change at all: every buffer the step needs exists after step 1, so
//     any change is a leak (or a free of something still in use);
//   - RSS may wobble (GC, allocator arenas), but its least-squares slope over the samples after
//     warm-up must stay under 1 MiB per 1,000 steps, and its total rise under 16 MiB.
// With --expose-gc a full GC runs before each sample, so the heap numbers are live objects only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runnerImport } from 'vite';

const { values: a } = parseArgs({
  options: {
    steps: { type: 'string', default: '10000' }, every: { type: 'string', default: '500' }, batch: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '1000' }, tune: { type: 'string', default: 'cached' },
  },
});
const total = Number(a.steps), every = Number(a.every), batch = Number(a.batch), warmup = Number(a.warmup);
for (const [k, v] of Object.entries({ steps: total, every, batch, warmup })) {
  if (!Number.isInteger(v) || v < (k === 'warmup' ? 0 : 1)) throw new Error(`--${k} must be a positive integer`);
}
const MIB = 2 ** 20;
const SLOPE_LIMIT = 1; // MiB per 1,000 steps
const RISE_LIMIT = 16; // MiB

const here = (p) => new URL(p, import.meta.url).pathname;
const { module: kiln } = await runnerImport(here('../src/node.ts'), { configFile: here('../vite.config.ts'), logLevel: 'error' });
const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-soak-cache-'));

const gpu = await kiln.openNodeDevice({ timestamps: true });
const model = kiln.buildModel(kiln.CAE_SPEC, 'cae');
const data = await kiln.loadEmbeddedSample();
const trainer = await kiln.Trainer.create(gpu, model, data, {
  batch, optimizer: { kind: 'adam', options: { lr: 1e-3 } }, seed: 0, shuffle: true,
  tune: a.tune, tuneCache: kiln.fileCache(join(cacheDir, 'tune.json')),
});
await gpu.errors.settle('building the training plan', gpu.wait);

const sample = (step, t0, s0) => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  const recent = trainer.losses.slice(Math.max(0, step - every), step).filter((x) => x !== undefined);
  return {
    step, rss: m.rss / MIB, heap: m.heapUsed / MIB, external: (m.external + m.arrayBuffers) / MIB, gpu: gpu.liveBytes() / MIB,
    stepsPerS: (step - s0) / ((performance.now() - t0) / 1000), loss: recent.reduce((x, y) => x + y, 0) / Math.max(1, recent.length),
  };
};

const rows = [sample(0, performance.now(), 0)];
console.error(`soak: ${total} steps of cae at batch ${batch} on ${data.count} records, adapter ${gpu.adapterName}; sampling every ${every}`);
let t0 = performance.now(), s0 = 0;
for (let step = 1; step <= total; step++) {
  await trainer.step({ flush: step % every === 0 || step === total });
  if (step % every === 0 || step === total) {
    await trainer.drain();
    gpu.errors.throwIfFailed(`step ${step}`);
    if (trainer.failure) throw new Error(`non-finite step: ${trainer.failure.message}`);
    const r = sample(step, t0, s0);
    rows.push(r);
    console.error(`  step ${step}: RSS ${r.rss.toFixed(1)} MiB, GPU ${r.gpu.toFixed(2)} MiB, ${r.stepsPerS.toFixed(2)} steps/s, loss ${r.loss.toFixed(5)}`);
    t0 = performance.now();
    s0 = step;
  }
}

// The table.
const f = (x, d = 1) => x.toFixed(d);
console.log(`Soak: cae, Adam 1e-3, batch ${batch}, ${data.count} records (embedded sample), ${gpu.adapterName}, tuning ${a.tune}, ` +
  `Node ${process.version}${globalThis.gc ? ', GC before each sample' : ''}\n`);
console.log('| step | RSS MiB | V8 heap MiB | external MiB | live GPU MiB | steps/s | mean loss |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.step} | ${f(r.rss)} | ${f(r.heap)} | ${f(r.external)} | ${f(r.gpu, 3)} | ${r.step ? f(r.stepsPerS, 2) : '—'} | ${r.step ? f(r.loss, 5) : '—'} |`);
}

// The verdict.
const after = rows.filter((r) => r.step >= warmup && r.step > 0);
const verdict = [];
let ok = true;
if (after.length < 3) {
  verdict.push(`too few samples after the ${warmup}-step warm-up to judge (${after.length}); run more steps`);
  ok = false;
} else {
  const gpuValues = new Set(after.map((r) => r.gpu));
  const gpuOk = gpuValues.size === 1;
  verdict.push(`live GPU bytes after warm-up: ${gpuOk ? `constant at ${f(after[0].gpu, 3)} MiB` : `CHANGED (${[...gpuValues].map((v) => f(v, 3)).join(', ')} MiB)`}`);
  const n = after.length, mx = after.reduce((s, r) => s + r.step, 0) / n, my = after.reduce((s, r) => s + r.rss, 0) / n;
  const slope = after.reduce((s, r) => s + (r.step - mx) * (r.rss - my), 0) / after.reduce((s, r) => s + (r.step - mx) ** 2, 0) * 1000;
  const rise = after.at(-1).rss - after[0].rss;
  const rssOk = slope < SLOPE_LIMIT && rise < RISE_LIMIT;
  verdict.push(`RSS after warm-up: ${f(after[0].rss)} → ${f(after.at(-1).rss)} MiB (rise ${f(rise)} MiB, limit ${RISE_LIMIT}); ` +
    `slope ${f(slope, 3)} MiB per 1,000 steps (limit ${SLOPE_LIMIT})`);
  const speeds = after.map((r) => r.stepsPerS);
  verdict.push(`speed after warm-up: ${f(Math.min(...speeds), 2)} – ${f(Math.max(...speeds), 2)} steps/s`);
  if (total < 10_000) {
    const mean = speeds.reduce((x, y) => x + y, 0) / speeds.length;
    verdict.push(`EXTRAPOLATED to 10,000 steps (measured ${total}): RSS ${f(after.at(-1).rss + Math.max(0, slope) * (10_000 - total) / 1000)} MiB ` +
      `at the measured slope, live GPU bytes unchanged if constant here, about ${f((10_000 - total) / mean / 60, 0)} more minutes at ${f(mean, 2)} steps/s`);
  }
  ok = gpuOk && rssOk;
}
console.log(`\n**Verdict: ${ok ? 'no growth after warm-up' : 'GROWTH (or not enough data)'}.**`);
for (const v of verdict) console.log(`- ${v}`);

// Not part of the verdict (a one-off, not growth), but a leak for programs that make many trainers.
trainer.destroy();
const leftover = gpu.liveBytes();
console.log(`- note: live GPU bytes after trainer.destroy(): ${leftover}${leftover === 0 ? '' : ' (buffers the trainer did not free)'}`);
gpu.close();
rmSync(cacheDir, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
