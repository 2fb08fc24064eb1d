// A dataset as the engine takes it: records of bytes in the model's input layout (CHW) and, for
// classifiers, one label byte per record. Labels are checked against the model before any upload.
import { ConfigError } from '../errors.ts';
import type { Model } from '../nn/spec.ts';

export interface Dataset {
  count: number;
  /** count × C·H·W bytes, CHW per record. */
  pixels: Uint8Array;
  /** One class index per record (CIFAR-10's label byte); absent for unlabelled data. */
  labels?: Uint8Array;
  /** What the labels mean, when known (CIFAR-10's class names, an image folder's subfolders). */
  classNames?: readonly string[];
  /** File or folder it came from, for messages. */
  source: string;
}

/** Refuses data a label-target model cannot train on, naming the first bad record. */
export function checkLabels(model: Model, data: Dataset): void {
  if (model.target !== 'label') return;
  const labels = data.labels;
  if (!labels) throw new ConfigError(`${data.source}: the model's target is the label, but the data has no labels`);
  if (labels.length !== data.count) throw new ConfigError(`${data.source}: ${labels.length} labels for ${data.count} records`);
  const classes = model.classes!;
  const bad = labels.findIndex((l) => l >= classes);
  if (bad >= 0) {
    const out = model.output[0] === 1 ? 'a single binary output (labels 0 and 1)' : `${classes} classes`;
    throw new ConfigError(`${data.source}: record ${bad} has label ${labels[bad]}, but the model's output has ${out}`);
  }
}
