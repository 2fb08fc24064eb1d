// `kiln predict`: a trained model in evaluation mode on new images — PNG and JPEG files (decoded
// with pngjs / jpeg-js, resized to the model's input) and CIFAR-10 .bin batches — printing one JSON
// line per image: the class, its name and the probabilities for classifiers, the reconstruction
// error (and with --out the reconstruction as a PNG) for autoencoders. Everything that can be
// refused (flags, weights for another model, an image that does not decode) is refused before the
// GPU is opened, in one line.
import { mkdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { PNG } from 'pngjs';
import { ConfigError } from '../errors.ts';
import { openNodeDevice } from '../gpu/node.ts';
import { CIFAR_CLASS_NAMES, CIFAR_PIXELS, CIFAR_SIDE, parseCifarBatch } from '../data/cifar.ts';
import { loadImageFile } from '../data/images_node.ts';
import { toChw } from '../data/images.ts';
import { SAMPLE_CLASS_NAMES } from '../data/sample.ts';
import { bytesToFloats, DATA_RANGES, type DataRange } from '../data/range.ts';
import { parseSafetensors, type Tensor } from '../io/safetensors.ts';
import { weightsFromTensors } from '../io/weights.ts';
import type { Model } from '../nn/spec.ts';
import { Predictor, type Prediction } from '../train/predict.ts';
import { defaultRange } from '../train/trainer.ts';
import { readInput, writeAtomic } from './files.ts';
import { isPreset, loadModel, num, oneOf, parseWithPositionals } from './options.ts';

export const PREDICT_HELP = `predict options (kiln predict --model M --weights W <image.png|.jpg|.bin> [more…]):
  --model <cae|classifier|spec.json>  the model the weights are for (default cae; the classifier preset
                            takes its class count from the weights)
  --weights <path>          a --save file (or a PyTorch state_dict saved as safetensors); required
  --classes a,b,c           class names in label order (default: CIFAR-10's for 10 classes, the embedded
                            sample's for 6, none otherwise; for an image folder, its subfolder names sorted)
  --probabilities           insist on class probabilities: refuse an autoencoder, or a classifier trained
                            with mse/l1 (whose outputs are scores)
  --out <folder>            autoencoders: write each reconstruction there as <name>.png
  --range 0,1|-1,1 (what the output activation needs)  --batch N (32)
  One JSON line per image: {"file", "class", "name", "probabilities" (or "scores")} for a classifier,
  {"file", "mse" (vs the input, in the data range), "out"} for an autoencoder. A CIFAR-10 .bin
  predicts every record ("index", "label" added) and ends with {"summary": true, "file", "count",
  "accuracy"} (or the mean "mse").`;

/** One image to predict: where it came from, and for .bin records their index and label. */
interface Item { file: string; index?: number; label?: number }
interface Inputs { items: Item[]; pixels: Uint8Array; bins: { file: string; from: number; count: number }[] }

const round = (x: number) => Number(x.toPrecision(6));

/** The classifier preset sized by the weights' output layer (6 classes for the sample, 10 for CIFAR-10). */
function modelFor(arg: string | undefined, tensors: Map<string, Tensor>): Model {
  const model = loadModel(arg);
  if (!isPreset(arg) || model.target !== 'label') return model;
  const head = [...model.layers].reverse().find((L) => L.params.length > 0)!;
  const n = tensors.get(`${head.name}.${head.params[0]!.name}`)?.shape[0];
  return n !== undefined && n >= 2 && n !== model.output[0] ? loadModel(arg, n) : model;
}

/** Whether Predictor gives probabilities: softmax for cross-entropy, a sigmoid output as it is. */
const hasProbabilities = (m: Model) => m.target === 'label' && (m.loss === 'cross_entropy' || m.outputActivation === 'sigmoid');

function classNames(model: Model, flag: string | undefined): { names?: readonly string[]; assumed?: string } {
  if (flag !== undefined) {
    if (model.target !== 'label') throw new ConfigError('--classes applies to a classifier (this model reconstructs its input)');
    const names = flag.split(',').map((s) => s.trim());
    if (names.some((n) => n === '')) throw new ConfigError(`--classes must be names separated by commas, got ${JSON.stringify(flag)}`);
    if (names.length !== model.classes) throw new ConfigError(`--classes gives ${names.length} names, the model has ${model.classes} classes`);
    return { names };
  }
  if (model.classes === CIFAR_CLASS_NAMES.length) return { names: CIFAR_CLASS_NAMES, assumed: "CIFAR-10's" };
  if (model.classes === SAMPLE_CLASS_NAMES.length) return { names: SAMPLE_CLASS_NAMES, assumed: "the embedded sample's" };
  return {};
}

/** A CIFAR-10 record (RGB 32×32, CHW) as the model's input. */
function fromRecord(rec: Uint8Array, input: readonly number[], source: string): Uint8Array {
  if (input[0] === 3 && input[1] === CIFAR_SIDE && input[2] === CIFAR_SIDE) return rec;
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const rgba = new Uint8Array(4 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = rec[c * plane + i]!;
    rgba[4 * i + 3] = 255;
  }
  return toChw({ width: CIFAR_SIDE, height: CIFAR_SIDE, data: rgba }, input[0]!, input[1]!, input[2]!, source);
}

function loadInputs(files: string[], model: Model): Inputs {
  const size = model.input.reduce((a, b) => a * b, 1);
  const items: Item[] = [], chunks: Uint8Array[] = [], bins: Inputs['bins'] = [];
  for (const file of files) {
    if (extname(file).toLowerCase() !== '.bin') {
      chunks.push(loadImageFile(file, model.input));
      items.push({ file });
      continue;
    }
    const set = parseCifarBatch(readInput(file, 'predict'), file);
    bins.push({ file, from: items.length, count: set.count });
    for (let i = 0; i < set.count; i++) {
      chunks.push(fromRecord(set.pixels.subarray(i * CIFAR_PIXELS, (i + 1) * CIFAR_PIXELS), model.input, `${file} record ${i}`));
      items.push({ file, index: i, label: set.labels[i]! });
    }
  }
  const pixels = new Uint8Array(items.length * size);
  chunks.forEach((c, i) => pixels.set(c, i * size));
  return { items, pixels, bins };
}

/** Where each reconstruction goes: <name>.png, or <name>_<index>.png for .bin records; clashes refused. */
function outPaths(dir: string, items: Item[]): string[] {
  const seen = new Map<string, string>();
  return items.map((it) => {
    const stem = basename(it.file, extname(it.file));
    const path = join(dir, it.index === undefined ? `${stem}.png` : `${stem}_${it.index}.png`);
    const other = seen.get(path);
    if (other !== undefined) throw new ConfigError(`--out ${dir}: ${other} and ${it.file} would both be written to ${path}`);
    seen.set(path, it.file);
    return path;
  });
}

function prepareOutDir(dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw new ConfigError(`--out ${dir}: not a folder`);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e2) {
      throw new ConfigError(`--out ${dir}: cannot create the folder (${(e2 as NodeJS.ErrnoException).code ?? (e2 as Error).message})`);
    }
  }
}

/** CHW bytes (1 or 3 channels) as a PNG file. */
function png(chw: Uint8Array, [c, h, w]: readonly number[]): Uint8Array {
  const img = new PNG({ width: w!, height: h! });
  const plane = h! * w!;
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = chw[(c === 1 ? 0 : k) * plane + i]!;
    img.data[4 * i + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(img));
}

export async function predict(argv: string[]): Promise<number> {
  const { values: a, positionals: files } = parseWithPositionals(argv, {
    model: { type: 'string' }, weights: { type: 'string' }, classes: { type: 'string' }, probabilities: { type: 'boolean' },
    out: { type: 'string' }, range: { type: 'string' }, batch: { type: 'string' },
  });
  if (a.weights === undefined) throw new ConfigError('--weights <file.safetensors> is required (a kiln train --save file)');
  if (files.length === 0) throw new ConfigError('give at least one image to predict (.png, .jpg, or a CIFAR-10 .bin)');
  const tensors = parseSafetensors(readInput(a.weights, '--weights'), a.weights).tensors;
  const model = modelFor(a.model, tensors);
  const what = `--model ${a.model ?? 'cae'}`;
  if (a.probabilities && model.target === 'input') {
    throw new ConfigError(`--probabilities: ${what} outputs images [${model.output.join(', ')}] (an autoencoder), not a class vector`);
  }
  if (a.probabilities && !hasProbabilities(model)) {
    throw new ConfigError(`--probabilities: ${what} was trained with ${model.loss} on its outputs, which are scores, not probabilities ` +
      '(train with cross_entropy, or end the model in a sigmoid)');
  }
  if (a.out !== undefined && model.target !== 'input') throw new ConfigError(`--out writes reconstructions, but ${what} is a classifier`);
  const { names, assumed } = classNames(model, a.classes);
  const range: DataRange = a.range === undefined ? defaultRange(model) : oneOf(a.range, '--range', DATA_RANGES, '0,1');
  const batch = num(a.batch, '--batch', 32, { int: true, min: 1 });
  const weights = weightsFromTensors(model, tensors, a.weights);
  const inputs = loadInputs(files, model);
  const outs = a.out !== undefined ? outPaths(a.out, inputs.items) : undefined;
  if (a.out !== undefined) prepareOutDir(a.out);
  if (assumed) console.error(`kiln: class names assumed to be ${assumed} (${model.classes} classes); give --classes to name them`);

  const gpu = await openNodeDevice();
  let p: Prediction;
  try {
    const predictor = gpu.errors.watch(() => Predictor.fromWeights(gpu, model, weights, { batch, range }));
    p = await predictor.predict(inputs.pixels);
    predictor.dispose();
  } finally {
    gpu.close();
  }
  report(model, inputs, p, { names, outs, range });
  return 0;
}

function report(model: Model, inputs: Inputs, p: Prediction, o: { names?: readonly string[]; outs?: string[]; range: DataRange }): void {
  const inSize = model.input.reduce((x, y) => x * y, 1);
  const c = model.output.reduce((x, y) => x * y, 1);
  const correct: boolean[] = [], errors: number[] = [];
  inputs.items.forEach((it, i) => {
    const line: Record<string, unknown> = { file: it.file, ...(it.index !== undefined ? { index: it.index, label: it.label } : {}) };
    if (model.target === 'label') {
      const k = p.classes![i]!;
      line.class = k;
      if (o.names) line.name = o.names[k];
      if (p.probabilities) {
        const row = [...p.probabilities.subarray(i * c, (i + 1) * c)];
        // One sigmoid output is P(class 1): listed as [P(0), P(1)] so the class indexes it.
        line.probabilities = (c === 1 ? [1 - row[0]!, row[0]!] : row).map(round);
      } else line.scores = [...p.outputs.subarray(i * c, (i + 1) * c)].map(round);
      correct[i] = k === it.label;
    } else {
      const x = bytesToFloats(inputs.pixels.subarray(i * inSize, (i + 1) * inSize), o.range);
      let sum = 0;
      for (let j = 0; j < inSize; j++) sum += (p.outputs[i * inSize + j]! - x[j]!) ** 2;
      errors[i] = sum / inSize;
      line.mse = round(errors[i]!);
      if (o.outs) line.out = writeAtomic(o.outs[i]!, png(p.images!.subarray(i * inSize, (i + 1) * inSize), model.input), '--out');
    }
    console.log(JSON.stringify(line));
    const bin = inputs.bins.find((b) => b.from + b.count - 1 === i);
    if (!bin) return;
    const span = (xs: unknown[]) => xs.slice(bin.from, bin.from + bin.count);
    const summary: Record<string, unknown> = { summary: true, file: bin.file, count: bin.count };
    if (model.target === 'label') summary.accuracy = round(span(correct).filter(Boolean).length / bin.count);
    else summary.mse = round((span(errors) as number[]).reduce((s, e) => s + e, 0) / bin.count);
    console.log(JSON.stringify(summary));
  });
}
