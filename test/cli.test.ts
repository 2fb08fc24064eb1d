// The `kiln` CLI as users and other tools call it (`node bin/kiln.mjs`, what `npm run kiln` runs):
// the JSON line contract, saved weights and checkpoints, resume, profiles, and one-line errors
// that leave existing files untouched.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { parseCheckpoint } from '../src/io/weights.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
const kiln = (...args: string[]) => {
  const r = spawnSync('node', ['bin/kiln.mjs', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, lines: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
};
const model = buildModel(CAE_SPEC, 'cae');
const weights = join(dir, 'w.safetensors'), ckpt = join(dir, 'c.ckpt'), trace = join(dir, 'trace.json');

describe('kiln train', () => {
  it('--json prints one line per step, then a summary; --save, --checkpoint and --profile write files', () => {
    const r = kiln('train', '--json', '--steps', '3', '--batch', '8', '--save', weights, '--checkpoint', ckpt, '--profile', trace);
    expect(r.code, r.err).toBe(0);
    expect(r.lines.slice(0, 3).map((l) => l.step)).toEqual([1, 2, 3]);
    for (const l of r.lines.slice(0, 3)) expect(l.loss).toBeGreaterThan(0);
    expect(r.lines[3].images_per_s).toBeGreaterThan(0);
    const saved = parseSafetensors(new Uint8Array(readFileSync(weights)), weights).tensors;
    expect([...saved.keys()].sort()).toEqual(model.params.map((p) => p.name).sort());
    expect(saved.get('transconv1.0.weight')!.shape).toEqual([32, 16, 2, 2]);
    expect(parseCheckpoint(model, new Uint8Array(readFileSync(ckpt)), ckpt).step).toBe(3);
    const events = JSON.parse(readFileSync(trace, 'utf8')).traceEvents.map((e: { name: string }) => e.name);
    for (const n of ['data', 'conv1.0/forward', 'conv2.0/backward', 'transconv2.0/forward', 'loss', 'optimizer']) expect(events).toContain(n);
    expect(events.filter((n: string) => /^(loss|optimizer|data)\//.test(n)), 'profile names do not stutter').toEqual([]);
  });

  it('--resume continues the step count from the checkpoint', () => {
    const r = kiln('train', '--json', '--steps', '2', '--batch', '8', '--resume', ckpt);
    expect(r.code, r.err).toBe(0);
    expect(r.lines.slice(0, 2).map((l) => l.step)).toEqual([4, 5]);
    expect(r.lines[2].steps).toBe(5);
  });

  const refusals: [string, string[], RegExp][] = [
    ['a non-numeric batch', ['--batch', 'abc'], /--batch must be an integer ≥ 1, got "abc"/],
    ['an unknown flag', ['--bogus'], /Unknown option '--bogus'/],
    ['an unknown optimizer', ['--optimizer', 'rmsprop'], /--optimizer must be adam or adamw or sgd, got "rmsprop"/],
    ['a missing model file', ['--model', join(dir, 'none.json')], /--model .*none.json: no such file/],
    ['a save folder that does not exist', ['--save', join(dir, 'no', 'w.safetensors')], /--save .*: folder .* does not exist/],
    ['steps and epochs together', ['--steps', '1', '--epochs', '1'], /--steps or --epochs, not both/],
  ];
  for (const [what, args, msg] of refusals) {
    it(`refuses ${what} with one line on stderr and a non-zero exit`, () => {
      const r = kiln('train', ...args);
      expect(r.code).not.toBe(0);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(msg);
    });
  }

  it('refuses a truncated CIFAR file by name and size, and leaves an existing --save file untouched', () => {
    const bad = join(dir, 'data_batch_1.bin');
    writeFileSync(bad, new Uint8Array(3073 * 2 + 5));
    writeFileSync(join(dir, 'keep.safetensors'), 'previous');
    const r = kiln('train', '--data', bad, '--save', join(dir, 'keep.safetensors'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/data_batch_1.bin: 6151 bytes is not a whole number of 3073-byte CIFAR-10 records/);
    expect(readFileSync(join(dir, 'keep.safetensors'), 'utf8')).toBe('previous');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('refuses a bad model spec, naming the layer, and leaves an existing --save file untouched', () => {
    const spec = join(dir, 'bad.json'), save = join(dir, 'w2.safetensors');
    writeFileSync(spec, JSON.stringify({ input: [3, 32, 32], layers: [{ name: 'enc', type: 'conv2d', out: 8, kernel: 3, padding: 1 }] }));
    writeFileSync(save, 'previous w2');
    const r = kiln('train', '--model', spec, '--save', save);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/bad.json: output shape \[8, 32, 32\] \(after layer 0, enc\) must equal the input shape/);
    expect(readFileSync(save, 'utf8')).toBe('previous w2');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('kiln bench', () => {
  it('--json reports images/s, GFLOP/s, peak bytes, compile time and the adapter', () => {
    const r = kiln('bench', '--json', '--batch', '4', '--steps', '2', '--warmup', '1');
    expect(r.code, r.err).toBe(0);
    const b = r.lines.at(-1);
    expect(b.images_per_s).toBeGreaterThan(0);
    expect(b.gflop_per_s).toBeGreaterThan(0);
    expect(b.planned_peak_bytes).toBeGreaterThan(b.gflop_per_step);
    expect(b.adapter).toMatch(/\w/);
  });
});
