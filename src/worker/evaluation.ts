// Held-out evaluation for a run in the worker, in one forward pass where possible: for a
// cross-entropy classifier the predictor's logits give the loss (log-softmax, as PyTorch's mean
// cross-entropy), the accuracy, the confusion matrix and the shown images' predictions at once.
// Other models use the engine's Evaluator for loss and accuracy, plus a small predictor for the
// shown images (their reconstructions or classes).
import { ConfigError } from '../errors.ts';
import type { Dataset } from '../train/dataset.ts';
import { Evaluator } from '../train/evaluate.ts';
import { Predictor } from '../train/predict.ts';
import type { Trainer } from '../train/trainer.ts';
import type { EvalReport } from './protocol.ts';

/** Mean cross-entropy of logits against labels, in float64 (log-sum-exp shifted by the row max). */
export function crossEntropy(logits: Float32Array, labels: Uint8Array, classes: number): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, row[j]!);
    let e = 0;
    for (let j = 0; j < classes; j++) e += Math.exp(row[j]! - max);
    sum += max + Math.log(e) - row[labels[i]!]!;
  }
  return sum / Math.max(1, labels.length);
}

/** classes × classes counts: row = true label, column = prediction. */
export function confusionMatrix(labels: Uint8Array, predicted: ArrayLike<number>, classes: number): Uint32Array {
  const m = new Uint32Array(classes * classes);
  for (let i = 0; i < labels.length; i++) m[labels[i]! * classes + predicted[i]!]!++;
  return m;
}

export class HeldOut {
  private readonly full?: Predictor;
  private readonly evaluator?: Evaluator;
  private readonly shownPredictor?: Predictor;
  private readonly shownPixels: Uint8Array;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly trainer: Trainer, readonly data: Dataset, readonly show: number) {
    const model = trainer.model;
    const choose = trainer.options.choose;
    const recordSize = model.input.reduce((a, b) => a * b, 1);
    this.show = Math.max(0, Math.min(show, data.count));
    this.shownPixels = data.pixels.subarray(0, this.show * recordSize);
    if (model.target === 'label' && !data.labels) throw new ConfigError(`${data.source}: held-out data for a classifier needs labels`);
    if (model.target === 'label' && model.loss === 'cross_entropy') {
      // The training batch: the forward passes then have the shapes the tuner measured.
      this.full = Predictor.fromTrainer(trainer, { batch: trainer.options.batch, choose });
    } else {
      this.evaluator = new Evaluator(trainer, data, Math.min(trainer.options.batch, data.count), choose);
      if (this.show > 0) this.shownPredictor = Predictor.fromTrainer(trainer, { batch: trainer.options.batch, choose });
    }
  }

  /**
   * Evaluates the weights after every step submitted so far. Calls run one at a time; the caller
   * keeps training still meanwhile, so each pass waits for nothing but itself.
   */
  run(epoch: number, epochEnd: boolean): Promise<EvalReport> {
    const next = this.queue.then(() => this.once(epoch, epochEnd), () => this.once(epoch, epochEnd));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async once(epoch: number, epochEnd: boolean): Promise<EvalReport> {
    const t0 = performance.now();
    const report = await this.measure(epoch, epochEnd);
    report.ms = performance.now() - t0;
    return report;
  }

  private async measure(epoch: number, epochEnd: boolean): Promise<EvalReport> {
    const step = this.trainer.steps;
    const model = this.trainer.model;
    if (this.full) {
      const classes = model.output.reduce((a, b) => a * b, 1);
      const labels = this.data.labels!;
      const p = await this.full.predict(this.data.pixels);
      const predicted = p.classes!;
      let right = 0;
      for (let i = 0; i < p.count; i++) if (predicted[i] === labels[i]) right++;
      const confidence = new Float32Array(this.show);
      for (let i = 0; i < this.show; i++) confidence[i] = p.probabilities![i * classes + predicted[i]!]!;
      return {
        step, epoch, epochEnd, loss: crossEntropy(p.outputs, labels, classes), accuracy: right / p.count, records: p.count,
        confusion: confusionMatrix(labels, predicted, model.classes ?? classes),
        predicted: Uint8Array.from(predicted.subarray(0, this.show)), confidence,
      };
    }
    const r = await this.evaluator!.run();
    const report: EvalReport = { step, epoch, epochEnd, loss: r.loss, accuracy: r.accuracy, records: r.records };
    if (this.shownPredictor) {
      const p = await this.shownPredictor.predict(this.shownPixels);
      if (p.images) report.images = p.images;
      if (p.classes) report.predicted = Uint8Array.from(p.classes);
    }
    return report;
  }

  async dispose(): Promise<void> {
    await this.queue;
    this.full?.dispose();
    this.evaluator?.destroy();
    this.shownPredictor?.dispose();
  }
}
