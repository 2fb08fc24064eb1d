// One training run inside the worker: the trainer, a loop that keeps a few steps queued on the GPU
// without waiting for it, live and epoch-end evaluation, the best epoch's weights, early stopping,
// checkpoints (epoch ends, pauses, and a held copy for device loss), and batched events for the page.
import { ConfigError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { buildModel, type Model } from '../nn/spec.ts';
import { PRESETS } from '../nn/presets.ts';
import { parseCheckpoint, parseWeights, serializeCheckpoint, type Checkpoint } from '../io/weights.ts';
import { dataset, type Dataset } from '../train/dataset.ts';
import { Trainer, defaultRange } from '../train/trainer.ts';
import type { OptimizerConfig } from '../graph/autograd.ts';
import { Predictor } from '../train/predict.ts';
import { HeldOut } from './evaluation.ts';
import type { DataBytes, EvalReport, Events, ModelChoice, PredictResult, RunInfo, StartOptions } from './protocol.ts';

export type Emit = <K extends keyof Events>(event: K, data: Events[K]) => void;

const SNAPSHOT_STEPS = 100;
const SNAPSHOT_MS = 10_000;
/** Events to the page at most this often: each one is a task on the page's thread. */
const EVENT_MS = 500;
/** Losses are read back at least this often, even mid-chunk (the worker's cost, not the page's). */
const FLUSH_MS = 400;

/** Yields to the worker's event loop (a task, so messages are handled) without setTimeout's clamp. */
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
const nextTask = () => new Promise<void>((resolve) => { waiting.push(resolve); channel.port2.postMessage(0); });

export function modelOf(choice: ModelChoice, classes?: number): Model {
  if ('spec' in choice) return buildModel(choice.spec, choice.name ?? 'model spec');
  const make = PRESETS[choice.preset];
  if (!make) throw new ConfigError(`unknown preset ${JSON.stringify(choice.preset)} (presets: ${Object.keys(PRESETS).join(', ')})`);
  return buildModel(make({ classes: choice.classes ?? classes }), choice.name ?? choice.preset);
}

function toDataset(d: DataBytes, model: Model): Dataset {
  return dataset(d.pixels, { shape: model.input, labels: model.target === 'label' ? d.labels : undefined, source: d.source, classNames: d.classNames });
}

export class Run {
  running = false;
  /** Steps the GPU has finished. */
  completed = 0;
  /** The last consistent state, for rebuilding after a lost device. */
  held?: Checkpoint;
  best?: { epoch: number; step: number; loss: number; accuracy?: number; weights: Uint8Array };
  private gen = 0;
  private loopDone: Promise<void> = Promise.resolve();
  private wake?: () => void;
  private holding?: Promise<void>;
  private looping = false;
  private parked?: () => void;
  private lastEvalEnd = 0;
  private evalCost = 0;
  private sinceBest = 0;
  private rate: [number, number][] = [];
  private pending: { steps: number[]; losses: number[] } = { steps: [], losses: [] };
  private lastEvent = 0;
  private lastProgress = '';
  private lastProfile = 0;
  private lastSnapshot = { step: 0, time: 0 };
  private lastCheckpoint = -Infinity;
  private readonly timer: ReturnType<typeof setInterval>;
  private predictor?: Predictor;
  private predicting: Promise<unknown> = Promise.resolve();

  private constructor(readonly gpu: Gpu, readonly model: Model, readonly trainer: Trainer, readonly options: StartOptions,
    readonly heldOut: HeldOut | undefined, private readonly emit: Emit) {
    this.completed = trainer.steps;
    this.lastSnapshot = { step: trainer.steps, time: performance.now() };
    this.lastEvalEnd = performance.now(); // the first live evaluation after evalEveryMs of training
    this.timer = setInterval(() => this.flushEvents(true), EVENT_MS);
  }

  /** Builds a run (tuning kernels first); `resume` continues a checkpoint with its own batch, optimizer, seed and order. */
  static async create(gpu: Gpu, o: StartOptions, emit: Emit, resume?: Checkpoint): Promise<Run> {
    const classes = o.train.classNames?.length ?? (o.train.labels ? o.train.labels.reduce((a, b) => Math.max(a, b), 0) + 1 : undefined);
    const model = modelOf(o.model, classes);
    const train = toDataset(o.train, model);
    const test = o.test ? toDataset(o.test, model) : undefined;
    const c = resume ?? (o.resume ? parseCheckpoint(model, o.resume, o.resumeSource ?? 'checkpoint') : undefined);
    const optimizer: OptimizerConfig = c ? JSON.parse(c.optimizer) as OptimizerConfig
      : structuredClone(o.optimizer ?? { kind: 'adam', options: { lr: o.lr ?? 1e-3 } });
    let run: Run | undefined;
    const trainer = await Trainer.create(gpu, model, train, {
      batch: c?.batch ?? o.batch, optimizer, seed: c?.seed ?? o.seed ?? 0, shuffle: c?.shuffle ?? o.shuffle ?? true,
      range: o.range ?? defaultRange(model), profile: (o.profile ?? false) && gpu.hasTimestamps, profileEvery: 10,
      init: o.init && !c ? parseWeights(model, o.init, 'weights') : undefined, onNonFinite: o.onNonFinite,
      tune: o.tune, tuneBudgetMs: o.tuneBudgetMs,
      onLoss: (step, loss) => run?.delivered(step, loss),
    });
    try {
      if (c) await trainer.restore(c, { source: o.resumeSource });
      // The state a lost device falls back to until the first snapshot: the restored one, or step 0.
      const held = c ?? await trainer.checkpointState();
      const heldOut = test ? new HeldOut(trainer, test, o.show ?? 0) : undefined;
      run = new Run(gpu, model, trainer, o, heldOut, emit);
      run.held = held;
      return run;
    } catch (e) {
      trainer.dispose();
      throw e;
    }
  }

  get info(): RunInfo {
    const t = this.trainer, m = this.model;
    return {
      model: { name: this.options.model.name ?? ('preset' in this.options.model ? this.options.model.preset : 'model'),
        paramCount: m.paramCount, target: m.target, classes: m.classes, outputActivation: m.outputActivation, input: [...m.input],
        layers: m.layers.map((l) => l.name) },
      batch: t.options.batch, optimizer: structuredClone(t.options.optimizer), range: t.range, seed: t.options.seed,
      stepsPerEpoch: t.stepsPerEpoch, step: t.steps, trainCount: t.data.count, testCount: this.heldOut?.data.count ?? 0,
      classNames: t.data.classNames,
    };
  }

  get lr(): number {
    return this.trainer.learningRate;
  }

  get imagesPerSecond(): number | undefined {
    const r = this.rate;
    if (r.length < 2) return undefined;
    const [t0, s0] = r[0]!, [t1, s1] = r[r.length - 1]!;
    return t1 > t0 ? ((s1 - s0) * this.trainer.options.batch * 1000) / (t1 - t0) : undefined;
  }

  /** How many steps may be queued: about a quarter second of work, at least 2. */
  private get ahead(): number {
    const ips = this.imagesPerSecond;
    const perSecond = ips ? ips / this.trainer.options.batch : 0;
    return Math.max(2, Math.min(24, Math.ceil(perSecond / 4)));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const gen = ++this.gen;
    this.rate = [];
    this.loopDone = this.loop(gen);
  }

  /** Stops submitting and waits for the GPU to finish what it has. */
  async pause(): Promise<void> {
    this.running = false;
    this.gen++;
    this.wake?.();
    await this.loopDone;
    await this.trainer.drain().catch(() => {});
    this.completed = this.trainer.steps;
    this.flushEvents(false);
  }

  /** Runs `fn` once the loop is parked between steps, so its reads see one consistent state. */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    while (this.holding) await this.holding;
    let release!: () => void;
    this.holding = new Promise<void>((r) => { release = r; });
    try {
      if (this.looping) await new Promise<void>((r) => { this.parked = r; this.wake?.(); });
      return await fn();
    } finally {
      this.holding = undefined;
      release();
    }
  }

  setLearningRate(lr: number): boolean {
    this.trainer.setLearningRate(lr);
    return true;
  }

  /** A consistent checkpoint of the submitted steps (weights, optimizer state, data order). */
  checkpoint(): Promise<Uint8Array> {
    return this.hold(() => this.trainer.checkpoint());
  }

  weights(): Promise<Uint8Array> {
    return this.hold(() => this.trainer.weights());
  }

  /** Predicts whole images (CHW bytes) with the current weights, in evaluation mode. */
  async predict(pixels: Uint8Array): Promise<PredictResult> {
    this.predictor ??= Predictor.fromTrainer(this.trainer, { batch: 8, choose: this.trainer.options.choose });
    const pending = this.predictor.predict(pixels);
    this.predicting = pending.catch(() => {});
    const p = await pending;
    return { count: p.count, classes: p.classes ? Uint8Array.from(p.classes) : undefined, probabilities: p.probabilities, images: p.images };
  }

  /** Evaluates the held-out data on the current weights, with training held still (so on one step's weights). */
  evaluate(): Promise<EvalReport> {
    const h = this.heldOut;
    if (!h) return Promise.reject(new ConfigError('this run has no held-out data to evaluate on'));
    return this.hold(() => h.run(this.trainer.epoch, false));
  }

  private async loop(gen: number): Promise<void> {
    const t = this.trainer;
    const live = () => this.running && gen === this.gen;
    let lastYield = performance.now(), lastFlush = -Infinity;
    this.looping = true;
    try {
      while (live()) {
        if (this.holding) {
          this.parked?.();
          this.parked = undefined;
          await this.holding;
          continue;
        }
        if (t.steps - this.completed >= this.ahead) {
          await new Promise<void>((resolve) => { this.wake = resolve; });
          continue;
        }
        const flush = performance.now() - lastFlush > FLUSH_MS;
        if (flush) lastFlush = performance.now();
        await t.step({ flush });
        const s = t.steps;
        this.gpu.device.queue.onSubmittedWorkDone().then(() => this.finished(s), () => {});
        if (t.failure) {
          this.stopWith('non-finite', `Training stopped: ${t.failure.message}.`);
          break;
        }
        if (s % t.stepsPerEpoch === 0) await this.epochEnd(s / t.stepsPerEpoch, gen);
        else await this.maybeLive(s);
        if (performance.now() - lastYield > 8) {
          await nextTask(); // let pause, learning-rate and read requests in
          lastYield = performance.now();
        }
      }
    } catch (e) {
      if (gen === this.gen && this.running) {
        this.running = false;
        this.emit('state', { state: 'failed', message: `Training stopped: ${e instanceof Error ? e.message : String(e)}` });
      }
    } finally {
      this.looping = false;
      this.parked?.();
      this.parked = undefined;
    }
  }

  private stopWith(why: Events['stopped']['why'], message: string): void {
    this.running = false;
    this.gen++;
    this.emit('stopped', { why, message, bestEpoch: this.best?.epoch });
    this.emit('state', { state: 'stopped', message });
    this.sinceBest = 0; // resuming after an early stop gives the run its patience again
  }

  /**
   * A live evaluation when due (training holds still for it, so it sees one step's weights); spaced
   * so that it takes at most about a quarter of the time.
   */
  private async maybeLive(step: number): Promise<void> {
    const now = performance.now();
    if (this.heldOut && now - this.lastEvalEnd > Math.max(this.options.evalEveryMs ?? 3000, 3 * this.evalCost)) {
      this.lastEvalEnd = now;
      void this.timedEval(false).then((r) => this.emit('eval', r), (e) => this.report(e));
    }
    if (step - this.lastSnapshot.step >= SNAPSHOT_STEPS || now - this.lastSnapshot.time > SNAPSHOT_MS) await this.snapshot();
  }

  /** Inside the loop (epoch ends) training is already still; from outside, `evaluate` holds it. */
  private async timedEval(epochEnd: boolean): Promise<EvalReport> {
    const r = epochEnd ? await this.heldOut!.run(this.trainer.epoch, true) : await this.evaluate();
    this.evalCost = r.ms ?? 0;
    this.lastEvalEnd = performance.now();
    return r;
  }

  /** Keeps a consistent checkpoint in memory, to continue from if the device is lost. */
  async snapshot(): Promise<void> {
    this.lastSnapshot = { step: this.trainer.steps, time: performance.now() };
    this.held = await this.trainer.checkpointState();
    this.finished(this.held.step); // its reads came after those steps on the queue, so they are done
  }

  /**
   * At the end of epoch `epoch` nothing more is submitted until the held-out data is evaluated on
   * exactly these weights, the best epoch's weights are copied, and a checkpoint is taken.
   */
  private async epochEnd(epoch: number, gen: number): Promise<void> {
    const t = this.trainer;
    let report: EvalReport | undefined;
    if (this.heldOut) {
      report = await this.timedEval(true);
      if (gen !== this.gen) return;
      this.emit('eval', report);
      if (!this.best || report.loss < this.best.loss) {
        this.best = { epoch, step: t.steps, loss: report.loss, accuracy: report.accuracy, weights: await t.weights({ epoch: String(epoch) }) };
        this.sinceBest = 0;
        this.emit('best', { epoch, step: t.steps, loss: report.loss, accuracy: report.accuracy });
      } else this.sinceBest++;
    }
    this.emit('epoch', { epoch, step: t.steps, loss: report?.loss, accuracy: report?.accuracy });
    const now = performance.now();
    const save = this.options.autoCheckpoint && now - this.lastCheckpoint >= (this.options.checkpointMinMs ?? 0);
    if (save || t.steps - this.lastSnapshot.step >= SNAPSHOT_STEPS || now - this.lastSnapshot.time > SNAPSHOT_MS) {
      await this.snapshot();
      if (save) {
        this.lastCheckpoint = now;
        this.emit('checkpoint', { bytes: serializeCheckpoint(this.model, this.held!), step: t.steps, epoch, why: 'epoch' });
      }
    }
    const patience = this.options.earlyStop?.patience;
    if (patience !== undefined && this.sinceBest >= patience) {
      this.stopWith('early-stop', `Stopped early: the held-out loss has not improved for ${patience} epochs since epoch ${this.best?.epoch}.`);
    } else if (this.options.maxEpochs !== undefined && epoch >= this.options.maxEpochs) {
      this.stopWith('max-epochs', `Finished ${epoch} epochs.`);
    }
  }

  private report(e: unknown): void {
    if (this.trainer.isDisposed) return;
    this.emit('error', { message: e instanceof Error ? e.message : String(e) });
  }

  private delivered(step: number, loss: number): void {
    this.pending.steps.push(step);
    this.pending.losses.push(loss);
    this.finished(Math.min(step, this.trainer.steps)); // a loss read back means its step is done
  }

  /** The GPU finished `step`: count it and let the loop queue more. */
  private finished(step: number): void {
    if (step > this.completed) {
      this.completed = step;
      this.sampleRate();
    }
    this.wake?.();
  }

  private sampleRate(): void {
    const now = performance.now();
    this.rate.push([now, this.completed]);
    // A 10 s window: at ~1 step/s (SwiftShader) a shorter one jumps by a step's worth.
    while (this.rate.length > 2 && now - this.rate[0]![0] > 10_000) this.rate.shift();
  }

  /** Sends the losses read back since last time, the progress, and (once a second) the per-layer times. */
  flushEvents(onTimer: boolean): void {
    const now = performance.now();
    if (onTimer && now - this.lastEvent < EVENT_MS / 2) return;
    this.lastEvent = now;
    const t = this.trainer;
    if (t.isDisposed) return;
    if (this.pending.steps.length > 0) {
      this.emit('losses', { steps: Uint32Array.from(this.pending.steps), losses: Float32Array.from(this.pending.losses) });
      this.pending = { steps: [], losses: [] };
    }
    const progress = { step: this.completed, epoch: this.completed / t.stepsPerEpoch, stepsPerEpoch: t.stepsPerEpoch,
      imagesPerSecond: this.running ? this.imagesPerSecond : undefined, lr: this.lr };
    const key = JSON.stringify(progress);
    if (key !== this.lastProgress) { // a paused run sends nothing
      this.lastProgress = key;
      this.emit('progress', progress);
    }
    const p = t.profiler;
    if (p && p.steps > 0 && now - this.lastProfile > 2000) {
      this.lastProfile = now;
      this.emit('profile', { totals: [...p.totals], steps: p.steps });
    }
  }

  /** Stops and frees the run's GPU buffers (waiting for reads in flight first, unless the device is gone). */
  async dispose(deviceAlive = true): Promise<void> {
    clearInterval(this.timer);
    if (!deviceAlive) {
      // The buffers went with the device. Destroying them now would turn reads still pending into
      // "unmapped before mapping was resolved" rejections that nothing awaits.
      this.running = false;
      this.gen++;
      this.wake?.();
      return;
    }
    await this.pause();
    await this.heldOut?.dispose();
    await this.predicting; // predictions in flight still read their buffers
    this.predictor?.dispose();
    this.trainer.dispose();
  }
}
