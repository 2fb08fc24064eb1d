// `kiln train`: trains a model on CIFAR-10 (or the embedded sample) with everything on the GPU,
// streaming losses as they come back, and saves weights / checkpoints / a profile atomically.
import { ConfigError } from '../errors.ts';
import { loadCifar, loadEmbeddedSample } from '../data/load_node.ts';
import { openNodeDevice } from '../gpu/node.ts';
import type { OptimizerConfig } from '../graph/autograd.ts';
import { parseCheckpoint, parseWeights, serializeCheckpoint, serializeWeights } from '../io/weights.ts';
import type { DataRange } from '../ops/gather.ts';
import { Trainer, rangeWarning } from '../train/trainer.ts';
import { checkWritable, readInput, writeAtomic } from './files.ts';
import { loadModel, num, parse } from './options.ts';
import { Progress } from './progress.ts';

export const TRAIN_HELP = `train options:
  --model <cae|spec.json>   model (default cae, the seed's autoencoder)
  --data <path>             CIFAR-10 .bin batch, cifar-10-batches-bin/ folder or cifar-10-binary.tar.gz
                            (default: the embedded sample)
  --init <weights.safetensors>  start from these weights (PyTorch names)
  --resume <ckpt>           continue a checkpoint (--steps/--epochs count from there)
  --batch N (32)  --steps N | --epochs N (1 epoch)  --optimizer adam|sgd (adam)
  --lr X (1e-3)  --momentum X (sgd, 0)  --seed N (0)  --no-shuffle  --range 0,1|-1,1
  --save <path>  --checkpoint <path>  --profile <trace.json>  --json`;

export async function train(argv: string[]): Promise<number> {
  const a = parse(argv, {
    model: { type: 'string' }, data: { type: 'string' }, init: { type: 'string' }, resume: { type: 'string' },
    batch: { type: 'string' }, steps: { type: 'string' }, epochs: { type: 'string' }, optimizer: { type: 'string' },
    lr: { type: 'string' }, momentum: { type: 'string' }, seed: { type: 'string' }, 'no-shuffle': { type: 'boolean' },
    range: { type: 'string' }, save: { type: 'string' }, checkpoint: { type: 'string' }, profile: { type: 'string' },
    json: { type: 'boolean' },
  });
  // Everything that can be checked without the GPU is checked first.
  const model = loadModel(a.model);
  const batch = num(a.batch, '--batch', 32, { int: true, min: 1 });
  if (a.steps !== undefined && a.epochs !== undefined) throw new ConfigError('give --steps or --epochs, not both');
  const steps = a.steps !== undefined ? num(a.steps, '--steps', 0, { int: true, min: 1 }) : undefined;
  const epochs = num(a.epochs, '--epochs', 1, { int: true, min: 1 });
  const lr = num(a.lr, '--lr', 1e-3, { positive: true });
  const momentum = num(a.momentum, '--momentum', 0, { min: 0 });
  const seed = num(a.seed, '--seed', 0, { int: true, min: 0 });
  const kind = a.optimizer ?? 'adam';
  if (kind !== 'adam' && kind !== 'sgd') throw new ConfigError(`--optimizer must be adam or sgd, got ${JSON.stringify(kind)}`);
  if (a.momentum !== undefined && kind !== 'sgd') throw new ConfigError('--momentum applies to --optimizer sgd only');
  const optimizer: OptimizerConfig = kind === 'adam' ? { kind, options: { lr } } : { kind, options: { lr, momentum } };
  if (a.range !== undefined && a.range !== '0,1' && a.range !== '-1,1') throw new ConfigError(`--range must be 0,1 or -1,1, got ${JSON.stringify(a.range)}`);
  for (const [flag, p] of [['--save', a.save], ['--checkpoint', a.checkpoint], ['--profile', a.profile]] as const) if (p) checkWritable(p, flag);
  const init = a.init ? parseWeights(model, readInput(a.init, '--init'), a.init) : undefined;
  const resume = a.resume ? parseCheckpoint(model, readInput(a.resume, '--resume'), a.resume) : undefined;
  const data = a.data ? await loadCifar(a.data) : await loadEmbeddedSample();
  const range = a.range as DataRange | undefined;
  const warning = range && rangeWarning(model, range);
  if (warning) console.error(`kiln: warning: ${warning}`);

  const gpu = await openNodeDevice({ timestamps: !!a.profile });
  try {
    const losses: number[] = [];
    let reported = 0;
    const progress = a.json ? undefined : new Progress();
    const started = { at: 0, step: 0 };
    let total = 0;
    const trainer = new Trainer(gpu, model, data, {
      batch, optimizer, seed, shuffle: !a['no-shuffle'], range, profile: !!a.profile, init,
      onLoss: (s, l) => {
        losses[s] = l;
        // Losses arrive in chunks; emit them in step order.
        while (losses[reported + 1] !== undefined) {
          reported++;
          const ips = ((reported - started.step) * batch) / ((performance.now() - started.at) / 1000);
          if (a.json) console.log(JSON.stringify({ step: reported, loss: losses[reported], epoch: Math.floor((reported - 1) / trainer.stepsPerEpoch) }));
          else progress!.update(reported, total, losses[reported]!, ips);
        }
      },
    });
    if (resume) trainer.restore(resume);
    reported = trainer.step;
    started.step = trainer.step;
    total = trainer.step + (steps ?? epochs * trainer.stepsPerEpoch);
    if (!a.json) console.error(`kiln: ${model.paramCount} parameters, ${data.count} images from ${data.source}, adapter ${gpu.adapterName}`);
    started.at = performance.now();
    while (trainer.step < total) await trainer.trainStep(trainer.step + 1 === total);
    await trainer.drain();
    const seconds = (performance.now() - started.at) / 1000;
    progress?.done();
    const run = total - started.step;
    const last = losses.slice(-Math.min(10, run));
    const summary = {
      summary: true, steps: total, images_per_s: (run * batch) / seconds, seconds,
      final_loss: losses[total], mean_loss_last10: last.reduce((x, y) => x + y, 0) / last.length,
      adapter: gpu.adapterName, planned_peak_bytes: trainer.plan.peakBytes,
    };
    if (a.json) console.log(JSON.stringify(summary));
    else console.error(`kiln: ${run} steps in ${seconds.toFixed(1)} s, ${summary.images_per_s.toFixed(1)} images/s, final loss ${summary.final_loss?.toFixed(5)}`);

    if (a.save) writeAtomic(a.save, serializeWeights(model, await trainer.params(), { step: String(total) }));
    if (a.checkpoint) writeAtomic(a.checkpoint, serializeCheckpoint(model, await trainer.checkpoint()));
    if (a.profile) writeAtomic(a.profile, trainer.profiler!.trace({ adapter: gpu.adapterName, batch }));
    trainer.destroy();
    return 0;
  } finally {
    gpu.close();
  }
}
