// `kiln train`'s flags, read and checked before anything is loaded: numbers with their bounds,
// choices, and combinations that cannot work — each refused in one line naming the flag.
import { ConfigError } from '../errors.ts';
import type { OptimizerConfig } from '../graph/autograd.ts';
import { DATA_RANGES, type DataRange } from '../data/range.ts';
import { MAX_SEED, num, oneOf, parse } from './options.ts';

export const TRAIN_HELP = `train options:
  --model <cae|classifier|spec.json>  model (default cae, the seed's autoencoder)
  --data <path>             CIFAR-10 .bin batch, cifar-10-batches-bin/ folder, cifar-10-binary.tar.gz, or an
                            image folder (one subfolder of PNG/JPEG files per class); default: the embedded sample
  --eval <path>             held-out data, evaluated at every epoch end (default with the sample: its test part;
                            a .tar.gz or CIFAR folder gives its test batch)
  --init <weights.safetensors>  start from these tensors; missing ones are initialised fresh (reported)
  --resume <ckpt>           continue a checkpoint (--steps/--epochs count from there)  --allow-new-data
  --batch N (32)  --steps N | --epochs N (1 epoch)  --optimizer adam|adamw|sgd (adam)  --lr X (1e-3)
  --momentum X (sgd, 0)  --weight-decay X (0; adamw 0.01)  --seed N (0 … 2^32−1)  --no-shuffle  --range 0,1|-1,1
  --on-nonfinite stop|skip  (stop: a NaN/inf loss, gradient or weight ends the run, keeping the last good state;
                             skip: that step is dropped and training goes on)
  --early-stop N            stop after N evaluations without a lower eval loss  --save-best <path>
  --save <path>  --checkpoint <path>  --checkpoint-every N (steps; default every epoch, and every 5 minutes)
  --tune full|cached|off (cached)  --profile <trace.json>  --json`;

export interface TrainArgs {
  model?: string;
  data?: string;
  eval?: string;
  init?: string;
  resume?: string;
  allowNewData: boolean;
  batch: number;
  steps?: number;
  epochs: number;
  optimizer: OptimizerConfig;
  seed: number;
  shuffle: boolean;
  range?: DataRange;
  onNonFinite: 'stop' | 'skip';
  earlyStop?: number;
  save?: string;
  saveBest?: string;
  checkpoint?: string;
  checkpointEvery?: number;
  tune: 'full' | 'cached' | 'off';
  profile?: string;
  json: boolean;
}

export function readTrainArgs(argv: string[]): TrainArgs {
  const a = parse(argv, {
    model: { type: 'string' }, data: { type: 'string' }, eval: { type: 'string' }, init: { type: 'string' }, resume: { type: 'string' },
    'allow-new-data': { type: 'boolean' }, batch: { type: 'string' }, steps: { type: 'string' }, epochs: { type: 'string' },
    optimizer: { type: 'string' }, lr: { type: 'string' }, momentum: { type: 'string' }, 'weight-decay': { type: 'string' },
    seed: { type: 'string' }, 'no-shuffle': { type: 'boolean' }, range: { type: 'string' }, 'on-nonfinite': { type: 'string' },
    'early-stop': { type: 'string' }, save: { type: 'string' }, 'save-best': { type: 'string' }, checkpoint: { type: 'string' },
    'checkpoint-every': { type: 'string' }, tune: { type: 'string' }, profile: { type: 'string' }, json: { type: 'boolean' },
  });
  if (a.steps !== undefined && a.epochs !== undefined) throw new ConfigError('give --steps or --epochs, not both');
  if (a.init !== undefined && a.resume !== undefined) {
    throw new ConfigError('--init and --resume together: a checkpoint already holds its weights (use one of them)');
  }
  const kind = oneOf(a.optimizer, '--optimizer', ['adam', 'adamw', 'sgd'] as const, 'adam');
  const lr = num(a.lr, '--lr', 1e-3, { positive: true });
  if (a.momentum !== undefined && kind !== 'sgd') throw new ConfigError('--momentum applies to --optimizer sgd only');
  const momentum = num(a.momentum, '--momentum', 0, { min: 0 });
  const weightDecay = num(a['weight-decay'], '--weight-decay', kind === 'adamw' ? 0.01 : 0, { min: 0 });
  const optimizer: OptimizerConfig = kind === 'sgd'
    ? { kind, options: { lr, momentum, ...(weightDecay ? { weightDecay } : {}) } }
    : { kind, options: { lr, ...(weightDecay ? { weightDecay } : {}) } };
  if (a.resume === undefined && a['allow-new-data']) throw new ConfigError('--allow-new-data applies to --resume only');
  return {
    model: a.model, data: a.data, eval: a.eval, init: a.init, resume: a.resume, allowNewData: !!a['allow-new-data'],
    batch: num(a.batch, '--batch', 32, { int: true, min: 1 }),
    steps: a.steps !== undefined ? num(a.steps, '--steps', 0, { int: true, min: 1 }) : undefined,
    epochs: num(a.epochs, '--epochs', 1, { int: true, min: 1 }),
    optimizer,
    seed: num(a.seed, '--seed', 0, { int: true, min: 0, max: MAX_SEED }),
    shuffle: !a['no-shuffle'],
    range: a.range === undefined ? undefined : oneOf(a.range, '--range', DATA_RANGES, '0,1'),
    onNonFinite: oneOf(a['on-nonfinite'], '--on-nonfinite', ['stop', 'skip'] as const, 'stop'),
    earlyStop: a['early-stop'] !== undefined ? num(a['early-stop'], '--early-stop', 0, { int: true, min: 1 }) : undefined,
    save: a.save, saveBest: a['save-best'], checkpoint: a.checkpoint,
    checkpointEvery: a['checkpoint-every'] !== undefined ? num(a['checkpoint-every'], '--checkpoint-every', 0, { int: true, min: 1 }) : undefined,
    tune: oneOf(a.tune, '--tune', ['full', 'cached', 'off'] as const, 'cached'),
    profile: a.profile, json: !!a.json,
  };
}
