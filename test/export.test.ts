// `kiln export-torch` and `kiln predict` without the GPU. The export must still print, byte for
// byte, the files scripts/check_torch_export.py ran in PyTorch (so a registry change that alters
// the export is noticed and the fixtures are remade), Kiln must still declare the state that loaded
// there with strict=True, dotted names become nested nn.Sequentials (and names PyTorch cannot hold
// are refused); `kiln predict` refuses bad input in one line before it opens the GPU.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { ConfigError } from '../src/errors.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { torchExport } from '../src/io/torch_export.ts';
import { stateEntries } from '../src/io/weights.ts';
import { buildModel, CAE_SPEC, type ModelSpec } from '../src/nn/spec.ts';
import { classifierSpec } from '../src/nn/presets.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-export-'));
const env = { ...process.env, KILN_CACHE_DIR: join(dir, 'cache') };
/** The real binary, as users run it (about 2 s a start here). */
const spawned = (...args: string[]) => {
  const r = spawnSync('node', ['bin/kiln.mjs', ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
/** The same CLI entry point in this process, stdout and stderr captured: for the many refusals. */
async function kiln(...args: string[]) {
  let out = '', err = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out += String(s); return true; });
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => { out += `${a.join(' ')}\n`; });
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => { err += `${a.join(' ')}\n`; });
  try {
    return { code: await main(args), out, err };
  } finally {
    write.mockRestore();
    log.mockRestore();
    error.mockRestore();
  }
}
const fixture = (f: string) => new URL(`./fixtures/${f}`, import.meta.url);
const NAMES = ['cae', 'classifier', 'layers'] as const;
const meta = (name: string) => parseSafetensors(new Uint8Array(readFileSync(fixture(`export_${name}.safetensors`))), name).metadata;
const models = {
  cae: buildModel(CAE_SPEC, 'cae'),
  classifier: buildModel(classifierSpec(6), 'classifier'),
  layers: buildModel(JSON.parse(readFileSync(fixture('export_layers.json'), 'utf8')), 'export_layers.json'),
};

describe('kiln export-torch', () => {
  for (const name of NAMES) {
    it(`prints exactly the committed export_${name}.py, which PyTorch loaded Kiln's weights into`, async () => {
      const m = meta(name);
      // The binary once (its stdout through a pipe), the entry point in-process for the others.
      const r = await (name === 'cae' ? spawned : kiln)('export-torch', '--model', m.model!, ...JSON.parse(m.export_flags!) as string[]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(readFileSync(fixture(`export_${name}.py`), 'utf8'));
    });

    it(`${name}: Kiln still declares the state PyTorch loaded strictly, and its --save file holds exactly it`, () => {
      const entries = stateEntries(models[name]);
      expect(Object.fromEntries(entries.map((e) => [e.name, e.shape]))).toEqual(JSON.parse(meta(name).state!));
      const saved = parseSafetensors(new Uint8Array(readFileSync(fixture(`export_${name}.weights.safetensors`))), name).tensors;
      expect([...saved].map(([k, t]) => [k, t.shape, t.dtype ?? 'F32']).sort()).toEqual(entries.map((e) => [e.name, e.shape, e.dtype]).sort());
    });
  }

  it('the exports name the loss (and how label targets are built) and the data range', () => {
    const py = (name: keyof typeof models) => readFileSync(fixture(`export_${name}.py`), 'utf8');
    expect(py('cae')).toMatch(/\nLOSS = nn\.MSELoss\(\)\n/);
    expect(py('classifier')).toMatch(/labels are class indices[^\n]*\nLOSS = nn\.CrossEntropyLoss\(\)\n/);
    expect(py('layers')).toMatch(/one_hot\(labels, 6\)[\s\S]*\nLOSS = nn\.BCELoss\(\)\n/);
    expect(py('layers')).toContain("('head', nn.Sequential(OrderedDict([\n            ('0', nn.Linear(64, 16, bias=True)),");
    const tanh = torchExport(buildModel({ input: [1, 4, 4], loss: 'l1', layers: [
      { name: 'c', type: 'conv2d', out: 1, kernel: 1, frozen: true }, { name: 'd', type: 'conv2d', out: 1, kernel: 1 }, { type: 'tanh' }] }), 't');
    expect(tanh).toContain('x = byte / 127.5 - 1, in [-1, 1]');
    expect(tanh).toContain('LOSS = nn.L1Loss()');
    expect(tanh).toContain("    for name in ['c']:\n        model.get_submodule(name).requires_grad_(False)");
    const binary = torchExport(buildModel({ input: [1, 2, 2], loss: 'mse', target: 'label', layers: [
      { type: 'flatten' }, { type: 'linear', out: 1 }] }), 'b');
    expect(binary).toContain('target = labels.float()[:, None]');
  });

  const refusals: [string, string[], RegExp][] = [
    ['names whose group is interrupted', ['a.0', 'b', 'a.1'], /layer 2 \(a\.1\): the layers named a\.… are not consecutive/],
    ['a layer that is also a group', ['a', 'a.0'], /layer 1 \(a\.0\): "a" is a layer, so it cannot also hold a\.0/],
    ['a group that is also a layer', ['a.0', 'a'], /layer 1 \(a\): "a" is already a group of layers/],
    ['an nn.Module attribute', ['forward', 'x'], /layer 0 \(forward\): "forward" is an attribute of nn\.Module/],
    ['an empty part', ['a..b', 'x'], /layer 0 \(a\.\.b\): an empty part between dots/],
  ];
  for (const [what, names, msg] of refusals) {
    it(`refuses ${what}, naming the layer`, () => {
      const spec: ModelSpec = { input: [3, 4, 4], layers: names.map((name, i) => (i === 0
        ? { name, type: 'conv2d', out: 3, kernel: 1 } : { name, type: i === 1 ? 'relu' : 'sigmoid' })) };
      expect(() => torchExport(buildModel(spec, 'spec.json'), 'spec.json')).toThrow(ConfigError);
      expect(() => torchExport(buildModel(spec, 'spec.json'), 'spec.json')).toThrow(msg);
    });
  }

  it('refuses --classes for a spec file, and an unknown model, in one line', async () => {
    let r = await kiln('export-torch', '--model', fixture('export_layers.json').pathname, '--classes', '3');
    expect([r.code, r.out, r.err.trim().split('\n').length]).toEqual([1, '', 1]);
    expect(r.err).toMatch(/--classes applies to a classifier preset only/);
    r = await kiln('export-torch', '--model', 'resnet');
    expect([r.code, r.out]).toEqual([1, '']);
    expect(r.err).toMatch(/--model resnet: not a preset/);
  });
});

describe('kiln predict refuses bad input in one line, before the GPU', () => {
  const cae = fixture('export_cae.weights.safetensors').pathname;
  const png = join(dir, 'ok.png');
  const bad = join(dir, 'broken.png');
  // A PNG signature with nothing valid after it, and a valid 2×2 PNG.
  writeFileSync(bad, Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]));
  writeFileSync(png, PNG.sync.write(Object.assign(new PNG({ width: 2, height: 2 }), { data: Buffer.alloc(16, 200) })));
  const cases: [string, string[], RegExp][] = [
    ['an image that cannot be decoded', ['--weights', cae, png, bad], /broken\.png: cannot decode/],
    ['a file that is no image', ['--weights', cae, fixture('export_layers.json').pathname], /export_layers\.json: not a PNG or JPEG file/],
    ['weights for another spec, listing names and shapes', ['--model', 'classifier', '--weights', cae, png],
      /weights do not match the model: missing conv1\.weight \[16, 3, 3, 3\];.*unexpected conv1\.0\.weight/],
    ['--probabilities on an autoencoder', ['--weights', cae, '--probabilities', png],
      /--probabilities: --model cae outputs images \[3, 32, 32\] \(an autoencoder\), not a class vector/],
    ['--out for a classifier', ['--model', 'classifier', '--weights', fixture('export_classifier.weights.safetensors').pathname, '--out', dir, png],
      /--out writes reconstructions, but --model classifier is a classifier/],
    ['--classes of the wrong length', ['--model', 'classifier', '--weights', fixture('export_classifier.weights.safetensors').pathname, '--classes', 'a,b', png],
      /--classes gives 2 names, the model has 6 classes/],
    ['two images that would write one reconstruction', ['--weights', cae, '--out', join(dir, 'out'), png, join(dir, 'sub', 'ok.png')],
      /--out .*out: .*ok\.png and .*sub\/ok\.png would both be written to .*out\/ok\.png/],
    ['--classes for an autoencoder', ['--weights', cae, '--classes', 'a,b', png], /--classes applies to a classifier/],
    ['no --weights', [png], /--weights <file\.safetensors> is required/],
    ['no images', ['--weights', cae], /give at least one image/],
    ['a truncated CIFAR-10 .bin', ['--weights', cae, join(dir, 'short.bin')], /short\.bin: 100 bytes is not a whole number of 3073-byte CIFAR-10 records/],
    ['a missing image', ['--weights', cae, join(dir, 'none.png')], /none\.png: cannot read \(ENOENT\)/],
  ];
  writeFileSync(join(dir, 'short.bin'), new Uint8Array(100));
  mkdirSync(join(dir, 'sub'));
  copyFileSync(png, join(dir, 'sub', 'ok.png'));
  it('the binary exits 1 with the one line on stderr and nothing on stdout', () => {
    const r = spawned('predict', '--weights', cae, '--probabilities', png);
    expect([r.code, r.out, r.err]).toEqual([1, '', 'kiln: --probabilities: --model cae outputs images [3, 32, 32] (an autoencoder), not a class vector\n']);
  });
  for (const [what, args, msg] of cases) {
    it(what, async () => {
      const r = await kiln('predict', ...args);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
      expect(r.err).toMatch(msg);
      expect(existsSync(join(dir, 'out')), 'nothing written').toBe(false);
    });
  }

  it('--probabilities on a classifier whose outputs are scores', async () => {
    const spec = join(dir, 'scores.json');
    writeFileSync(spec, JSON.stringify({ input: [3, 32, 32], loss: 'mse', target: 'label', layers: [{ type: 'flatten' }, { name: 'fc', type: 'linear', out: 3 }] }));
    const scores = buildModel(JSON.parse(readFileSync(spec, 'utf8')));
    expect(scores.classes).toBe(3);
    const r = await kiln('predict', '--model', spec, '--weights', fixture('export_cae.weights.safetensors').pathname, '--probabilities', png);
    expect([r.code, r.out]).toEqual([1, '']);
    expect(r.err).toMatch(/--probabilities: --model .*scores\.json was trained with mse on its outputs, which are scores, not probabilities/);
  });
});
