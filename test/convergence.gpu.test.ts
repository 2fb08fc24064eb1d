// The seed's task end to end: the autoencoder trained on the embedded sample (Adam 1e-3, batch 32,
// shuffled) for 150 steps must cut its loss to at most 0.4× where it started. Slow on SwiftShader
// (~1 minute with the default kernels), so it is one test that proves the whole engine learns — run
// with the default kernels and with the ones the tuner picks.
import { describe, expect, it } from 'vitest';
import { loadEmbeddedSample } from '../src/data/load_node.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { Trainer } from '../src/train/trainer.ts';
import { gpu, scoped } from './gpu.ts';
import { memoryCache } from '../src/tune/cache.ts';

describe('training the seed autoencoder on the embedded sample', () => {
  for (const tuned of [false, true]) it(`150 Adam steps bring the mean loss of the last 10 to ≤ 0.4× that of the first 10 (${tuned ? 'tuned kernels' : 'default kernels'})`, async () => {
    const g = await gpu();
    const data = await loadEmbeddedSample();
    const losses: number[] = [];
    await scoped(g, async () => {
      const options = { batch: 32, optimizer: { kind: 'adam' as const, options: { lr: 1e-3 } }, seed: 0, shuffle: true,
        onLoss: (s: number, l: number) => { losses[s - 1] = l; } };
      const model = buildModel(CAE_SPEC, 'cae');
      const t = tuned ? await Trainer.create(g, model, data, { ...options, tune: 'cached', tuneCache: memoryCache(), tuneBudgetMs: 60_000, upgrade: 'eager' })
        : new Trainer(g, model, data, options);
      if (tuned) console.log(`tuned: ${t.tuning.map((e) => `${e.labels[0]} ${e.chosen}`).join(', ')}`);
      for (let i = 0; i < 150; i++) await t.step({ flush: i === 149 });
      await t.drain();
      t.destroy();
    });
    expect(losses.filter(Number.isFinite)).toHaveLength(150);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(losses.slice(0, 10)), last = mean(losses.slice(-10));
    console.log(`loss: first 10 ${first.toFixed(4)}, last 10 ${last.toFixed(4)} (${(last / first).toFixed(3)}×)`);
    expect(last).toBeLessThanOrEqual(0.4 * first);
  }, 600_000);
});
