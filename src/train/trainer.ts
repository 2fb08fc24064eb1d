// The training loop's engine room: plans the step once, uploads the dataset once, then each step
// writes a few scalars, encodes one command buffer from the prebuilt dispatches, and submits it.
// Nothing is read back inside the loop; losses and timings arrive asynchronously. The first step
// builds the dispatches as it goes and submits each node's work before compiling the next node's
// kernels, so the GPU runs the step's start while the rest compiles (see step()).
import { ConfigError, GpuError, NonFiniteError } from '../errors.ts';
import { checkGpu, type Gpu } from '../gpu/device.ts';
import { buildTrainingGraph, type OptimizerConfig, type StepGraph } from '../graph/autograd.ts';
import type { StepContext, Tensor } from '../graph/graph.ts';
import { epochOrder, initBuffers, initParams } from '../nn/init.ts';
import type { Model } from '../nn/spec.ts';
import { record, type Dispatch } from '../ops/dispatch.ts';
import { defaultRange, type DataRange } from '../data/range.ts';
import { planStep, type Plan } from '../plan/plan.ts';
import { PlanBuffers } from '../run/buffers.ts';
import { checkLimits } from '../plan/limits.ts';
import { LossReader, type LossCallback, type StepStatus } from '../run/losses.ts';
import { GUARD_CODES } from '../graph/autograd.ts';
import { Profiler, type PassGroup } from '../run/profiler.ts';
import { addScratch, buildNode, checkNode, defaults, prepareNode, prepareStep, variantFor, type Choose } from '../run/lower.ts';
import { parseCheckpoint, parseWeights, serializeCheckpoint, serializeWeights, type Checkpoint } from '../io/weights.ts';
import { checkLabels, dataHash, type Dataset } from './dataset.ts';
import { tune, type TuneEntry, type TuneMode } from '../tune/tuner.ts';
import { memoryCache, type TuneCache } from '../tune/cache.ts';
import { indexedDbCache } from '../tune/cache_idb.ts';

/** Losses are read back every LOSS_CHUNK steps through LOSS_STAGING buffers (bounding run-ahead). */
const LOSS_CHUNK = 8;
const LOSS_STAGING = 4;

export type { Dataset };

export interface TrainerOptions {
  /** Images per step (default 32). */
  batch?: number;
  optimizer: OptimizerConfig;
  /** Seeds the initialisation, the shuffle and dropout (default 0). */
  seed?: number;
  /** A new seeded order every epoch (default true); false: file order. */
  shuffle?: boolean;
  range?: DataRange;
  profile?: boolean;
  /** With `profile`, time one step in this many (timestamps split the step into more passes). */
  profileEvery?: number;
  onLoss?: LossCallback;
  /** Parameters and buffers by PyTorch name; missing ones are initialised as PyTorch would. */
  init?: Map<string, Float32Array>;
  /** Kernel variant per node (from the tuner); the defaults otherwise. */
  choose?: Choose;
  /**
   * When the chosen kernels are built: 'background' (default) starts training on the default
   * kernels, which compile quickly, and swaps in one chosen kernel after each submitted step — on
   * software adapters a tuned kernel can take a second to compile, and the GPU keeps running the
   * steps already queued meanwhile; 'eager' builds them all for the first step (which compiles
   * its kernels as it runs).
   */
  upgrade?: 'background' | 'eager';
  /**
   * A step whose loss, gradients or updated parameters are not finite is never applied. 'stop'
   * (default): it and every later step are dropped and `failure` says why; 'skip': only that step
   * is dropped, as AMP's GradScaler does, and training goes on.
   */
  onNonFinite?: 'stop' | 'skip';
  label?: string;
}

export { defaultRange };

/** A warning when the data range cannot be produced by the output activation (the seed's mistake). */
export function rangeWarning(model: Model, range: DataRange): string | undefined {
  if (model.target !== 'input') return undefined;
  const act = model.outputActivation;
  if (act === 'sigmoid' && range === '-1,1') {
    return 'the model ends in Sigmoid, whose outputs lie in (0, 1), but the data is scaled to [−1, 1]: half of ' +
      'every target is unreachable. Scale images to [0, 1] (the default) or end the model in Tanh.';
  }
  if (act === 'tanh' && range === '0,1') {
    return 'the model ends in Tanh, whose outputs lie in (−1, 1), but the data is scaled to [0, 1]: use [−1, 1] ' +
      'with Tanh, or end the model in Sigmoid.';
  }
  return undefined;
}

export class Trainer {
  readonly tg: StepGraph;
  readonly plan: Plan;
  readonly buffers: PlanBuffers;
  readonly range: DataRange;
  readonly stepsPerEpoch: number;
  /** Steps submitted so far (the next is `steps + 1`). Losses arrive some steps later (see `losses`). */
  steps = 0;
  /** `losses[i]` is the loss of step i + 1 (before its update), once it has been read back; undefined until then. */
  readonly losses: (number | undefined)[] = [];
  private disposed = false;
  /** Batchnorm's num_batches_tracked at step 0 (from --init), per buffer name. */
  private readonly tracked0 = new Map<string, number>();
  /** Per node, in order; built by the first step (or buildAll), node by node. */
  private readonly dispatches: Dispatch[][] = [];
  /** What the nodes are first built with: the chosen kernels when eager, else the defaults (see `upgrade`). */
  private readonly initial: Choose;
  private readonly choose: Choose;
  /** Nodes still running their default kernel, waiting for the chosen one to be built. */
  private pending: number[] = [];
  private readonly reader: LossReader;
  readonly profiler?: Profiler;
  private readonly groups: PassGroup[];
  private orderEpoch = -1;
  /** The first step the guard flagged in stop mode, and what it found (undefined while all is finite). */
  failure?: { step: number; message: string };
  /** Steps dropped in skip mode. */
  skipped = 0;

  /**
   * A trainer whose kernels are tuned for this adapter first: every (pass, shape) with several
   * kernel variants is timed (or read from `tuneCache`), and the fastest correct one is used.
   * `tune`: 'cached' (default: measure what the cache lacks), 'full', or 'off'. The cache defaults to
   * IndexedDB where there is one (browsers, workers), else this process's memory; Node programs
   * pass `fileCache()` from 'kiln/node'.
   */
  static async create(gpu: Gpu, model: Model, data: Dataset,
    options: TrainerOptions & { tune?: TuneMode; tuneCache?: TuneCache; tuneBudgetMs?: number }): Promise<Trainer> {
    checkGpu('Trainer.create', gpu);
    const mode = options.tune ?? 'cached';
    if (mode === 'off') return new Trainer(gpu, model, data, options);
    const range = options.range ?? defaultRange(model);
    const graph = buildTrainingGraph(model, { batch: options.batch ?? 32, records: data.count, range, optimizer: options.optimizer, lossRing: 64, seed: options.seed }).graph;
    checkLimits(planStep(graph), gpu.limits, { batch: options.batch ?? 32, records: data.count });
    const cache = options.tuneCache ?? (typeof indexedDB !== 'undefined' ? indexedDbCache() : memoryCache());
    const r = await tune(gpu, [graph], { mode, cache, budgetMs: options.tuneBudgetMs ?? 12_000 });
    const t = new Trainer(gpu, model, data, { ...options, choose: r.choose });
    t.tuning = r.entries;
    return t;
  }

  /** What the tuner chose for each (pass, shape), when made by `create` (empty otherwise). */
  tuning: TuneEntry[] = [];

  /** The options as given, with their defaults filled in. */
  readonly options: TrainerOptions & { batch: number; seed: number; shuffle: boolean };

  constructor(readonly gpu: Gpu, readonly model: Model, readonly data: Dataset, options: TrainerOptions) {
    checkGpu('Trainer', gpu);
    // A copy: setLearningRate changes it, never the caller's config.
    this.options = { batch: 32, seed: 0, shuffle: true, ...options, optimizer: structuredClone(options.optimizer) };
    options = this.options;
    const { batch } = this.options;
    const recordSize = model.input.reduce((a, b) => a * b, 1);
    if (data.pixels.length !== data.count * recordSize) {
      throw new ConfigError(`${data.source}: records hold ${data.pixels.length / Math.max(1, data.count)} values, but the model input ` +
        `[${model.input.join(', ')}] needs ${recordSize}`);
    }
    if (!Number.isInteger(batch) || batch < 1) throw new ConfigError(`batch must be a positive integer, got ${batch}`);
    if (data.count < batch) throw new ConfigError(`${data.source}: ${data.count} records are fewer than one batch of ${batch}`);
    checkLabels(model, data);
    this.range = options.range ?? defaultRange(model);
    this.stepsPerEpoch = Math.floor(data.count / batch);
    const label = options.label ?? 'train';
    const choose = options.choose ?? defaults;
    this.tg = buildTrainingGraph(model, { batch, records: data.count, range: this.range, optimizer: options.optimizer,
      lossRing: LossReader.ringSize(LOSS_CHUNK, LOSS_STAGING), onNonFinite: options.onNonFinite, seed: options.seed });
    const eager = options.upgrade === 'eager' || choose === defaults;
    addScratch(this.tg.graph, choose, defaults);
    this.plan = planStep(this.tg.graph);
    const device = gpu.device;
    checkLimits(this.plan, gpu.limits, { batch, records: data.count });
    // Creation errors (out of memory, validation) are recorded against the object's label.
    this.buffers = gpu.errors.watch(() => new PlanBuffers(device, this.plan, label));
    // Everything building could reject (the kernels first built, and those swapped in later),
    // rejected now, before any GPU work; the kernels themselves compile in the first step.
    this.initial = eager ? choose : defaults;
    const chooses = new Set([this.initial, choose]);
    for (const n of this.tg.graph.nodes) for (const c of chooses) checkNode(device, n, c);
    this.choose = choose;
    if (!eager) {
      this.pending = this.tg.graph.nodes.map((_, i) => i).filter((i) => variantFor(this.tg.graph.nodes[i]!, choose) !== variantFor(this.tg.graph.nodes[i]!, defaults));
    }
    this.reader = new LossReader(device, this.buffers.buffer(this.tg.loss), this.buffers.buffer(this.tg.status), gpu.wait,
      (s, l, st) => this.delivered(s, l, st), LOSS_CHUNK, LOSS_STAGING, `${label}/losses`);

    // Upload once: the dataset's bytes (padded to whole words), its labels, and the parameters.
    const bytes = new Uint8Array(Math.ceil(data.pixels.length / 4) * 4);
    bytes.set(data.pixels);
    device.queue.writeBuffer(this.buffers.buffer(this.tg.dataset), 0, bytes);
    device.queue.writeBuffer(this.buffers.buffer(this.tg.labelData), 0, Uint32Array.from(data.labels ?? new Uint8Array(data.count)));
    this.setParams(options.init ?? new Map(), options.seed);

    // Profiling groups: one compute pass per (layer, phase) run of consecutive nodes.
    this.groups = [];
    this.tg.graph.nodes.forEach((n, i) => {
      const name = n.layer === n.phase || n.layer === 'data' ? n.layer : `${n.layer}/${n.phase}`;
      const last = this.groups[this.groups.length - 1];
      if (last && last.name === name) last.nodes.push(i);
      else this.groups.push({ name, phase: n.phase, nodes: [i] });
    });
    if (options.profile) {
      if (!gpu.hasTimestamps) throw new GpuError(`profiling needs the 'timestamp-query' feature, which adapter ${gpu.adapterName} lacks`);
      this.profiler = new Profiler(device, this.groups, gpu.wait, `${label}/profile`);
    }
  }

  private delivered(step: number, loss: number, status: StepStatus): void {
    this.losses[step - 1] = loss;
    if (status.code !== 0) {
      if ((this.options.onNonFinite ?? 'stop') === 'skip') this.skipped++;
      else if (!this.failure || step < this.failure.step) this.failure = { step, message: `step ${step}: ${this.describe(status)}` };
    }
    this.options.onLoss?.(step, loss, status);
  }

  /** What the guard found, naming the tensor: the loss, or the parameter (gradient) holding the first bad element. */
  describe(status: StepStatus): string {
    const at = (index: number) => {
      let name = '?', first = -1;
      for (const p of this.model.params) {
        const o = this.tg.layout.offsets.get(p.name)!;
        if (o <= index && o > first) { name = p.name; first = o; }
      }
      return `${name} (element ${index - first})`;
    };
    if (status.code & GUARD_CODES.loss) return 'the loss is not finite (NaN or ±inf); the weights are those of the step before';
    if (status.code & GUARD_CODES.gradient) return `the gradient of ${at(status.index)} is not finite; the update was not applied`;
    return `the update made parameter ${at(status.index)} non-finite; it was undone`;
  }

  /**
   * Writes parameters and buffers: given ones by name (shapes checked), the rest freshly initialised
   * from `seed`. Batchnorm counters (num_batches_tracked) come along as one-element tensors.
   */
  setParams(given: Map<string, Float32Array>, seed = this.options.seed): void {
    const fresh = initParams(this.model, seed);
    const flat = new Float32Array(this.tg.layout.total);
    for (const p of this.model.params) {
      const v = given.get(p.name) ?? fresh.get(p.name)!;
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (v.length !== n) throw new ConfigError(`parameter ${p.name}: expected ${n} values for shape [${p.shape.join(', ')}], got ${v.length}`);
      flat.set(v, this.tg.layout.offsets.get(p.name)!);
    }
    this.gpu.device.queue.writeBuffer(this.buffers.buffer(this.tg.params), 0, flat);
    const freshBuffers = initBuffers(this.model);
    const bufs = new Float32Array(this.tg.bufLayout.total);
    for (const b of this.model.buffers) {
      const v = given.get(b.name) ?? freshBuffers.get(b.name)!;
      if (b.dtype === 'i64') this.tracked0.set(b.name, v[0] ?? 0);
      else bufs.set(v, this.tg.bufLayout.offsets.get(b.name)!);
    }
    this.gpu.device.queue.writeBuffer(this.buffers.buffer(this.tg.buffers), 0, bufs);
    this.resetGuard();
  }

  /** The learning rate the next step will use. */
  get learningRate(): number {
    return this.options.optimizer.options.lr;
  }

  /**
   * From the next submitted step on. The rate is only read when a step's scalars are written, so
   * nothing is rebuilt; checkpoints record it.
   */
  setLearningRate(lr: number): void {
    this.alive('setLearningRate');
    if (!Number.isFinite(lr) || lr <= 0) throw new ConfigError(`Trainer.setLearningRate: lr must be a positive number, got ${lr}`);
    const node = this.tg.graph.nodes.find((n) => n.phase === 'optimizer');
    if (!node) throw new ConfigError('Trainer.setLearningRate: the step has no optimizer pass');
    (node.args as { options: { lr: number } }).options.lr = lr;
    this.options.optimizer.options.lr = lr;
  }

  /** Lets updates apply again after a stop-mode failure (the state on the GPU is the last good one). */
  resetGuard(): void {
    this.gpu.device.queue.writeBuffer(this.buffers.buffer(this.tg.halt), 0, new Uint32Array(4));
    this.failure = undefined;
  }

  /** Compute dispatches one training step records (building them, if no step has yet). */
  get dispatchCount(): number {
    this.buildAll();
    return this.dispatches.reduce((a, d) => a + d.length, 0);
  }

  /** Builds the dispatches of the next node not yet built. */
  private buildNext(): void {
    const node = this.tg.graph.nodes[this.dispatches.length]!;
    this.dispatches.push(this.gpu.errors.watch(() => buildNode(this.gpu.device, node, this.buffers.at, this.initial)));
  }

  /** Builds every node's dispatches not yet built (compiling their kernels). */
  private buildAll(): void {
    while (this.dispatches.length < this.tg.graph.nodes.length) this.buildNext();
  }

  get epoch(): number {
    return Math.floor(this.steps / this.stepsPerEpoch);
  }

  /** Steps whose updates the weights on the GPU hold: the submitted ones, or those before a stop-mode failure. */
  get appliedSteps(): number {
    return this.failure ? this.failure.step - 1 : this.steps;
  }

  /** Which records step `step` (1-based) trains on, as positions into the epoch's order list. */
  private batchBase(step: number): { base: number; epoch: number } {
    const k = step - 1;
    if (!this.options.shuffle) return { base: (k * this.options.batch) % this.data.count, epoch: 0 };
    return { base: (k % this.stepsPerEpoch) * this.options.batch, epoch: Math.floor(k / this.stepsPerEpoch) };
  }

  /** The order list for `epoch`: file order without shuffling, else a seeded permutation. */
  order(epoch: number): Uint32Array {
    return this.options.shuffle ? epochOrder(this.data.count, this.options.seed, epoch) : Uint32Array.from({ length: this.data.count }, (_, i) => i);
  }

  /**
   * Encodes and submits one training step. Resolves once it is queued, not when the GPU finishes;
   * its loss arrives later in `losses` (and through `onLoss`). `flush`: read the losses back now
   * instead of with the next chunk of 8 (the last step of a run).
   */
  async step(o: { flush?: boolean } = {}): Promise<void> {
    this.alive('step');
    const flushLosses = o.flush ?? false;
    const device = this.gpu.device;
    const step = this.steps + 1;
    const { base, epoch } = this.batchBase(step);
    if (epoch !== this.orderEpoch) {
      device.queue.writeBuffer(this.buffers.buffer(this.tg.order), 0, this.order(epoch));
      this.orderEpoch = epoch;
    }
    await this.reader.reserve(step, flushLosses);
    const tracked = this.tracked0.size > 0 ? Math.max(...this.tracked0.values()) + step : step;
    const ctx: StepContext = { step, batchBase: base, lossSlot: this.reader.slot(step), rows: this.options.batch, tracked };
    const stamp = this.profiler !== undefined && step % (this.options.profileEvery ?? 1) === 0 &&
      this.profiler.timestampWrites(0) !== undefined;
    if (stamp) this.buildAll();
    let enc = device.createCommandEncoder({ label: `step ${step}` });
    const building = this.dispatches.length < this.tg.graph.nodes.length;
    if (!building) prepareStep(device, this.tg.graph, this.dispatches, ctx);
    if (building) {
      // The first step, as its kernels compile (one core on a software adapter): each node's work
      // is submitted before the next node's kernels are built, so the adapter runs the start of the
      // step meanwhile (the seed's first loss about 0.1 s sooner on SwiftShader). Queue order keeps
      // the step's order; this is the only step not in one command buffer.
      let pass: GPUComputePassEncoder | undefined;
      this.tg.graph.nodes.forEach((n, i) => {
        if (i === this.dispatches.length) {
          if (pass) {
            pass.end();
            const done = enc.finish();
            this.gpu.errors.watch(() => device.queue.submit([done]));
            enc = device.createCommandEncoder({ label: `step ${step}` });
            pass = undefined;
          }
          this.buildNext();
        }
        prepareNode(device, n, this.dispatches[i]!, ctx);
        pass ??= enc.beginComputePass({ label: 'train step' });
        for (const d of this.dispatches[i]!) record(pass, d);
      });
      pass?.end();
    } else if (stamp) {
      this.groups.forEach((g, gi) => {
        const pass = enc.beginComputePass({ label: g.name, timestampWrites: this.profiler!.timestampWrites(gi) });
        for (const i of g.nodes) for (const d of this.dispatches[i]!) record(pass, d);
        pass.end();
      });
      this.profiler!.encode(enc, step);
    } else {
      const pass = enc.beginComputePass({ label: 'train step' });
      for (const ds of this.dispatches) for (const d of ds) record(pass, d);
      pass.end();
    }
    this.reader.encode(enc, step, flushLosses);
    this.gpu.errors.watch(() => device.queue.submit([enc.finish()]));
    this.reader.submitted();
    this.profiler?.submitted();
    this.steps = step;
    this.upgradeOne();
  }

  /**
   * Builds the chosen kernel of one node still on its default, for the steps after this one —
   * from the second step whose loss has arrived, so the first results are not held up by compiles.
   */
  private upgradeOne(): void {
    if (this.pending.length === 0 || this.losses[0] === undefined) return;
    const i = this.pending.shift();
    if (i === undefined) return;
    const node = this.tg.graph.nodes[i]!;
    const old = this.dispatches[i]!;
    this.dispatches[i] = this.gpu.errors.watch(() => buildNode(this.gpu.device, node, this.buffers.at, this.choose));
    for (const d of old) d.uniform?.destroy();
  }

  /** True once every node runs the kernel chosen for it (see `upgrade`). */
  get upgraded(): boolean {
    return this.pending.length === 0;
  }

  /**
   * Trains `count` more steps (stopping early when `signal` aborts or a non-finite step halts the
   * run) and yields each step's loss in order as it arrives — a few steps after its submission, so
   * training never waits for the host.
   *
   *     for await (const { step, loss } of trainer.run(20)) console.log(`step ${step} loss ${loss}`);
   */
  async *run(count: number, o: { signal?: AbortSignal } = {}): AsyncGenerator<{ step: number; loss: number; epoch: number }> {
    this.alive('run');
    if (!Number.isInteger(count) || count < 0) throw new ConfigError(`Trainer.run: count must be a whole number ≥ 0, got ${count}`);
    const end = this.steps + count;
    let next = this.steps + 1;
    const ready = function* (t: Trainer, upTo: number) {
      while (next <= upTo && t.losses[next - 1] !== undefined && !(t.failure && next >= t.failure.step)) {
        yield { step: next, loss: t.losses[next - 1]!, epoch: Math.floor((next - 1) / t.stepsPerEpoch) };
        next++;
      }
    };
    while (this.steps < end && !o.signal?.aborted && !this.failure) {
      await this.step({ flush: this.steps + 1 === end });
      this.gpu.errors.throwIfFailed(`step ${this.steps}`);
      yield* ready(this, this.steps);
    }
    await this.drain();
    this.gpu.errors.throwIfFailed('training');
    yield* ready(this, this.steps);
    if (this.failure) throw new NonFiniteError(this.failure.message, this.failure.step);
  }

  /** Waits for the GPU and for every scheduled loss and timing read. */
  async drain(): Promise<void> {
    await this.gpu.wait(this.gpu.device.queue.onSubmittedWorkDone());
    await this.reader.drain();
    await this.profiler?.drain();
  }

  /** Copies a persistent buffer back (parameters, optimizer state, buffers) — outside the loop only. */
  async read(t: Tensor): Promise<Float32Array> {
    const src = this.buffers.buffer(t);
    const device = this.gpu.device;
    const staging = device.createBuffer({ label: `read ${this.tg.graph.info(t).name}`, size: src.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder({ label: `read ${this.tg.graph.info(t).name}` });
    enc.copyBufferToBuffer(src, 0, staging, 0, src.size);
    device.queue.submit([enc.finish()]);
    await this.gpu.wait(staging.mapAsync(GPUMapMode.READ));
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.destroy();
    return out;
  }

  /** Parameters and buffers (batchnorm running statistics, num_batches_tracked) by PyTorch name, in PyTorch's layouts. */
  async params(): Promise<Map<string, Float32Array>> {
    const flat = await this.read(this.tg.params);
    const out = new Map<string, Float32Array>();
    for (const p of this.model.params) {
      const at = this.tg.layout.offsets.get(p.name)!;
      out.set(p.name, flat.slice(at, at + p.shape.reduce((a, b) => a * b, 1)));
    }
    if (this.model.buffers.length > 0) {
      const bufs = await this.read(this.tg.buffers);
      for (const b of this.model.buffers) {
        if (b.dtype === 'i64') out.set(b.name, Float32Array.of(this.batchesTracked(b.name)));
        else {
          const at = this.tg.bufLayout.offsets.get(b.name)!;
          out.set(b.name, bufs.slice(at, at + b.shape.reduce((x, y) => x * y, 1)));
        }
      }
    }
    return out;
  }

  /** num_batches_tracked after the submitted steps: every training step runs every batchnorm in training mode. */
  batchesTracked(name: string): number {
    return (this.tracked0.get(name) ?? 0) + this.appliedSteps;
  }

  /** The model's weights (parameters and buffers) as a .safetensors file with PyTorch's names. */
  async weights(metadata: Record<string, string> = {}): Promise<Uint8Array> {
    this.alive('weights');
    return serializeWeights(this.model, await this.params(), { step: String(this.steps), ...metadata });
  }

  /** Loads weights saved for this model (strict: every tensor, no extras), e.g. from `weights()` or PyTorch. */
  loadWeights(bytes: Uint8Array, source = 'weights'): void {
    this.alive('loadWeights');
    this.setParams(parseWeights(this.model, bytes, source));
  }

  /**
   * A checkpoint as bytes (weights, optimizer state, step, seed, data order and a hash of the data),
   * the same format as the CLI's --checkpoint; `restore` continues from it.
   */
  async checkpoint(): Promise<Uint8Array> {
    this.alive('checkpoint');
    return serializeCheckpoint(this.model, await this.checkpointState());
  }

  /** Everything needed to continue exactly where the submitted steps leave off. */
  async checkpointState(): Promise<Checkpoint> {
    const state = new Map<string, Float32Array>();
    for (const [name, t] of this.tg.state) state.set(name, await this.read(t));
    return {
      params: await this.params(), state, step: this.appliedSteps, epoch: Math.floor(this.appliedSteps / this.stepsPerEpoch), seed: this.options.seed,
      optimizer: JSON.stringify(this.options.optimizer), shuffle: this.options.shuffle, batch: this.options.batch,
      dataSource: this.data.source, dataCount: this.data.count, dataHash: await dataHash(this.data),
      order: this.order(this.batchBase(this.appliedSteps + 1).epoch),
    };
  }

  /**
   * Continues from a checkpoint made with the same settings and data (refused otherwise, naming
   * what differs). Other records of the same count are refused too, unless `allowNewData`.
   */
  async restore(from: Checkpoint | Uint8Array, o2: { allowNewData?: boolean; source?: string } = {}): Promise<void> {
    this.alive('restore');
    const c = from instanceof Uint8Array ? parseCheckpoint(this.model, from, o2.source ?? 'checkpoint') : from;
    if (!o2.allowNewData && c.dataHash !== '' && c.dataHash !== await dataHash(this.data)) {
      throw new ConfigError(`cannot resume: the training data differs from the checkpoint's (${c.dataSource}, ${c.dataCount} records, ` +
        `sha256 ${c.dataHash.slice(0, 12)}…); restore with allowNewData (kiln train --allow-new-data) to continue on ${this.data.source} anyway`);
    }
    const o = this.options;
    // The optimizer's kind fixes the state's layout; its hyperparameters (lr, momentum, weight
    // decay) may change on resume — lowering the learning rate after a divergence, say.
    const kindOf = (json: string) => { try { return (JSON.parse(json) as { kind?: string }).kind; } catch { return json; } };
    const differs = [
      ['optimizer', kindOf(c.optimizer), o.optimizer.kind], ['batch', c.batch, o.batch], ['shuffle', c.shuffle, o.shuffle],
      ['seed', c.seed, o.seed], ['records', c.dataCount, this.data.count],
    ].filter(([, a, b]) => a !== b).map(([k, a, b]) => `${k} was ${a}, now ${b}`);
    if (differs.length > 0) throw new ConfigError(`cannot resume: ${differs.join('; ')}`);
    const expected = this.order(this.batchBase(c.step + 1).epoch);
    if (expected.length !== c.order.length || expected.some((v, i) => v !== c.order[i])) {
      throw new ConfigError('cannot resume: the data order differs from the checkpoint\'s');
    }
    // The counters in the checkpoint already include its steps; this trainer adds its own from c.step.
    const params = new Map(c.params);
    for (const b of this.model.buffers) {
      if (b.dtype === 'i64') params.set(b.name, Float32Array.of((c.params.get(b.name)?.[0] ?? c.step) - c.step));
    }
    this.setParams(params);
    for (const [name, t] of this.tg.state) {
      const v = c.state.get(name);
      if (!v || v.length !== this.tg.layout.trainable) throw new ConfigError(`cannot resume: checkpoint lacks optimizer state ${name}`);
      this.gpu.device.queue.writeBuffer(this.buffers.buffer(t), 0, v);
    }
    this.steps = c.step;
    this.reader.startAfter(c.step);
  }

  /** Frees every GPU buffer; any later call on this trainer throws a KilnError saying so. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.buffers.destroy();
    for (const ds of this.dispatches) for (const d of ds) d.uniform?.destroy();
    this.reader.destroy();
    this.profiler?.destroy();
  }

  /** Same as dispose(). */
  destroy(): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private alive(what: string): void {
    if (this.disposed) throw new ConfigError(`Trainer.${what}: this trainer was disposed; create a new one`);
  }
}
