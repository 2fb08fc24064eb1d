// The embedding API as an app uses it: train with `for await … of trainer.run(n)`, stop with an
// AbortSignal, read `trainer.losses`, save and load weights and checkpoints as bytes, predict with
// the live or saved weights, evaluate, and get typed errors for misuse.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.ts';
import { loadEmbeddedSample, loadEmbeddedSampleTest } from '../src/data/load_node.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { Trainer } from '../src/train/trainer.ts';
import { Predictor } from '../src/train/predict.ts';
import { Evaluator } from '../src/train/evaluate.ts';
import { gpu, scoped } from './gpu.ts';
import { openNodeDevice } from '../src/gpu/node.ts';
import type { Gpu } from '../src/gpu/device.ts';

const sample = await loadEmbeddedSample();
const test = await loadEmbeddedSampleTest();
const take = (n: number) => ({ count: n, pixels: sample.pixels.subarray(0, n * 3072), labels: sample.labels.subarray(0, n), source: `sample[0:${n}]` });
// A small classifier: enough to learn the six source photos a little in a few steps.
const classifier = buildModel({ input: [3, 32, 32], loss: 'cross_entropy', layers: [
  { type: 'conv2d', out: 8, kernel: 3, stride: 2, padding: 1 }, { type: 'batchnorm2d' }, { type: 'relu' },
  { type: 'avgpool2d', kernel: 4 }, { type: 'flatten' }, { type: 'dropout', p: 0.1 }, { type: 'linear', out: 6 }] }, 'small classifier');
const adam = { kind: 'adam' as const, options: { lr: 3e-3 } };

describe('the embedding API', () => {
  it('trainer.run(n) yields every step\'s loss in order and fills trainer.losses; an AbortSignal stops it', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const t = new Trainer(g, classifier, take(64), { batch: 16, optimizer: adam, seed: 1, shuffle: true });
      const seen: number[] = [];
      for await (const { step, loss, epoch } of t.run(10)) {
        expect(Number.isFinite(loss)).toBe(true);
        expect(epoch).toBe(Math.floor((step - 1) / 4));
        seen.push(step);
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(t.losses.slice(0, 10).every((l) => Number.isFinite(l))).toBe(true);
      const stop = new AbortController();
      const more: number[] = [];
      let atAbort = 0;
      for await (const { step } of t.run(100, { signal: stop.signal })) {
        more.push(step);
        if (step === 13) { stop.abort(); atAbort = t.steps; }
      }
      // Losses arrive a few steps late (the GPU runs ahead, at most 4 chunks of 8); steps already
      // submitted when the signal fired still report, and nothing new is started.
      expect(more[0]).toBe(11);
      expect(atAbort - 13).toBeLessThanOrEqual(40);
      expect(t.steps).toBe(atAbort);
      expect(more.at(-1)).toBe(t.steps);
      t.dispose();
    });
  });

  it('weights and checkpoints round-trip as bytes; a disposed trainer says so', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const a = new Trainer(g, classifier, take(32), { batch: 16, optimizer: adam, seed: 2, shuffle: true });
      for await (const _ of a.run(3)) { /* train */ }
      const weights = await a.weights();
      const ckpt = await a.checkpoint();
      const params = await a.params();
      expect(params.get('1.num_batches_tracked')).toEqual(Float32Array.of(3));
      const b = new Trainer(g, classifier, take(32), { batch: 16, optimizer: adam, seed: 2, shuffle: true });
      b.loadWeights(weights);
      expect(await b.params()).toEqual(params);
      await b.restore(ckpt);
      expect(b.steps).toBe(3);
      for await (const _ of a.run(2)) { /* both continue identically */ }
      for await (const _ of b.run(2)) { /* … */ }
      expect(b.losses.slice(3, 5)).toEqual(a.losses.slice(3, 5));
      a.dispose();
      b.dispose();
      expect(() => a.loadWeights(weights)).toThrow(ConfigError);
      await expect(a.weights()).rejects.toThrow(/Trainer\.weights: this trainer was disposed/);
      await expect(async () => { for await (const _ of a.run(1)) { /* */ } }).rejects.toThrow(/Trainer\.run: this trainer was disposed/);
    });
  });

  it('a Predictor on the live weights gives class probabilities; from saved weights it agrees; evaluation matches it', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const t = new Trainer(g, classifier, take(128), { batch: 32, optimizer: adam, seed: 3, shuffle: true });
      for await (const _ of t.run(12)) { /* train */ }
      const live = Predictor.fromTrainer(t, { batch: 16 });
      const images = test.pixels.subarray(0, 40 * 3072);
      const p = await live.predict(images);
      expect(p.count).toBe(40);
      expect(p.probabilities!.length).toBe(40 * 6);
      for (let i = 0; i < 40; i++) {
        const row = p.probabilities!.subarray(6 * i, 6 * i + 6);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(row.indexOf(Math.max(...row))).toBe(p.classes![i]);
      }
      const saved = Predictor.fromWeights(g, classifier, await t.weights(), { batch: 7 });
      const q = await saved.predict(images);
      for (let i = 0; i < q.outputs.length; i++) expect(Math.abs(q.outputs[i]! - p.outputs[i]!)).toBeLessThan(1e-5);
      // Evaluation counts the same predictions as correct.
      const data = { count: 40, pixels: images, labels: test.labels.subarray(0, 40), source: 'test[0:40]' };
      // Its pipelines compile on the first run (or prepare()), not on construction.
      const ev = new Evaluator(t, data, 16);
      expect(ev.prepared).toBe(false);
      const r = await ev.run();
      expect(ev.prepared).toBe(true);
      const right = [...p.classes!].filter((c, i) => c === data.labels[i]).length;
      expect(r.accuracy).toBeCloseTo(right / 40, 6);
      expect((await ev.run()).loss).toBe(r.loss);
      ev.destroy();
      await expect(live.predict(images.subarray(0, 3071))).rejects.toThrow(/Predictor\.predict: pixels holds 3071 bytes, not a whole number of \[3, 32, 32\] images/);
      live.dispose();
      saved.dispose();
      t.dispose();
      expect(() => Predictor.fromTrainer(t)).toThrow(/the trainer was disposed/);
    });
  });

  it('an autoencoder predicts images in the data range', async () => {
    const g = await gpu();
    await scoped(g, async () => {
      const cae = buildModel(CAE_SPEC, 'cae');
      const p = Predictor.fromWeights(g, cae, new Map(), { batch: 4 });
      const r = await p.predict(test.pixels.subarray(0, 5 * 3072));
      expect(r.images!.length).toBe(5 * 3072);
      expect(r.classes).toBeUndefined();
      p.dispose();
    });
  });

  it('a bare GPUDevice, a closed Kiln device or something else as gpu is refused by name, before any GPU work', async () => {
    const g = await gpu();
    const data = take(16);
    const bare = g.device as unknown as Gpu;
    expect(() => new Trainer(bare, classifier, data, { batch: 8, optimizer: adam }))
      .toThrow(/^Trainer: gpu must be what openDevice \/ openBrowserDevice \/ openNodeDevice returned \(got a bare GPUDevice/);
    expect(() => Predictor.fromWeights({} as Gpu, classifier, new Map()))
      .toThrow(/^Predictor\.fromWeights: gpu must be what openDevice/);
    await expect(Trainer.create(bare, classifier, data, { batch: 8, optimizer: adam })).rejects.toThrow(ConfigError);
    const other = await openNodeDevice();
    expect(other.closed).toBe(false);
    other.close();
    expect(other.closed).toBe(true);
    const before = other.liveBytes();
    expect(() => new Trainer(other, classifier, data, { batch: 8, optimizer: adam })).toThrow(/^Trainer: gpu was closed \(gpu\.close\(\)\)/);
    expect(() => Predictor.fromWeights(other, classifier, new Map())).toThrow(/^Predictor\.fromWeights: gpu was closed/);
    expect(other.liveBytes()).toBe(before); // refused before anything was allocated
    // The shared device is untouched and still trains.
    await scoped(g, async () => {
      const t = new Trainer(g, classifier, data, { batch: 8, optimizer: adam });
      const losses: number[] = [];
      for await (const { loss } of t.run(1)) losses.push(loss);
      expect(losses.length === 1 && Number.isFinite(losses[0])).toBe(true);
      t.dispose();
    });
  });
});
