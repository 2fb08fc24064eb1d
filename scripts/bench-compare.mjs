#!/usr/bin/env node
// Kiln vs TensorFlow.js on the same model, data shape and optimizer (the seed's CAE, Adam 1e-3, MSE,
// synthetic images), one after the other in child processes of this one:
//   node bin/kiln.mjs bench --json --batch B --steps N --warmup W
//   node bench/tfjs/bench.mjs --batch B --steps N --warmup W
// then a Markdown table and the raw JSON lines. TF.js's GFLOP/s uses Kiln's gflop_per_step: the model
// is the same, so the work per step is too. Installs bench/tfjs's own dependencies if they are missing.
//
//   node scripts/bench-compare.mjs [--batch 32] [--steps 20] [--warmup 3] [--repeat 1]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const tfjsDir = fileURLToPath(new URL('../bench/tfjs/', import.meta.url));

const { values: a } = parseArgs({
  options: {
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (a.help) {
  console.log('usage: node scripts/bench-compare.mjs [--batch 32] [--steps 20] [--warmup 3] [--repeat 1]');
  process.exit(0);
}
for (const k of ['batch', 'steps', 'warmup', 'repeat']) {
  const v = Number(a[k]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench-compare: --${k} must be an integer >= 1, got ${JSON.stringify(a[k])}`);
    process.exit(2);
  }
}

// bench/tfjs is its own npm project (own lock file); install it on first use.
const needed = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', 'webgpu'];
if (needed.some((p) => !existsSync(`${tfjsDir}node_modules/${p}/package.json`))) {
  console.error('bench-compare: installing bench/tfjs dependencies (npm --prefix bench/tfjs ci)');
  const r = spawnSync('npm', ['--prefix', 'bench/tfjs', 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    console.error(`bench-compare: npm ci in bench/tfjs failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

/** Runs one benchmark; its stderr passes through, its stdout's last JSON line is the result. */
function run(label, args) {
  console.error(`bench-compare: ${label}: node ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s) => { out += s; });
    child.on('error', (e) => resolve({ label, error: e.message }));
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || !line) {
        if (out.trim()) console.error(out.trim());
        resolve({ label, error: `exit ${code ?? signal}${line ? '' : ', no JSON on stdout'}` });
        return;
      }
      try {
        resolve({ label, line, json: JSON.parse(line) });
      } catch (e) {
        resolve({ label, error: `bad JSON: ${e.message}` });
      }
    });
  });
}

const common = ['--batch', a.batch, '--steps', a.steps, '--warmup', a.warmup];
const results = [];
for (let i = 0; i < Number(a.repeat); i++) {
  results.push(await run('kiln', ['bin/kiln.mjs', 'bench', '--json', ...common]));
  results.push(await run('tfjs', ['bench/tfjs/bench.mjs', ...common]));
}

// Kiln's FLOP count per step applies to both (same model, same batch).
const gflopPerStep = results.find((r) => r.label === 'kiln' && r.json)?.json.gflop_per_step;
const fmt = (x, d) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—');
const rows = ['| system | images/s | ms/step | GFLOP/s |', '|---|---:|---:|---:|'];
for (const r of results) {
  if (!r.json) {
    rows.push(`| ${r.label} | failed: ${r.error} | | |`);
    continue;
  }
  const j = r.json;
  const system = j.system ?? 'kiln';
  const gflops = j.gflop_per_s ?? (gflopPerStep !== undefined ? (gflopPerStep * 1000) / j.ms_per_step : undefined);
  rows.push(`| ${system} | ${fmt(j.images_per_s, 1)} | ${fmt(j.ms_per_step, 1)} | ${fmt(gflops, 3)} |`);
}
const first = results.find((r) => r.json)?.json;
console.log(`Seed CAE, Adam 1e-3, MSE, synthetic 32×32×3 images; batch ${a.batch}, ${a.steps} timed steps after ${a.warmup} warm-up` +
  (first?.adapter ? `; adapter ${first.adapter}` : ''));
console.log('');
console.log(rows.join('\n'));
console.log('');
console.log('```');
for (const r of results) console.log(r.line ?? `${r.label}: ${r.error}`);
console.log('```');
process.exit(results.every((r) => r.json) ? 0 : 1);
