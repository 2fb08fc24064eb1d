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

/** Number of classes the labels can take (from the class names, else the largest label + 1). */
export function classCount(data: Dataset): number | undefined {
  if (data.classNames) return data.classNames.length;
  if (!data.labels || data.labels.length === 0) return undefined;
  return data.labels.reduce((a, b) => Math.max(a, b), 0) + 1;
}

const hashes = new WeakMap<Dataset, Promise<string>>();

/**
 * SHA-256 of the records (pixels, then labels), hex: a checkpoint stores it so a resume on other
 * data of the same size is noticed. Web Crypto, so the same in Node and browsers; computed once.
 */
export function dataHash(data: Dataset): Promise<string> {
  let h = hashes.get(data);
  if (!h) {
    const bytes = new Uint8Array(data.pixels.length + (data.labels?.length ?? 0));
    bytes.set(data.pixels);
    if (data.labels) bytes.set(data.labels, data.pixels.length);
    h = globalThis.crypto.subtle.digest('SHA-256', bytes).then((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join(''));
    hashes.set(data, h);
  }
  return h;
}

/**
 * A dataset from image bytes: `pixels` holds whole images in the model's input layout (C·H·W bytes
 * each, CHW order), `labels` one class index per image for classifiers. Checked here, so a wrong
 * pixel count is refused by name before any GPU work.
 */
export function dataset(pixels: Uint8Array, o: { shape: readonly number[]; labels?: Uint8Array | readonly number[]; source?: string; classNames?: readonly string[] }): Dataset {
  const source = o.source ?? 'dataset';
  if (!(pixels instanceof Uint8Array)) throw new ConfigError(`${source}: pixels must be a Uint8Array of image bytes`);
  const size = o.shape.reduce((a, b) => a * b, 1);
  if (!o.shape.every((d) => Number.isInteger(d) && d > 0)) throw new ConfigError(`${source}: shape must be positive integers, got [${o.shape.join(', ')}]`);
  if (pixels.length === 0 || pixels.length % size !== 0) {
    throw new ConfigError(`${source}: pixels holds ${pixels.length} bytes, not a whole number of [${o.shape.join(', ')}] images (${size} bytes each)`);
  }
  const count = pixels.length / size;
  const labels = o.labels === undefined ? undefined : Uint8Array.from(o.labels);
  if (labels && labels.length !== count) throw new ConfigError(`${source}: labels has ${labels.length} entries for ${count} images`);
  return { count, pixels, labels, source, classNames: o.classNames };
}
