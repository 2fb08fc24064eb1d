// `kiln train`: trains a model with everything on the GPU, streaming losses as they come back,
// evaluating at epoch ends, and writing weights, checkpoints and profiles so that nothing is ever
// lost: destinations are proven writable first, checkpoints are written every epoch (and at least
// every 5 minutes), Ctrl-C saves one, a GPU error or a non-finite step is never reported as success,
// and a final write that fails goes to a rescue file.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, WriteError } from '../errors.ts';
import { openNodeDevice } from '../gpu/node.ts';
import { parseCheckpoint, parseInit, serializeWeights, type Checkpoint } from '../io/weights.ts';
import type { Model } from '../nn/spec.ts';
import { Trainer, rangeWarning } from '../train/trainer.ts';
import { Evaluator, type EvalResult } from '../train/evaluate.ts';
import { classCount } from '../train/dataset.ts';
import { prepareDestination, readInput, writeAtomic, writeDestination, type Destination } from './files.ts';
import { loadData, type LoadedData } from './data.ts';
import { isPreset, loadModel } from './options.ts';
import { readTrainArgs, type TrainArgs } from './train_args.ts';
import { Interrupt } from './interrupt.ts';
import { Progress } from './progress.ts';
import { chooser } from './tune.ts';

export { TRAIN_HELP } from './train_args.ts';

/** At least this often (wall time) a --checkpoint is rewritten, whatever the epoch length. */
const CHECKPOINT_MS = 5 * 60_000;

interface Setup {
  a: TrainArgs;
  model: Model;
  data: LoadedData;
  evalData?: LoadedData;
  dest: Partial<Record<'save' | 'saveBest' | 'checkpoint' | 'profile', Destination>>;
  init?: Map<string, Float32Array>;
  resume?: Checkpoint;
}

const say = (msg: string) => console.error(`kiln: ${msg}`);

/** Everything that can be checked without the GPU, in the order a user would fix it. */
async function prepare(a: TrainArgs): Promise<Setup> {
  let model = loadModel(a.model);
  const data = await loadData(a.data, model.input, 'train', '--data');
  // A classifier preset takes its class count from the data (6 photos in the sample, CIFAR's 10).
  const classes = classCount(data);
  if (isPreset(a.model) && model.target === 'label' && classes !== undefined && classes !== model.classes) model = loadModel(a.model, classes);
  if (data.skipped) say(`${data.source}: skipped ${data.skipped} file${data.skipped > 1 ? 's' : ''} that could not be decoded`);
  const evalData = a.eval !== undefined || a.data === undefined
    ? await loadData(a.eval ?? a.data, model.input, 'test', '--eval') : undefined;
  if ((a.earlyStop !== undefined || a.saveBest) && !evalData) {
    throw new ConfigError(`${a.earlyStop !== undefined ? '--early-stop' : '--save-best'} needs held-out data: give --eval <data>`);
  }
  const dest: Setup['dest'] = {};
  if (a.save) dest.save = prepareDestination(a.save, '--save');
  if (a.saveBest) dest.saveBest = prepareDestination(a.saveBest, '--save-best');
  if (a.checkpoint) dest.checkpoint = prepareDestination(a.checkpoint, '--checkpoint');
  if (a.profile) dest.profile = prepareDestination(a.profile, '--profile');
  let init: Map<string, Float32Array> | undefined;
  if (a.init) {
    const r = parseInit(model, readInput(a.init, '--init'), a.init);
    const list = (xs: string[]) => (xs.length > 4 ? `${xs.slice(0, 4).join(', ')}, …` : xs.join(', '));
    say(`--init ${a.init}: loaded ${r.loaded.length} tensor${r.loaded.length === 1 ? '' : 's'} (${list(r.loaded)})` +
      (r.fresh.length ? `; initialised ${r.fresh.length} fresh (${list(r.fresh)})` : '') +
      (r.ignored.length ? `; ignored ${r.ignored.length} not in the model (${list(r.ignored)})` : ''));
    init = r.values;
  }
  const resume = a.resume ? parseCheckpoint(model, readInput(a.resume, '--resume'), a.resume) : undefined;
  if (resume && resume.optimizer !== JSON.stringify(a.optimizer)) say(`--resume: continuing with ${JSON.stringify(a.optimizer)} (the checkpoint was made with ${resume.optimizer})`);
  const warning = a.range && rangeWarning(model, a.range);
  if (warning) say(`warning: ${warning}`);
  return { a, model, data, evalData, dest, init, resume };
}

export async function train(argv: string[]): Promise<number> {
  const s = await prepare(readTrainArgs(argv));
  const gpu = await openNodeDevice({ timestamps: true }); // stamps time the tuner's candidates, and --profile
  try {
    return await run(gpu, s);
  } finally {
    gpu.close();
  }
}

async function run(gpu: Awaited<ReturnType<typeof openNodeDevice>>, s: Setup): Promise<number> {
  const { a, model, data } = s;
  const json = a.json;
  const progress = json ? undefined : new Progress();
  const losses: number[] = [];
  let reported = 0, total = 0;
  const started = { at: 0, step: 0 };
  const choose = await chooser(gpu, model, a, data.count, s.evalData?.count);
  const trainer = gpu.errors.watch(() => new Trainer(gpu, model, data, {
    batch: a.batch, optimizer: a.optimizer, seed: a.seed, shuffle: a.shuffle, range: a.range, profile: !!a.profile,
    init: s.init, onNonFinite: a.onNonFinite, choose,
    onLoss: (step, loss, status) => {
      if (gpu.errors.failed || (trainer.failure && step >= trainer.failure.step)) return; // never report what a failed step computed
      losses[step] = loss;
      // Losses arrive in chunks; emit them in step order.
      while (losses[reported + 1] !== undefined) {
        reported++;
        const epoch = Math.floor((reported - 1) / trainer.stepsPerEpoch);
        const l = losses[reported]!; // a skipped step's loss may be NaN or ±inf, which JSON cannot carry
        if (json) console.log(JSON.stringify({ step: reported, ...(Number.isFinite(l) ? { loss: l } : {}), epoch, ...(status.code ? { skipped: true } : {}) }));
        else progress!.update(reported, total, losses[reported]!, ((reported - started.step) * a.batch) / ((performance.now() - started.at) / 1000));
      }
    },
  }));
  await gpu.errors.settle('building the training plan', gpu.wait);
  const evaluator = s.evalData ? gpu.errors.watch(() => new Evaluator(trainer, s.evalData!, a.batch, choose)) : undefined;
  if (s.resume) await trainer.restore(s.resume, { allowNewData: a.allowNewData });
  reported = started.step = trainer.steps;
  total = trainer.steps + (a.steps ?? a.epochs * trainer.stepsPerEpoch);
  if (!json) {
    say(`${model.paramCount.toLocaleString('en-US')} parameters (${model.trainableCount.toLocaleString('en-US')} trainable), ` +
      `${data.count.toLocaleString('en-US')} records from ${data.source}${s.evalData ? `, evaluating on ${s.evalData.count} from ${s.evalData.source}` : ''}, adapter ${gpu.adapterName}`);
  }

  const interrupt = new Interrupt((sig) => say(`${sig}: finishing the current step, then saving a checkpoint`)).install();
  const evals: (EvalResult & { epoch: number })[] = [];
  let best: { epoch: number; loss: number } | undefined, sinceBest = 0, stoppedEarly = false;
  let lastCheckpoint = performance.now();
  const saveCheckpoint = async () => {
    if (!s.dest.checkpoint) return;
    await writeDestination(s.dest.checkpoint, await trainer.checkpoint());
    lastCheckpoint = performance.now();
  };

  try {
    started.at = performance.now();
    while (trainer.steps < total && !interrupt.requested && !trainer.failure && !stoppedEarly) {
      const next = trainer.steps + 1;
      const epochEnd = next % trainer.stepsPerEpoch === 0;
      const checkpointDue = s.dest.checkpoint !== undefined && next < total &&
        ((a.checkpointEvery !== undefined ? next % a.checkpointEvery === 0 : epochEnd) || performance.now() - lastCheckpoint > CHECKPOINT_MS);
      // The first step is read back at once, so a user (or a pipe) sees training has started.
      await trainer.step({ flush: next === total || next === started.step + 1 || epochEnd || checkpointDue });
      gpu.errors.throwIfFailed(`step ${next}`);
      // The evaluation's pipelines compile once the first loss is out, while the GPU works through
      // the steps already queued (built before step 1, they delayed its loss by a second or more).
      if (evaluator && !evaluator.prepared && reported > started.step) evaluator.prepare();
      if (epochEnd && evaluator) {
        await trainer.drain();
        if (trainer.failure) break;
        const r = { ...await evaluator.run(), epoch: next / trainer.stepsPerEpoch - 1 };
        gpu.errors.throwIfFailed(`evaluation after step ${next}`);
        evals.push(r);
        const improved = best === undefined || r.loss < best.loss;
        if (improved) {
          best = { epoch: r.epoch, loss: r.loss };
          sinceBest = 0;
          if (s.dest.saveBest) writeDestination(s.dest.saveBest, serializeWeights(model, await trainer.params(), { step: String(next), epoch: String(r.epoch) }));
        } else sinceBest++;
        if (json) console.log(JSON.stringify({ epoch: r.epoch, eval_loss: r.loss, ...(r.accuracy !== undefined ? { accuracy: r.accuracy } : {}), ...(improved ? { best: true } : {}) }));
        else say(`epoch ${r.epoch}: eval loss ${r.loss.toFixed(5)}${r.accuracy !== undefined ? `, accuracy ${(100 * r.accuracy).toFixed(1)} %` : ''}${improved ? ' (best)' : ''}`);
        if (a.earlyStop !== undefined && sinceBest >= a.earlyStop) {
          stoppedEarly = true;
          say(`early stop after epoch ${r.epoch}: no improvement in ${a.earlyStop} evaluation${a.earlyStop > 1 ? 's' : ''} (best eval loss ${best!.loss.toFixed(5)} at epoch ${best!.epoch})`);
        }
      }
      if (checkpointDue && !trainer.failure) {
        await trainer.drain();
        if (!trainer.failure) await saveCheckpoint();
      }
    }
    await trainer.drain();
    await gpu.errors.settle('training', gpu.wait);
  } finally {
    interrupt.uninstall();
  }
  progress?.done();

  if (trainer.failure) {
    // The GPU kept the last good state; a checkpoint of it lets the user resume with other settings.
    const f = trainer.failure;
    if (s.dest.checkpoint) await saveCheckpoint();
    throw new ConfigError(`non-finite values at ${f.message}. Stopped` +
      (s.dest.checkpoint ? `; ${s.a.checkpoint} holds the last good state (step ${trainer.appliedSteps}, before the failure)` : '') +
      '. Try a lower --lr, or --on-nonfinite skip');
  }
  if (interrupt.requested) {
    const path = s.dest.checkpoint ? s.a.checkpoint : join(tmpdir(), `kiln-interrupted-${process.pid}-${Date.now()}.ckpt`);
    if (s.dest.checkpoint) await saveCheckpoint();
    else writeAtomic(path!, await trainer.checkpoint(), '--checkpoint');
    say(`interrupted at step ${trainer.steps}: checkpoint written to ${path}; continue with --resume ${path}`);
    trainer.destroy();
    return interrupt.exitCode;
  }

  const seconds = (performance.now() - started.at) / 1000;
  const run = trainer.steps - started.step;
  // Skipped steps' losses may be non-finite: the summary is over the steps that were applied.
  const finite = losses.slice(started.step + 1).filter((x): x is number => x !== undefined && Number.isFinite(x));
  const done = finite.slice(-10);
  const summary = {
    summary: true, steps: trainer.steps, images_per_s: (run * a.batch) / seconds, seconds,
    final_loss: finite.at(-1), mean_loss_last10: done.length ? done.reduce((x, y) => x + y, 0) / done.length : undefined,
    ...(evals.length ? { eval_loss: evals.at(-1)!.loss, accuracy: evals.at(-1)!.accuracy, best_epoch: best?.epoch } : {}),
    ...(trainer.skipped ? { skipped_steps: trainer.skipped } : {}),
    ...(stoppedEarly ? { early_stop: true } : {}),
    adapter: gpu.adapterName, planned_peak_bytes: trainer.plan.peakBytes,
  };
  if (json) console.log(JSON.stringify(summary));
  else say(`${run} steps in ${seconds.toFixed(1)} s, ${summary.images_per_s.toFixed(1)} images/s, final loss ${summary.final_loss?.toFixed(5)}` +
    (trainer.skipped ? `, ${trainer.skipped} non-finite steps skipped` : ''));

  // Every output is attempted even if an earlier one fails; each failure is rescued on its own.
  const failed: WriteError[] = [];
  const write = async (d: Destination | undefined, make: () => Promise<Uint8Array | string>) => {
    if (!d) return;
    try {
      writeDestination(d, await make());
    } catch (e) {
      if (!(e instanceof WriteError)) throw e;
      failed.push(e);
    }
  };
  await write(s.dest.save, async () => serializeWeights(model, await trainer.params(), { step: String(trainer.steps) }));
  await write(s.dest.checkpoint, async () => await trainer.checkpoint());
  await write(s.dest.profile, async () => trainer.profiler!.trace({ adapter: gpu.adapterName, batch: a.batch }));
  await gpu.errors.settle('saving', gpu.wait);
  evaluator?.destroy();
  trainer.destroy();
  for (const e of failed.slice(0, -1)) say(e.message);
  if (failed.length > 0) throw failed.at(-1)!;
  return 0;
}

