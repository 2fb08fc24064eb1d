// Inference for apps: a trained model in evaluation mode (batchnorm on running statistics, dropout
// off) on new images. Built from a Trainer it reads the trainer's live weights (no copy), so the
// demo can show predictions while training goes on; built from a weights file it owns them.
// Outputs come back as class probabilities (label targets) or images (reconstructions).
import { ConfigError } from '../errors.ts';
import { checkGpu, type Gpu } from '../gpu/device.ts';
import { buildForwardGraph, type ForwardGraph } from '../graph/autograd.ts';
import { record, type Dispatch } from '../ops/dispatch.ts';
import { planStep, type Plan } from '../plan/plan.ts';
import { checkLimits } from '../plan/limits.ts';
import { PlanBuffers } from '../run/buffers.ts';
import { addScratch, buildDispatches, defaults, type Choose } from '../run/lower.ts';
import { bytesToFloats, floatsToBytes, type DataRange } from '../data/range.ts';
import { parseWeights } from '../io/weights.ts';
import { initBuffers, initParams } from '../nn/init.ts';
import type { Model } from '../nn/spec.ts';
import { defaultRange, type Trainer } from './trainer.ts';

export interface Prediction {
  /** Images predicted. */
  count: number;
  /** The model's outputs, `count` × output size, as computed. */
  outputs: Float32Array;
  /** Label targets: the predicted class of each image (argmax; for one output, above 0.5 or 0). */
  classes?: Uint32Array;
  /**
   * Class probabilities per image (`count` × classes): softmax of the logits for cross-entropy
   * models, the outputs themselves for models that end in a sigmoid. Undefined for score outputs
   * (mse/l1 on labels), which are not probabilities.
   */
  probabilities?: Float32Array;
  /** Input targets (autoencoders): the outputs as image bytes, CHW per image, in the data range. */
  images?: Uint8Array;
}

export interface PredictorOptions {
  /** Images per GPU pass (default 32); more images run in several passes. */
  batch?: number;
  /** How bytes map to inputs (default: what the output activation pairs with, as in training). */
  range?: DataRange;
  choose?: Choose;
}

export class Predictor {
  readonly tg: ForwardGraph;
  readonly plan: Plan;
  readonly batch: number;
  readonly range: DataRange;
  private readonly buffers: PlanBuffers;
  private readonly dispatches: Dispatch[];
  private readonly staging: GPUBuffer;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(readonly gpu: Gpu, readonly model: Model, o: PredictorOptions, shared?: Trainer) {
    checkGpu(shared ? 'Predictor.fromTrainer' : 'Predictor.fromWeights', gpu);
    const device = gpu.device;
    this.batch = o.batch ?? 32;
    if (!Number.isInteger(this.batch) || this.batch < 1) throw new ConfigError(`Predictor: batch must be a positive integer, got ${o.batch}`);
    this.range = o.range ?? shared?.range ?? defaultRange(model);
    this.tg = buildForwardGraph(model, this.batch);
    const choose = o.choose ?? defaults;
    addScratch(this.tg.graph, choose);
    this.plan = planStep(this.tg.graph);
    checkLimits(this.plan, gpu.limits, { batch: this.batch, where: 'prediction' });
    const external = shared ? new Map([
      [this.tg.params.id, shared.buffers.buffer(shared.tg.params)],
      [this.tg.buffers.id, shared.buffers.buffer(shared.tg.buffers)],
    ]) : new Map<number, GPUBuffer>();
    this.buffers = gpu.errors.watch(() => new PlanBuffers(device, this.plan, 'predict', external));
    this.dispatches = gpu.errors.watch(() => buildDispatches(device, this.tg.graph, this.buffers.at, choose).flat());
    this.staging = device.createBuffer({ label: 'predict/staging', size: this.batch * this.outSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Predicts with a trainer's current weights (shared, never copied): it sees every step submitted before each call. */
  static fromTrainer(trainer: Trainer, o: PredictorOptions = {}): Predictor {
    if (trainer.isDisposed) throw new ConfigError('Predictor.fromTrainer: the trainer was disposed');
    return new Predictor(trainer.gpu, trainer.model, o, trainer);
  }

  /**
   * A predictor owning its weights: `weights` is a .safetensors file (or a map) with exactly the
   * model's tensors (as `kiln train --save` writes, or a PyTorch state_dict saved with safetensors).
   */
  static fromWeights(gpu: Gpu, model: Model, weights: Uint8Array | Map<string, Float32Array>, o: PredictorOptions & { source?: string } = {}): Predictor {
    const values = weights instanceof Uint8Array ? parseWeights(model, weights, o.source ?? 'weights') : weights;
    const p = new Predictor(gpu, model, o);
    const flat = new Float32Array(p.tg.layout.total);
    const fresh = initParams(model, 0);
    for (const t of model.params) {
      const v = values.get(t.name) ?? fresh.get(t.name)!;
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (v.length !== n) throw new ConfigError(`Predictor: ${t.name} has ${v.length} values, the model needs ${n}`);
      flat.set(v, p.tg.layout.offsets.get(t.name)!);
    }
    gpu.device.queue.writeBuffer(p.buffers.buffer(p.tg.params), 0, flat);
    const bufs = new Float32Array(p.tg.bufLayout.total);
    const freshBuffers = initBuffers(model);
    for (const b of model.buffers) if (b.dtype === 'f32') bufs.set(values.get(b.name) ?? freshBuffers.get(b.name)!, p.tg.bufLayout.offsets.get(b.name)!);
    gpu.device.queue.writeBuffer(p.buffers.buffer(p.tg.buffers), 0, bufs);
    return p;
  }

  private get inSize(): number {
    return this.model.input.reduce((a, b) => a * b, 1);
  }

  private get outSize(): number {
    return this.model.output.reduce((a, b) => a * b, 1);
  }

  /**
   * Predicts `pixels`: whole images as bytes in the model's input layout (C·H·W each, CHW order,
   * as CIFAR-10 stores them). Calls run one after another; each sees the weights as they are when
   * it starts on the GPU.
   */
  predict(pixels: Uint8Array): Promise<Prediction> {
    if (this.disposed) return Promise.reject(new ConfigError('Predictor.predict: this predictor was disposed'));
    if (!(pixels instanceof Uint8Array)) return Promise.reject(new ConfigError('Predictor.predict: pixels must be a Uint8Array of image bytes'));
    if (pixels.length === 0 || pixels.length % this.inSize !== 0) {
      return Promise.reject(new ConfigError(`Predictor.predict: pixels holds ${pixels.length} bytes, not a whole number of ` +
        `[${this.model.input.join(', ')}] images (${this.inSize} bytes each)`));
    }
    const run = this.queue.then(() => this.run(pixels), () => this.run(pixels));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** An autoencoder's reconstructions of `pixels`, as image bytes (CHW per image, same layout). */
  async reconstruct(pixels: Uint8Array): Promise<Uint8Array> {
    if (this.model.target !== 'input') {
      throw new ConfigError('Predictor.reconstruct: the model predicts labels, not images; use predict() for its class probabilities');
    }
    return (await this.predict(pixels)).images!;
  }

  private async run(pixels: Uint8Array): Promise<Prediction> {
    const { device } = this.gpu;
    const count = pixels.length / this.inSize;
    const outputs = new Float32Array(count * this.outSize);
    for (let at = 0; at < count; at += this.batch) {
      const n = Math.min(this.batch, count - at);
      const x = new Float32Array(this.batch * this.inSize); // a short last batch is padded with zeros
      x.set(bytesToFloats(pixels.subarray(at * this.inSize, (at + n) * this.inSize), this.range));
      device.queue.writeBuffer(this.buffers.buffer(this.tg.input), 0, x);
      const enc = device.createCommandEncoder({ label: 'predict' });
      const pass = enc.beginComputePass({ label: 'predict/forward' });
      for (const d of this.dispatches) record(pass, d);
      pass.end();
      const out = this.buffers.at(this.tg.output.id) as GPUBufferBinding;
      enc.copyBufferToBuffer(out.buffer, out.offset ?? 0, this.staging, 0, this.staging.size);
      this.gpu.errors.watch(() => device.queue.submit([enc.finish()]));
      await this.gpu.wait(this.staging.mapAsync(GPUMapMode.READ));
      outputs.set(new Float32Array(this.staging.getMappedRange().slice(0, n * this.outSize * 4)), at * this.outSize);
      this.staging.unmap();
    }
    this.gpu.errors.throwIfFailed('prediction');
    return this.interpret(count, outputs);
  }

  private interpret(count: number, outputs: Float32Array): Prediction {
    const m = this.model;
    if (m.target === 'input') return { count, outputs, images: floatsToBytes(outputs, this.range) };
    const c = this.outSize;
    const classes = new Uint32Array(count);
    let probabilities: Float32Array | undefined;
    if (m.loss === 'cross_entropy') {
      probabilities = new Float32Array(outputs.length);
      for (let i = 0; i < count; i++) {
        const row = outputs.subarray(i * c, (i + 1) * c);
        const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
        let sum = 0;
        for (let j = 0; j < c; j++) sum += Math.exp(row[j]! - max);
        for (let j = 0; j < c; j++) probabilities[i * c + j] = Math.exp(row[j]! - max) / sum;
      }
    } else if (m.outputActivation === 'sigmoid') probabilities = outputs.slice();
    for (let i = 0; i < count; i++) {
      if (c === 1) classes[i] = outputs[i]! > (m.outputActivation === 'sigmoid' ? 0.5 : 0) ? 1 : 0;
      else {
        let best = 0;
        for (let j = 1; j < c; j++) if (outputs[i * c + j]! > outputs[i * c + best]!) best = j;
        classes[i] = best;
      }
    }
    return { count, outputs, classes, probabilities };
  }

  /** Frees the predictor's GPU buffers (a trainer's shared weights stay with the trainer). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.buffers.destroy();
    for (const d of this.dispatches) d.uniform?.destroy();
    this.staging.destroy();
  }
}
