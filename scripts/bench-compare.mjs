#!/usr/bin/env node
// Kiln vs TensorFlow.js vs jax-js on the same model, data shape and optimizer (the seed's CAE, Adam
// 1e-3, MSE, synthetic images), one after the other in child processes of this one, at each batch size:
//   node bin/kiln.mjs bench --json --batch B --steps N --warmup W
//   node bench/tfjs/bench.mjs --batch B --steps N --warmup W
//   node bench/jaxjs/bench.mjs --batch B --steps N --warmup W
// then one Markdown table and the raw JSON lines. TF.js's and jax-js's GFLOP/s use Kiln's
// gflop_per_step: the model is the same, so the work per step is too. Installs bench/tfjs's and
// bench/jaxjs's own dependencies if they are missing.
//
//   node scripts/bench-compare.mjs [--batches 32,128] [--steps 20] [--warmup 3] [--repeat 1]
//                                  [--only kiln,tfjs,jaxjs]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const USAGE = 'usage: node scripts/bench-compare.mjs [--batches 32,128] [--steps 20] [--warmup 3] [--repeat 1] [--only kiln,tfjs,jaxjs]';

const { values: a } = parseArgs({
  options: {
    batches: { type: 'string' },
    batch: { type: 'string' }, // older spelling: one batch size
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '1' },
    only: { type: 'string', default: 'kiln,tfjs,jaxjs' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
function usageError(message) {
  console.error(`bench-compare: ${message}`);
  console.error(USAGE);
  process.exit(2);
}
const positiveInt = (s) => /^\d+$/.test(s) && Number(s) >= 1;
for (const k of ['steps', 'warmup', 'repeat']) {
  if (!positiveInt(a[k])) usageError(`--${k} must be an integer >= 1, got ${JSON.stringify(a[k])}`);
}
if (a.batches !== undefined && a.batch !== undefined) usageError('give --batches or --batch, not both');
const batchList = (a.batches ?? a.batch ?? '32,128').split(',').map((s) => s.trim());
if (batchList.length === 0 || !batchList.every(positiveInt)) {
  usageError(`--batches must be a comma-separated list of integers >= 1, got ${JSON.stringify(a.batches ?? a.batch)}`);
}

// The systems, in the order they run at each batch size. The comparisons are their own npm projects
// (own lock files), installed on first use.
const SYSTEMS = {
  kiln: { args: ['bin/kiln.mjs', 'bench', '--json'] },
  tfjs: { args: ['bench/tfjs/bench.mjs'], dir: 'bench/tfjs', needs: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', 'webgpu'] },
  jaxjs: { args: ['bench/jaxjs/bench.mjs'], dir: 'bench/jaxjs', needs: ['@jax-js/jax', 'webgpu'] },
};
const only = a.only.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
for (const s of only) if (!(s in SYSTEMS)) usageError(`--only: unknown system ${JSON.stringify(s)} (known: ${Object.keys(SYSTEMS).join(', ')})`);
if (only.length === 0) usageError('--only names no system');

for (const name of only) {
  const { dir, needs } = SYSTEMS[name];
  if (!dir || needs.every((p) => existsSync(`${root}${dir}/node_modules/${p}/package.json`))) continue;
  console.error(`bench-compare: installing ${dir} dependencies (npm --prefix ${dir} ci)`);
  const r = spawnSync('npm', ['--prefix', dir, 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    console.error(`bench-compare: npm ci in ${dir} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

/** Runs one benchmark; its stderr passes through, its stdout's last JSON line is the result. */
function run(label, batch, args) {
  console.error(`bench-compare: ${label} (batch ${batch}): node ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s) => { out += s; });
    child.on('error', (e) => resolve({ label, batch, error: e.message }));
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || !line) {
        if (out.trim()) console.error(out.trim());
        resolve({ label, batch, error: `exit ${code ?? signal}${line ? '' : ', no JSON on stdout'}` });
        return;
      }
      try {
        resolve({ label, batch, line, json: JSON.parse(line) });
      } catch (e) {
        resolve({ label, batch, error: `bad JSON: ${e.message}` });
      }
    });
  });
}

const results = [];
for (const batch of batchList) {
  const common = ['--batch', batch, '--steps', a.steps, '--warmup', a.warmup];
  for (let i = 0; i < Number(a.repeat); i++) {
    for (const name of only) results.push(await run(name, batch, [...SYSTEMS[name].args, ...common]));
  }
}

// Kiln's FLOP count per step applies to every system (same model, same batch). It is linear in the
// batch, so a Kiln run at another batch size still gives it if Kiln failed at this one.
const kilnRuns = results.filter((r) => r.label === 'kiln' && typeof r.json?.gflop_per_step === 'number');
function gflopPerStep(batch) {
  const same = kilnRuns.find((r) => r.batch === batch);
  if (same) return same.json.gflop_per_step;
  const other = kilnRuns[0];
  return other ? (other.json.gflop_per_step * Number(batch)) / Number(other.batch) : undefined;
}
const fmt = (x, d) => (typeof x === 'number' && Number.isFinite(x)
  ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
  : '—');
const rows = ['| batch | system | images/s | ms/step | GFLOP/s | compile ms |', '|---:|---|---:|---:|---:|---:|'];
for (const r of results) {
  if (!r.json) {
    rows.push(`| ${r.batch} | ${r.label} | failed: ${r.error} | | | |`);
    continue;
  }
  const j = r.json;
  const system = j.system ?? r.label;
  const perStep = gflopPerStep(r.batch);
  const gflops = j.gflop_per_s ?? (perStep !== undefined ? (perStep * 1000) / j.ms_per_step : undefined);
  rows.push(`| ${r.batch} | ${system} | ${fmt(j.images_per_s, 1)} | ${fmt(j.ms_per_step, 1)} | ${fmt(gflops, 3)} | ${fmt(j.compile_ms, 0)} |`);
}
const adapters = [...new Set(results.map((r) => r.json?.adapter).filter(Boolean))];
console.log(`Seed CAE, Adam 1e-3, MSE, synthetic 32×32×3 images; batch ${batchList.join(', ')}; ` +
  `${a.steps} timed steps after ${a.warmup} warm-up` + (adapters.length > 0 ? `; adapter ${adapters.join(' / ')}` : ''));
console.log('');
console.log(rows.join('\n'));
console.log('');
console.log('```');
for (const r of results) console.log(r.line ?? `${r.label} (batch ${r.batch}): ${r.error}`);
console.log('```');
process.exit(results.every((r) => r.json) ? 0 : 1);
