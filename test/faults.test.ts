// Fault injection at the CLI (issue #9: nothing is ever lost, nothing false is ever reported). Every
// test spawns `node bin/kiln.mjs` in its own temp folder, with its own tune cache and TMPDIR, and
// checks what a user or a script sees: the exit code, stdout as pure JSON lines (no null or zero
// losses), one line on stderr with no stack trace, and files already at destinations untouched.
// Faults come from lowered device limits (KILN_DEVICE_LIMITS), a preload hook that breaks one
// dispatch (a real GPU validation error), NaN/inf through --init, the learning rate and the data,
// special files, a tiny or read-only tmpfs (as root), and signals.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.ts';
import { parseCheckpoint, serializeCheckpoint, serializeWeights } from '../src/io/weights.ts';
import { initParams } from '../src/nn/init.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';

const REPO = resolve(import.meta.dirname, '..');
const KILN = join(REPO, 'bin', 'kiln.mjs');
const root = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), 'kiln-faults-')));
const cache = join(root, 'cache'), tmp = join(root, 'tmp'), data = join(root, 'data');
for (const d of [tmp, data]) fs.mkdirSync(d);
let count = 0;
/** A fresh folder per test: a listing shows exactly what the run left behind. */
const fresh = () => fs.mkdtempSync(join(root, `t${count++}-`));
const sh = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
const model = buildModel(CAE_SPEC, 'cae');

// Data cut from the embedded sample (CIFAR binary: a label byte, then 3,072 pixel bytes).
const RECORD = 3073;
const sample = fs.readFileSync(join(REPO, 'data', 'sample.bin'));
const records = (from: number, n: number) => sample.subarray(from * RECORD, (from + n) * RECORD);
const file = (name: string, bytes: Uint8Array) => (fs.writeFileSync(join(data, name), bytes), join(data, name));
const d16 = file('d16.bin', records(0, 16));
const other16 = file('other16.bin', records(16, 16));
/** 16 black images, the 10th white: with --no-shuffle and batch 4 it is trained at step 3. */
const blackWhite = file('black_white.bin', (() => {
  const b = new Uint8Array(16 * RECORD);
  b.fill(255, 9 * RECORD + 1, 10 * RECORD);
  return b;
})());

/**
 * Preloaded with --import: records every buffer the process asks for (sizes and labels, written to
 * $KILN_HOOK_LOG at exit) and, with KILN_FAULT_STEP, breaks the first dispatch of the step's
 * command encoder in a pass whose label matches KILN_FAULT_PASS (too many workgroups: a real
 * validation error from Dawn, raised where Kiln encodes it).
 */
const hook = join(root, 'hook.mjs');
fs.writeFileSync(hook, `
import { globals } from ${JSON.stringify(join(REPO, 'node_modules', 'webgpu', 'index.js'))};
import { writeFileSync } from 'node:fs';
const log = { buffers: 0, totalBytes: 0, maxBytes: 0, big: [], injected: null };
const step = process.env.KILN_FAULT_STEP, passRe = new RegExp(process.env.KILN_FAULT_PASS ?? '.');
const enc = new WeakMap(), pass = new WeakMap();
const D = globals.GPUDevice.prototype, E = globals.GPUCommandEncoder.prototype, P = globals.GPUComputePassEncoder.prototype;
const { createBuffer, createCommandEncoder } = D, { beginComputePass } = E, { dispatchWorkgroups } = P;
D.createBuffer = function (d) {
  log.buffers++; log.totalBytes += d.size; log.maxBytes = Math.max(log.maxBytes, d.size);
  if (d.size >= 2 ** 24) log.big.push([d.label, d.size]);
  return createBuffer.call(this, d);
};
D.createCommandEncoder = function (d) { const e = createCommandEncoder.call(this, d); enc.set(e, d?.label ?? ''); return e; };
E.beginComputePass = function (d) { const p = beginComputePass.call(this, d); pass.set(p, [enc.get(this), d?.label ?? '']); return p; };
P.dispatchWorkgroups = function (x, y, z) {
  const [e, label] = pass.get(this) ?? [];
  if (step && !log.injected && e === 'step ' + step && passRe.test(label)) { log.injected = label; x = 2 ** 30; }
  return dispatchWorkgroups.call(this, x, y ?? 1, z ?? 1);
};
process.on('exit', () => { if (process.env.KILN_HOOK_LOG) writeFileSync(process.env.KILN_HOOK_LOG, JSON.stringify(log)); });
`);
interface HookLog { buffers: number; totalBytes: number; maxBytes: number; big: [string, number][]; injected: string | null }

type Line = Record<string, unknown>;
interface Run { code: number | null; signal: NodeJS.Signals | null; out: string; err: string; lines: Line[]; ms: number; hook?: HookLog }
interface RunOptions { env?: Record<string, string>; hook?: boolean; cwd?: string; timeout?: number }

function childEnv(o: RunOptions) {
  const env: NodeJS.ProcessEnv = { ...process.env, KILN_CACHE_DIR: cache, TMPDIR: tmp, ...o.env };
  if (!o.env?.KILN_DEVICE_LIMITS) delete env.KILN_DEVICE_LIMITS;
  delete env.KILN_DEBUG;
  return env;
}
const nodeArgs = (args: string[], o: RunOptions) => [...(o.hook ? ['--import', hook] : []), KILN, ...args];
const hookLog = (o: RunOptions) => (o.hook ? join(o.cwd ?? root, `hook-${count++}.json`) : undefined);

function finish(r: Omit<Run, 'lines'>, log?: string): Run {
  const run: Run = { ...r, lines: jsonLines(r.out) };
  if (log && fs.existsSync(log)) run.hook = JSON.parse(fs.readFileSync(log, 'utf8')) as HookLog;
  return run;
}

/** Runs `kiln …` to the end, in a temp folder of ours. */
function kiln(args: string[], o: RunOptions = {}): Run {
  const log = hookLog(o);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, nodeArgs(args, o), {
    cwd: o.cwd ?? fresh(), encoding: 'utf8', timeout: o.timeout ?? 120_000,
    env: childEnv({ ...o, env: { ...o.env, ...(log ? { KILN_HOOK_LOG: log } : {}) } }),
  });
  return finish({ code: r.status, signal: r.signal, out: r.stdout, err: r.stderr, ms: performance.now() - t0 }, log);
}

/** Starts `kiln …`; `onLine` sees each JSON line on stdout as it comes (to send a signal, remount…). */
function start(args: string[], onLine: (l: Line, kill: (s: NodeJS.Signals) => void) => void, o: RunOptions = {}): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, nodeArgs(args, o), { cwd: o.cwd ?? fresh(), env: childEnv(o), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '', pending = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeout ?? 120_000);
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    pending += s;
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const p of parts) {
      let l: Line | undefined;
      try {
        l = JSON.parse(p) as Line;
      } catch { /* not JSON: reported by jsonLines when the run ends */ }
      if (l) onLine(l, (sig) => child.kill(sig));
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
  return new Promise((ok, fail) => child.on('close', (code, signal) => {
    clearTimeout(timer);
    try {
      ok(finish({ code, signal, out, err, ms: performance.now() - t0 }));
    } catch (e) {
      fail(e);
    }
  }));
}

/** stdout under --json: every non-empty line one JSON object; every loss a positive finite number. */
function jsonLines(out: string): Line[] {
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      throw new Error(`stdout is not pure JSON lines: ${JSON.stringify(l.slice(0, 200))}`);
    }
    expect(typeof v === 'object' && v !== null && !Array.isArray(v), l).toBe(true);
    for (const k of ['loss', 'final_loss', 'mean_loss_last10', 'eval_loss', 'images_per_s', 'gflop_per_s']) {
      if (!(k in (v as Line))) continue;
      const x = (v as Line)[k];
      expect(typeof x === 'number' && Number.isFinite(x) && x > 0, `${k} in ${l}`).toBe(true);
    }
    return v as Line;
  });
}

const errLines = (r: Run) => r.err.split('\n').filter((l) => l.trim() !== '');
/** An expected failure: the exit code, the message as the last stderr line, our lines only, no stack. */
function failed(r: Run, re: RegExp, o: { code?: number; lines?: number } = {}): string {
  const lines = errLines(r);
  expect(r.code, r.err).toBe(o.code ?? 1);
  if (o.lines !== undefined) expect(lines, r.err).toHaveLength(o.lines);
  for (const l of lines) expect(l, r.err).toMatch(/^kiln: /);
  expect(r.err).not.toMatch(/\n\s+at |internal error/);
  expect(lines.at(-1), r.err).toMatch(re);
  return lines.at(-1)!;
}
const steps = (r: Run) => r.lines.filter((l) => 'step' in l).map((l) => l.step as number);
const summary = (r: Run) => r.lines.find((l) => l.summary === true);

/** Puts recognisable bytes at `path`; the returned check says they are still there, byte for byte, and no temp file is left. */
function keep(path: string): () => void {
  const before = Buffer.from(`previous ${basename(path)} ${Math.random()}\n`);
  fs.writeFileSync(path, before);
  return () => {
    expect(fs.readFileSync(path).equals(before), `${path} was changed`).toBe(true);
    expect(fs.readdirSync(dirname(path)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  };
}
const weightsOf = (path: string) => parseSafetensors(new Uint8Array(fs.readFileSync(path)), path).tensors;
const checkpointOf = (path: string) => parseCheckpoint(model, new Uint8Array(fs.readFileSync(path)), path);
const allFinite = (m: Map<string, Float32Array>) => [...m.values()].every((v) => v.every(Number.isFinite));
const small = ['--data', d16, '--batch', '4', '--tune', 'off'];
const limits = (bytes: number) => ({ KILN_DEVICE_LIMITS: JSON.stringify({ maxStorageBufferBindingSize: bytes }) });
const spec = (dir: string, name: string, s: unknown) => (fs.writeFileSync(join(dir, name), JSON.stringify(s)), join(dir, name));
const conv = (name: string, out: number, kernel: number, padding = 0) => ({ name, type: 'conv2d', out, kernel, padding });

afterAll(() => {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((m) => m.startsWith(root + sep)).reverse()) sh('umount', m);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('GPU limits and GPU errors: one line, non-zero exit, nothing reported or saved', () => {
  it('a batch over a lowered binding limit is refused before allocation with the largest batch that fits, and that batch trains', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    // 600,000 bytes: 9 images of conv1's 64 KiB output fit, whatever margin Kiln keeps under a limit.
    // (That output is the stage of the conv + SELU + pool pass when its variant pools after it.)
    const r = kiln(['train', '--json', ...small, '--batch', '16', '--steps', '2', '--save', join(d, 'w.safetensors'), '--checkpoint', join(d, 'c.ckpt')],
      { env: limits(600_000), hook: true, cwd: d });
    failed(r, /^kiln: tensor conv1\.0\/forward\+selu\+maxpool\/stage needs 1\.0 MiB \(1,048,576 bytes\), over the device's maxStorageBufferBindingSize of 0\.6 MiB \(600,000 bytes\); the largest batch that fits is 9$/, { lines: 1 });
    expect(r.lines).toEqual([]);
    expect(r.hook!.maxBytes, 'nothing near the plan\'s size was allocated').toBeLessThan(64 * 1024);
    kept();
    expect(fs.existsSync(join(d, 'c.ckpt'))).toBe(false);
    const ok = kiln(['train', '--json', ...small, '--batch', '9', '--steps', '1'], { env: limits(600_000) });
    expect(ok.code, ok.err).toBe(0);
    expect(steps(ok)).toEqual([1]);
  });

  it('a wide layer (scaled down: 512 channels against 1 MiB) is refused, saying it does not fit even at batch 1', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    const s = spec(d, 'wide.json', { input: [3, 32, 32], layers: [conv('wide', 512, 3, 1), { type: 'relu' }, conv('back', 3, 3, 1), { type: 'sigmoid' }] });
    const r = kiln(['train', '--json', ...small, '--model', s, '--save', join(d, 'w.safetensors')], { env: limits(2 ** 20), cwd: d });
    failed(r, /^kiln: tensor wide\/out needs 8\.0 MiB \(8,388,608 bytes\), over the device's maxStorageBufferBindingSize of 1\.0 MiB .*; it does not fit even at batch 1: make the layer smaller$/, { lines: 1 });
    expect(r.lines).toEqual([]);
    kept();
  });

  it('the literal 100,000-channel model is refused in seconds, before any large allocation (default tuning, empty cache)', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    const s = spec(d, 'wide.json', { input: [3, 32, 32], layers: [conv('wide', 100_000, 3, 1), { type: 'relu' }, conv('back', 3, 3, 1), { type: 'sigmoid' }] });
    const r = kiln(['train', '--json', '--model', s, '--steps', '2', '--save', join(d, 'w.safetensors')], { hook: true, cwd: d, timeout: 60_000 });
    failed(r, /^kiln: tensor wide\/out needs [\d.]+ GiB \([\d,]+ bytes\), over the device's max\w+ of [\d.]+ GiB \([\d,]+ bytes\); the largest batch that fits is \d+$/, { lines: 1 });
    expect(r.ms).toBeLessThan(30_000);
    expect(r.hook!.big, 'buffers of 16 MiB or more').toEqual([]);
    expect(r.lines).toEqual([]);
    kept();
  });

  it('a huge kernel (scaled: 31×31, 64 channels, against 512 KiB) is refused naming the parameter at fault', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    const s = spec(d, 'k31.json', { input: [3, 32, 32], layers: [conv('huge', 64, 31, 15), { type: 'relu' }, conv('back', 3, 1), { type: 'sigmoid' }] });
    const r = kiln(['train', '--json', ...small, '--batch', '1', '--model', s, '--save', join(d, 'w.safetensors')], { env: limits(512 * 1024), cwd: d });
    failed(r, /^kiln: tensor .*huge\.weight.* needs 0\.7 MiB \(7\d\d,\d{3} bytes\), over the device's maxStorageBufferBindingSize of 0\.5 MiB/, { lines: 1 });
    expect(r.lines).toEqual([]);
    kept();
  });

  it('the literal huge kernel (20001×20001) is refused in seconds, before any large allocation, naming the parameter', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    const s = spec(d, 'k20001.json', { input: [3, 32, 32], layers: [conv('huge', 3, 20_001, 10_000), { type: 'sigmoid' }] });
    const r = kiln(['train', '--json', ...small, '--model', s, '--save', join(d, 'w.safetensors')], { hook: true, cwd: d, timeout: 60_000 });
    failed(r, /^kiln: tensor .*huge\.weight.* needs 13\.41 GiB \(14,40\d,\d{3},\d{3} bytes\), over the device's max\w+ of/, { lines: 1 });
    expect(r.ms).toBeLessThan(30_000);
    expect(r.hook!.big).toEqual([]);
    expect(r.lines).toEqual([]);
    kept();
  });

  it('the literal --batch 16384 on 16,384 records is refused in seconds, naming the tensor, its bytes, the limit and a batch that fits', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    const big = join(d, 'big.bin');
    const b = Buffer.alloc(16_384 * RECORD);
    for (let i = 0; i < 16_384; i++) sample.copy(b, i * RECORD, (i % 2880) * RECORD, (i % 2880 + 1) * RECORD);
    fs.writeFileSync(big, b);
    const r = kiln(['train', '--json', '--data', big, '--batch', '16384', '--steps', '2', '--save', join(d, 'w.safetensors')], { hook: true, cwd: d, timeout: 90_000 });
    fs.rmSync(big);
    failed(r, /^kiln: tensor \S+ needs [\d.]+ [GM]iB \([\d,]+ bytes\), over .* of [\d.]+ [GM]iB \([\d,]+ bytes\); the largest batch that fits is \d+$/, { lines: 1 });
    expect(r.ms).toBeLessThan(30_000);
    expect(r.hook!.big.filter(([label]) => !/dataset/.test(label)), 'plan buffers allocated before the refusal').toEqual([]);
    expect(r.lines).toEqual([]);
    kept();
  });

  it('a dataset over a lowered limit is refused with how many records fit, and that many train', () => {
    const d = fresh();
    const r = kiln(['train', '--json', '--data', file('d400.bin', records(0, 400)), '--batch', '4', '--steps', '1', '--tune', 'off'], { env: limits(2 ** 20), cwd: d });
    failed(r, /^kiln: tensor dataset \(400 records\) needs 1\.2 MiB \(1,228,800 bytes\), over the device's maxStorageBufferBindingSize of 1\.0 MiB \(1,048,576 bytes\); at most 341 records fit$/, { lines: 1 });
    const ok = kiln(['train', '--json', '--data', file('d341.bin', records(0, 341)), '--batch', '4', '--steps', '1', '--tune', 'off'], { env: limits(2 ** 20), cwd: d });
    expect(ok.code, ok.err).toBe(0);
  });

  it('bench over a lowered limit is refused in one line and prints no result', () => {
    const r = kiln(['bench', '--json', '--batch', '64', '--steps', '2', '--warmup', '1'], { env: limits(1_100_000) });
    failed(r, /^kiln: tensor conv2\.0\/grad_in needs 4\.0 MiB .*; the largest batch that fits is 16$/, { lines: 1 });
    expect(r.lines).toEqual([]);
  });

  for (const [what, pass, extra] of [['the step\'s pass', 'train step', []], ['a layer\'s pass under --profile', 'conv2\\.0/backward', ['--profile', 'trace.json']]] as const) {
    it(`a GPU validation error in step 2 (${what}) is a GpuError naming the pass; no loss of step 2 or later, nothing saved`, () => {
      const d = fresh(), keptW = keep(join(d, 'w.safetensors')), keptC = keep(join(d, 'c.ckpt'));
      const r = kiln(['train', '--json', ...small, '--steps', '3', '--save', join(d, 'w.safetensors'), '--checkpoint', join(d, 'c.ckpt'), ...extra],
        { hook: true, cwd: d, env: { KILN_FAULT_STEP: '2', KILN_FAULT_PASS: `^${pass}$` } });
      expect(r.hook!.injected, 'the fault was injected').toMatch(new RegExp(pass));
      failed(r, new RegExp(`GPU error on .*: ${pass.replace('\\.', '.')}: .*workgroup`), { lines: 1 });
      expect(steps(r).every((s) => s < 2)).toBe(true);
      expect(summary(r)).toBeUndefined();
      keptW();
      keptC();
      expect(fs.existsSync(join(d, 'trace.json'))).toBe(false);
    });
  }

  it('bench with a GPU error in a timed step exits non-zero and reports no images/s or GFLOP/s', () => {
    const r = kiln(['bench', '--json', '--batch', '4', '--steps', '3', '--warmup', '1', '--tune', 'off'],
      { hook: true, env: { KILN_FAULT_STEP: '3', KILN_FAULT_PASS: '.' } });
    expect(r.hook!.injected).not.toBeNull();
    failed(r, /GPU error on .*workgroup/, { lines: 1 });
    expect(r.lines.filter((l) => 'gflop_per_s' in l || 'images_per_s' in l)).toEqual([]);
  });
});

describe('non-finite values', () => {
  const withValue = (name: string, index: number, v: number) => {
    const p = initParams(model, 3);
    p.get(name)![index] = v;
    return serializeWeights(model, p);
  };

  it('--init refuses an inf, a -inf and a NaN by tensor name and index, before any work', () => {
    for (const [name, index, v, shown] of [['conv1.0.weight', 5, Infinity, 'Infinity'], ['conv2.0.bias', 0, -Infinity, '-Infinity'],
      ['transconv2.0.weight', 7, NaN, 'NaN']] as const) {
      const d = fresh(), kept = keep(join(d, 'w.safetensors'));
      fs.writeFileSync(join(d, 'init.safetensors'), withValue(name, index, v));
      const r = kiln(['train', '--json', ...small, '--init', join(d, 'init.safetensors'), '--save', join(d, 'w.safetensors')], { cwd: d });
      failed(r, new RegExp(`^kiln: .*init\\.safetensors: tensor ${name.replace(/\./g, '\\.')} holds 1 non-finite value \\(first at index ${index}: ${shown}\\)$`), { lines: 1 });
      expect(r.lines).toEqual([]);
      kept();
    }
  });

  it('--resume refuses a checkpoint holding a non-finite weight or optimizer moment, by name', () => {
    const d = fresh();
    const ok = kiln(['train', '--json', ...small, '--steps', '2', '--checkpoint', join(d, 'c.ckpt')], { cwd: d });
    expect(ok.code, ok.err).toBe(0);
    const c = checkpointOf(join(d, 'c.ckpt'));
    c.params.get('transconv1.0.weight')![3] = Infinity;
    fs.writeFileSync(join(d, 'bad-w.ckpt'), serializeCheckpoint(model, c));
    c.params.get('transconv1.0.weight')![3] = 0;
    c.state.get('adam/v')![10] = NaN;
    fs.writeFileSync(join(d, 'bad-v.ckpt'), serializeCheckpoint(model, c));
    const r1 = kiln(['train', '--json', ...small, '--steps', '1', '--resume', join(d, 'bad-w.ckpt')], { cwd: d });
    failed(r1, /bad-w\.ckpt: tensor transconv1\.0\.weight holds 1 non-finite value \(first at index 3: Infinity\)$/, { lines: 1 });
    const r2 = kiln(['train', '--json', ...small, '--steps', '1', '--resume', join(d, 'bad-v.ckpt')], { cwd: d });
    failed(r2, /bad-v\.ckpt: tensor optimizer\.adam\/v holds 1 non-finite value \(first at index 10: NaN\)$/, { lines: 1 });
  });

  for (const [what, opt] of [['Adam --lr 1e9', ['--lr', '1e9']], ['SGD --lr 1e30', ['--optimizer', 'sgd', '--lr', '1e30']]] as const) {
    it(`divergence (${what}) stops at the first non-finite step, naming it; the checkpoint holds the last good state`, () => {
      const d = fresh(), kept = keep(join(d, 'w.safetensors'));
      const r = kiln(['train', '--json', ...small, ...opt, '--steps', '12', '--save', join(d, 'w.safetensors'), '--checkpoint', join(d, 'c.ckpt')], { cwd: d });
      const msg = failed(r, /^kiln: non-finite values at step (\d+): (the loss is not finite|the gradient of \S+ \(element \d+\) is not finite|the update made parameter \S+ \(element \d+\) non-finite).*c\.ckpt holds the last good state \(step (\d+), before the failure\)/, { lines: 1 });
      const [, bad, good] = /step (\d+):.*\(step (\d+), before/.exec(msg)!.map(Number) as [number, number, number];
      expect(good).toBe(bad - 1);
      expect(steps(r), 'every step before the failure is reported, none after').toEqual(Array.from({ length: good }, (_, i) => i + 1));
      expect(summary(r)).toBeUndefined();
      const c = checkpointOf(join(d, 'c.ckpt'));
      expect(c.step).toBe(good);
      expect(allFinite(c.params) && allFinite(c.state)).toBe(true);
      kept();
    });
  }

  it('--on-nonfinite skip drops only the non-finite steps, reports them, and never prints a null loss', () => {
    const d = fresh();
    const r = kiln(['train', '--json', ...small, '--lr', '1e9', '--steps', '6', '--on-nonfinite', 'skip', '--save', join(d, 'w.safetensors')], { cwd: d });
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(/null/);
    const skipped = r.lines.filter((l) => l.skipped === true).length;
    expect(skipped).toBeGreaterThan(0);
    expect(steps(r)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(summary(r)!.skipped_steps).toBe(skipped);
    expect([...weightsOf(join(d, 'w.safetensors')).values()].every((t) => t.data.every(Number.isFinite))).toBe(true);
  });

  // Pixels are bytes, so data cannot hold a NaN, but it can drive a model past float32's range:
  // with conv1 weights of 2e37, a black image gives the bias while a white one sums 27 × 2e37 = inf.
  const huge = (d: string) => {
    const w = { shape: [16, 3, 3, 3], data: new Float32Array(16 * 27).fill(2e37) };
    fs.writeFileSync(join(d, 'huge.safetensors'), serializeSafetensors({ 'conv1.0.weight': w }));
    return ['--data', blackWhite, '--batch', '4', '--tune', 'off', '--no-shuffle', '--steps', '4', '--init', join(d, 'huge.safetensors')];
  };

  it('data that overflows the forward pass stops the run at the step that trains it (step 3), with its loss named', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    const r = kiln(['train', '--json', ...huge(d), '--save', join(d, 'w.safetensors')], { cwd: d });
    failed(r, /^kiln: non-finite values at step 3: the loss is not finite/, { lines: 2 });
    expect(steps(r)).toEqual([1, 2]);
    kept();
  });

  it('... and with --on-nonfinite skip only that step is dropped', () => {
    const d = fresh();
    const r = kiln(['train', '--json', ...huge(d), '--on-nonfinite', 'skip', '--save', join(d, 'w.safetensors')], { cwd: d });
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(/null/);
    expect(r.lines.filter((l) => l.skipped === true).map((l) => l.step)).toEqual([3]);
    expect(summary(r)!.skipped_steps).toBe(1);
    expect([...weightsOf(join(d, 'w.safetensors')).values()].every((t) => t.data.every(Number.isFinite))).toBe(true);
  });
});

const isRoot = process.getuid?.() === 0;
const canMknod = isRoot && sh('mknod', join(root, 'probe-null'), 'c', '1', '3').status === 0;
fs.rmSync(join(root, 'probe-null'), { force: true });
const canMount = isRoot && (() => {
  fs.mkdirSync(join(root, 'probe-mnt'));
  const ok = sh('mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', join(root, 'probe-mnt')).status === 0;
  if (ok) sh('umount', join(root, 'probe-mnt'));
  return ok;
})();

describe('destinations: special files refused, symlinks followed, failed final writes rescued', () => {

  it.skipIf(!canMknod)(`a character device made with mknod in our folder is refused as --save and --init, and left as it was${canMknod ? '' : ' (SKIPPED: mknod is not possible here)'}`, () => {
    const d = fresh(), dev = join(d, 'null');
    expect(sh('mknod', dev, 'c', '1', '3').status).toBe(0);
    const before = fs.lstatSync(dev);
    const r = kiln(['train', '--json', ...small, '--steps', '1', '--save', dev], { cwd: d });
    failed(r, /^kiln: --save .*\/null: is a character device, not a regular file$/, { lines: 1 });
    const r2 = kiln(['train', '--json', ...small, '--steps', '1', '--init', dev], { cwd: d });
    failed(r2, /^kiln: --init .*\/null: is a character device, not a regular file$/, { lines: 1 });
    const after = fs.lstatSync(dev);
    expect([after.isCharacterDevice(), after.rdev, after.ino]).toEqual([true, before.rdev, before.ino]);
    expect([r.lines, r2.lines]).toEqual([[], []]);
  });

  it('a FIFO is refused at once as --checkpoint and --resume (never opened), and stays a FIFO', () => {
    const d = fresh(), fifo = join(d, 'fifo');
    expect(sh('mkfifo', fifo).status).toBe(0);
    const r = kiln(['train', '--json', ...small, '--steps', '1', '--checkpoint', fifo], { cwd: d, timeout: 30_000 });
    failed(r, /^kiln: --checkpoint .*\/fifo: is a FIFO, not a regular file$/, { lines: 1 });
    const r2 = kiln(['train', '--json', ...small, '--steps', '1', '--resume', fifo], { cwd: d, timeout: 30_000 });
    failed(r2, /^kiln: --resume .*\/fifo: is a FIFO, not a regular file$/, { lines: 1 });
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('a socket is refused as --profile and left a socket', async () => {
    const d = fresh(), path = join(d, 'sock');
    const server = createServer();
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(path, ok));
    try {
      const r = kiln(['train', '--json', ...small, '--steps', '1', '--profile', path], { cwd: d });
      failed(r, /^kiln: --profile .*\/sock: is a socket, not a regular file$/, { lines: 1 });
      expect(fs.lstatSync(path).isSocket()).toBe(true);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });

  it('writes through a symlink to its target (the link kept) and creates the target of a dangling one', () => {
    const d = fresh();
    fs.mkdirSync(join(d, 'real'));
    fs.writeFileSync(join(d, 'real', 'w.safetensors'), 'old');
    fs.symlinkSync('real/w.safetensors', join(d, 'w.link'));
    fs.symlinkSync('real/c.ckpt', join(d, 'c.link'));
    const r = kiln(['train', '--json', ...small, '--steps', '2', '--save', join(d, 'w.link'), '--checkpoint', join(d, 'c.link')], { cwd: d });
    expect(r.code, r.err).toBe(0);
    expect([fs.readlinkSync(join(d, 'w.link')), fs.readlinkSync(join(d, 'c.link'))]).toEqual(['real/w.safetensors', 'real/c.ckpt']);
    expect([...weightsOf(join(d, 'real', 'w.safetensors')).keys()].sort()).toEqual(model.params.map((p) => p.name).sort());
    expect(checkpointOf(join(d, 'real', 'c.ckpt')).step).toBe(2);
    expect(fs.readdirSync(join(d, 'real')).sort()).toEqual(['c.ckpt', 'w.safetensors']);
  });

  describe.skipIf(!canMount)(`on a 64 KiB tmpfs mounted in our folder${canMount ? '' : ' (SKIPPED: needs root and mount)'}`, () => {
    const d = join(root, 'mnt-test'), tiny = join(d, 'tiny');
    beforeAll(() => {
      fs.mkdirSync(tiny, { recursive: true });
      expect(sh('mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', tiny).stderr).toBe('');
    });
    afterAll(() => {
      sh('umount', tiny);
    });
    const rescued = (line: string, flag: string, code: string, text: string) => {
      const m = new RegExp(`^kiln: ${flag} .*: could not write \\(${code}: ${text}\\); the result was saved to (\\S+) instead$`).exec(line);
      expect(m, line).not.toBeNull();
      expect(dirname(m![1]!)).toBe(tmp);
      return m![1]!;
    };

    it('ENOSPC on the final --checkpoint: the run finishes, the checkpoint is rescued to TMPDIR and named, the old file and --save are fine', () => {
      const keptC = keep(join(tiny, 'c.ckpt')), out = fresh();
      const r = kiln(['train', '--json', ...small, '--steps', '2', '--save', join(out, 'w.safetensors'), '--checkpoint', join(tiny, 'c.ckpt')], { cwd: out });
      const path = rescued(failed(r, /ENOSPC/, { lines: 1 }), '--checkpoint', 'ENOSPC', 'no space left on device');
      expect(checkpointOf(path).step).toBe(2);
      expect(weightsOf(join(out, 'w.safetensors')).size).toBe(model.params.length);
      keptC();
      expect(fs.readdirSync(tiny)).toEqual(['c.ckpt']);
      fs.rmSync(path);
    });

    it('EROFS after the run (remounted read-only while it trains): --save is rescued and named; the old file untouched', async () => {
      const kept = keep(join(tiny, 'w.safetensors'));
      let remounted = false;
      const r = await start(['train', '--json', ...small, '--steps', '40', '--save', join(tiny, 'w.safetensors')], () => {
        if (!remounted) remounted = sh('mount', '-o', 'remount,ro', tiny).status === 0;
      });
      expect(remounted).toBe(true);
      const path = rescued(failed(r, /EROFS/, { lines: 1 }), '--save', 'EROFS', 'read-only file system');
      expect(weightsOf(path).size).toBe(model.params.length);
      expect(summary(r)!.steps).toBe(40);
      kept();
      fs.rmSync(path);
    });

    it('EROFS before the run (already read-only): refused at once, nothing trained', () => {
      const r = kiln(['train', '--json', ...small, '--steps', '2', '--checkpoint', join(tiny, 'new.ckpt')]);
      failed(r, /^kiln: --checkpoint .*new\.ckpt: cannot write in folder .*tiny \(EROFS: read-only file system\)$/, { lines: 1 });
      expect(r.lines).toEqual([]);
    });
  });
});

describe('interrupts and periodic checkpoints', () => {
  const long = [...small, '--steps', '100000'];

  it('SIGINT: the step finishes, the checkpoint is written, exit 130; --resume continues at the next step', async () => {
    const d = fresh(), ckpt = join(d, 'c.ckpt');
    let sent = false;
    const r = await start(['train', '--json', ...long, '--checkpoint', ckpt], (l, kill) => {
      if (!sent && typeof l.step === 'number') { sent = true; kill('SIGINT'); }
    }, { cwd: d });
    expect(r.code, r.err).toBe(130);
    expect(r.err).not.toMatch(/\n\s+at /);
    const n = Number(/interrupted at step (\d+): checkpoint written to .*c\.ckpt; continue with --resume/.exec(r.err)?.[1]);
    expect(steps(r)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(checkpointOf(ckpt).step).toBe(n);
    const next = kiln(['train', '--json', ...small, '--steps', '2', '--resume', ckpt], { cwd: d });
    expect(next.code, next.err).toBe(0);
    expect(steps(next)).toEqual([n + 1, n + 2]);
  });

  it('SIGTERM without --checkpoint: exit 143, the checkpoint goes to the temp folder and is named', async () => {
    let sent = false;
    const r = await start(['train', '--json', ...long], (l, kill) => {
      if (!sent && typeof l.step === 'number') { sent = true; kill('SIGTERM'); }
    });
    expect(r.code, r.err).toBe(143);
    const m = /interrupted at step (\d+): checkpoint written to (\S+);/.exec(r.err);
    expect(m, r.err).not.toBeNull();
    expect(dirname(m![2]!)).toBe(tmp);
    expect(checkpointOf(m![2]!).step).toBe(Number(m![1]));
    fs.rmSync(m![2]!);
  });

  for (const [what, every, extra] of [['--checkpoint-every 5', 5, ['--checkpoint-every', '5']], ['by default every epoch (4 steps)', 4, []]] as const) {
    it(`a killed run (SIGKILL) leaves a whole checkpoint written ${what}`, async () => {
      const d = fresh(), ckpt = join(d, 'c.ckpt');
      let sent = false;
      const r = await start(['train', '--json', ...long, '--checkpoint', ckpt, ...extra], (l, kill) => {
        if (!sent && typeof l.step === 'number' && l.step > every + 1) { sent = true; kill('SIGKILL'); }
      }, { cwd: d });
      expect(r.signal).toBe('SIGKILL');
      const c = checkpointOf(ckpt);
      expect(c.step).toBeGreaterThanOrEqual(every);
      expect(c.step % every, `checkpoint at step ${c.step}`).toBe(0);
    });
  }
});

describe('resume identity and the smaller refusals', () => {
  it('resuming on other data of the same size is refused, and accepted with --allow-new-data', () => {
    const d = fresh(), ckpt = join(d, 'c.ckpt');
    expect(kiln(['train', '--json', ...small, '--steps', '2', '--checkpoint', ckpt], { cwd: d }).code).toBe(0);
    const kept = keep(join(d, 'w.safetensors'));
    const other = ['--data', other16, '--batch', '4', '--tune', 'off', '--steps', '2', '--resume', ckpt];
    const r = kiln(['train', '--json', ...other, '--save', join(d, 'w.safetensors')], { cwd: d });
    failed(r, /^kiln: cannot resume: the training data differs from the checkpoint's \(d16\.bin, 16 records, sha256 [0-9a-f]{12}…\); restore with allowNewData \(kiln train --allow-new-data\) to continue on other16\.bin anyway$/, { lines: 1 });
    kept();
    const ok = kiln(['train', '--json', ...other, '--allow-new-data'], { cwd: d });
    expect(ok.code, ok.err).toBe(0);
    expect(steps(ok)).toEqual([3, 4]);
  });

  const refusals: [string, string[], RegExp][] = [
    ['--init with --resume', ['--init', 'a.safetensors', '--resume', 'b.ckpt'], /--init and --resume together: a checkpoint already holds its weights \(use one of them\)/],
    ['--allow-new-data without --resume', ['--allow-new-data'], /--allow-new-data applies to --resume only/],
    ['a seed of 2^32', ['--seed', '4294967296'], /--seed must be an integer ≥ 0 and ≤ 4294967295, got "4294967296"/],
    ['a negative seed', ['--seed', '-1'], /--seed must be an integer ≥ 0 and ≤ 4294967295, got "-1"/],
    ['a negative learning rate', ['--lr', '-1'], /--lr must be a number > 0, got "-1"/],
    ['a negative batch', ['--batch', '-4'], /--batch must be an integer ≥ 1, got "-4"/],
    ['negative steps', ['--steps', '-2'], /--steps must be an integer ≥ 1, got "-2"/],
    ['negative epochs', ['--epochs', '-1'], /--epochs must be an integer ≥ 1, got "-1"/],
    ['a negative momentum', ['--optimizer', 'sgd', '--momentum', '-0.5'], /--momentum must be a number ≥ 0, got "-0\.5"/],
    ['a negative weight decay', ['--weight-decay', '-.1'], /--weight-decay must be a number ≥ 0, got "-\.1"/],
    ['a negative --checkpoint-every', ['--checkpoint-every', '-3'], /--checkpoint-every must be an integer ≥ 1, got "-3"/],
    ['an unknown --on-nonfinite', ['--on-nonfinite', 'ignore'], /--on-nonfinite must be stop or skip, got "ignore"/],
  ];
  // These need no GPU: they run side by side.
  for (const [what, args, re] of refusals) {
    it.concurrent(`refuses ${what} in one line of Kiln's own, touching nothing`, async () => {
      const d = fresh(), kept = keep(join(d, 'w.safetensors'));
      const r = await start(['train', '--json', ...args, '--save', join(d, 'w.safetensors')], () => {}, { cwd: d });
      failed(r, new RegExp(`^kiln: ${re.source}$`), { lines: 1 });
      expect(r.lines).toEqual([]);
      kept();
    });
  }

  it('accepts the largest seed, 2^32 − 1', () => {
    const r = kiln(['train', '--json', ...small, '--steps', '1', '--seed', '4294967295']);
    expect(r.code, r.err).toBe(0);
  });

  it('refuses a spec with an unknown top-level field, naming it, before any work', () => {
    const d = fresh(), kept = keep(join(d, 'w.safetensors'));
    const s = spec(d, 'typo.json', { ...CAE_SPEC, layer: [] });
    const r = kiln(['train', '--json', ...small, '--model', s, '--save', join(d, 'w.safetensors')], { cwd: d });
    failed(r, /^kiln: .*typo\.json: unknown field "layer" \(fields: .*layers.*\)$/, { lines: 1 });
    kept();
  });
});
