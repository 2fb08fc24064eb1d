// Evaluation on held-out records with the trainer's current weights: a forward-only plan in
// evaluation mode (batchnorm on running statistics, dropout off) that binds the trainer's parameter
// and buffer storage itself, over a dataset of its own uploaded once. Each batch is one submission
// (its position and valid rows are per-batch scalars); the losses and correct counts of all batches
// are read back once at the end. Everything is checked and allocated on construction; its
// pipelines compile on the first run() (or prepare()), so building an Evaluator never holds up
// training's first step — on software adapters the tuned kernels take a second or more to compile.
import { checkGpu } from '../gpu/device.ts';
import { ConfigError } from '../errors.ts';
import { buildEvalGraph, type EvalGraph } from '../graph/autograd.ts';
import { record, type Dispatch } from '../ops/dispatch.ts';
import { planStep, type Plan } from '../plan/plan.ts';
import { checkLimits } from '../plan/limits.ts';
import { PlanBuffers } from '../run/buffers.ts';
import { addScratch, buildDispatches, prepareStep, type Choose, defaults } from '../run/lower.ts';
import { checkLabels, type Dataset } from './dataset.ts';
import type { Trainer } from './trainer.ts';

export interface EvalResult {
  /** Mean loss over every record (the same reduction as training). */
  loss: number;
  /** Fraction of records whose prediction is their label (label targets only). */
  accuracy?: number;
  records: number;
}

export class Evaluator {
  readonly tg: EvalGraph;
  readonly plan: Plan;
  readonly batches: number;
  private readonly buffers: PlanBuffers;
  private dispatches?: Dispatch[][];
  private readonly staging: GPUBuffer;

  constructor(private readonly trainer: Trainer, readonly data: Dataset, readonly batch = trainer.options.batch, private readonly choose: Choose = defaults) {
    const { model, gpu } = trainer;
    checkGpu('Evaluator', gpu);
    const device = gpu.device;
    const recordSize = model.input.reduce((a, b) => a * b, 1);
    if (data.count < 1) throw new ConfigError(`${data.source}: no records to evaluate on`);
    if (data.pixels.length !== data.count * recordSize) {
      throw new ConfigError(`${data.source}: records hold ${data.pixels.length / data.count} values, but the model input needs ${recordSize}`);
    }
    checkLabels(model, data);
    this.batch = Math.min(batch, data.count);
    this.batches = Math.ceil(data.count / this.batch);
    this.tg = buildEvalGraph(model, { batch: this.batch, records: data.count, range: trainer.range, batches: this.batches });
    addScratch(this.tg.graph, choose);
    this.plan = planStep(this.tg.graph);
    checkLimits(this.plan, gpu.limits, { batch: this.batch, records: data.count, where: `evaluation on ${data.source}` });
    this.buffers = gpu.errors.watch(() => new PlanBuffers(device, this.plan, 'eval', new Map([
      [this.tg.params.id, trainer.buffers.buffer(trainer.tg.params)],
      [this.tg.buffers.id, trainer.buffers.buffer(trainer.tg.buffers)],
    ])));
    const bytes = new Uint8Array(Math.ceil(data.pixels.length / 4) * 4);
    bytes.set(data.pixels);
    device.queue.writeBuffer(this.buffers.buffer(this.tg.dataset), 0, bytes);
    device.queue.writeBuffer(this.buffers.buffer(this.tg.labelData), 0, Uint32Array.from(data.labels ?? new Uint8Array(data.count)));
    device.queue.writeBuffer(this.buffers.buffer(this.tg.order), 0, Uint32Array.from({ length: data.count }, (_, i) => i));
    this.staging = device.createBuffer({ label: 'eval/staging', size: this.batches * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Whether the pipelines are built (prepare() or a first run()). */
  get prepared(): boolean {
    return this.dispatches !== undefined;
  }

  /** Builds the pipelines now (idempotent): e.g. while the GPU still works through queued steps. */
  prepare(): Dispatch[][] {
    const { gpu } = this.trainer;
    this.dispatches ??= gpu.errors.watch(() => buildDispatches(gpu.device, this.tg.graph, this.buffers.at, this.choose));
    return this.dispatches;
  }

  /** Evaluates every record after all steps submitted so far; resolves with the mean loss and accuracy. */
  async run(): Promise<EvalResult> {
    const { gpu } = this.trainer;
    const device = gpu.device;
    const dispatches = this.prepare();
    for (let b = 0; b < this.batches; b++) {
      const rows = Math.min(this.batch, this.data.count - b * this.batch);
      prepareStep(device, this.tg.graph, dispatches, { step: 0, batchBase: b * this.batch, lossSlot: b, rows });
      const enc = device.createCommandEncoder({ label: `eval batch ${b}` });
      const pass = enc.beginComputePass({ label: 'eval' });
      for (const ds of dispatches) for (const d of ds) record(pass, d);
      pass.end();
      if (b === this.batches - 1) {
        enc.copyBufferToBuffer(this.buffers.buffer(this.tg.loss), 0, this.staging, 0, this.batches * 4);
        enc.copyBufferToBuffer(this.buffers.buffer(this.tg.correct), 0, this.staging, this.batches * 4, this.batches * 4);
      }
      gpu.errors.watch(() => device.queue.submit([enc.finish()]));
    }
    await gpu.wait(this.staging.mapAsync(GPUMapMode.READ));
    const all = new Float32Array(this.staging.getMappedRange().slice(0));
    const losses = all.subarray(0, this.batches);
    const correct = all.subarray(this.batches, 2 * this.batches); // counts, exact in f32
    this.staging.unmap();
    let loss = 0, right = 0;
    for (let b = 0; b < this.batches; b++) {
      loss += losses[b]! * Math.min(this.batch, this.data.count - b * this.batch);
      right += correct[b]!;
    }
    const n = this.data.count;
    return { loss: loss / n, accuracy: this.trainer.model.target === 'label' ? right / n : undefined, records: n };
  }

  destroy(): void {
    this.buffers.destroy();
    for (const ds of this.dispatches ?? []) for (const d of ds) d.uniform?.destroy();
    this.staging.destroy();
  }
}
