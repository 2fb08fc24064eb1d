// Where the demo's images come from: the embedded sample (fetched from Vite-served assets), a file
// the user drops or picks (the official cifar-10-binary.tar.gz or one *.bin batch, read as a stream
// with progress), or the user's own labelled images (a folder or webcam frames, decoded in the
// worker). Parsing and its messages are the engine's; this file only decides the held-out split
// each mode trains with, and whether a set fits the device.
import {
  CIFAR_CLASS_NAMES, CIFAR_PIXELS, FormatError, SAMPLE_CLASS_NAMES, parseCifarBatch, parseCifarTarGz, type CifarSet,
} from '../src/index.ts';
import type { DataBytes } from '../src/worker/protocol.ts';
import sampleUrl from '../data/sample.bin?url';
import sampleTestUrl from '../data/sample_test.bin?url';

/** How many held-out images the reconstruction grid shows (autoencoder mode). */
export const SHOWN = 16;
/** How many held-out images the predictions grid shows (classify mode). */
export const SHOWN_PREDICTIONS = 24;
/** Held-out images evaluated live: enough for a steady accuracy, few enough for a software GPU. */
const HELD_OUT = { autoencoder: 256, classify: 1000 } as const;

export type Mode = 'autoencoder' | 'classify';

export interface Images { count: number; pixels: Uint8Array; labels?: Uint8Array; source: string }

export interface TrainData {
  kind: 'sample' | 'cifar' | 'batch' | 'folder' | 'webcam';
  train: Images;
  /** Held-out images with labels when known (the archive's test_batch, the sample's test part, a folder's split). */
  test?: Images;
  classNames?: readonly string[];
  /** One line for the page, e.g. "embedded sample (2,880 images)". */
  label: string;
}

/** What one run trains and evaluates on, in the worker's terms. */
export interface Prepared { train: DataBytes; test: DataBytes; shown: Uint8Array; shownLabels?: Uint8Array; classNames?: readonly string[] }

export type Progress = (fraction: number) => void;

const count = (n: number) => n.toLocaleString('en-US');

async function fetchBytes(url: string, name: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new FormatError(`${name}: could not fetch it (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

let embedded: TrainData | undefined;

/** The embedded sample: data/sample.bin to train on, data/sample_test.bin held out; labels are the six source photos. */
export async function loadEmbedded(): Promise<TrainData> {
  const [train, test] = await Promise.all([
    fetchBytes(sampleUrl, 'sample.bin').then((b) => parseCifarBatch(b, 'sample.bin')),
    fetchBytes(sampleTestUrl, 'sample_test.bin').then((b) => parseCifarBatch(b, 'sample_test.bin')),
  ]);
  embedded = { kind: 'sample', train, test, classNames: SAMPLE_CLASS_NAMES, label: `embedded sample (${count(train.count)} images)` };
  return embedded;
}

/** Reads a whole file through its stream, reporting progress (File.arrayBuffer gives none). */
async function readAll(file: File, onProgress: Progress): Promise<Uint8Array> {
  const out = new Uint8Array(file.size);
  const reader = file.stream().getReader();
  let at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > out.length) throw new FormatError(`${file.name}: the file grew while being read`);
    out.set(value, at);
    at += value.length;
    onProgress(at / Math.max(1, file.size));
  }
  return out.subarray(0, at);
}

/** Parses a dropped or picked CIFAR-10 file. The archive's test_batch (if present) is held out. */
export async function loadFile(file: File, onProgress: Progress): Promise<TrainData> {
  const name = file.name;
  if (/\.(tar\.gz|tgz)$/i.test(name)) {
    const { train, test } = await parseCifarTarGz(file.stream(), name, (bytes) => onProgress(bytes / Math.max(1, file.size)));
    return {
      kind: 'cifar', train, test: test ?? undefined, classNames: CIFAR_CLASS_NAMES,
      label: `${name} (${count(train.count)} images${test ? `, ${count(test.count)} held out` : ''})`,
    };
  }
  if (/\.bin$/i.test(name)) {
    const train = parseCifarBatch(await readAll(file, onProgress), name);
    return { kind: 'batch', train, classNames: CIFAR_CLASS_NAMES, label: `${name} (${count(train.count)} images)` };
  }
  throw new FormatError(`${name}: expected the official cifar-10-binary.tar.gz or a CIFAR-10 *.bin batch file`);
}

function take(set: Images, indices: number[], source: string): Images {
  const pixels = new Uint8Array(indices.length * CIFAR_PIXELS);
  const labels = set.labels ? new Uint8Array(indices.length) : undefined;
  indices.forEach((i, k) => {
    pixels.set(set.pixels.subarray(i * CIFAR_PIXELS, (i + 1) * CIFAR_PIXELS), k * CIFAR_PIXELS);
    if (labels) labels[k] = set.labels![i]!;
  });
  return { count: indices.length, pixels, labels, source };
}

/** Holds out every `every`-th image of each class (at least one per class that has two), keeping the rest to train on. */
export function splitHeldOut(set: Images, every: number): { train: Images; test: Images } {
  const seen = new Map<number, number>();
  const train: number[] = [], test: number[] = [];
  for (let i = 0; i < set.count; i++) {
    const label = set.labels?.[i] ?? 0;
    const k = seen.get(label) ?? 0;
    seen.set(label, k + 1);
    (k % every === every - 1 ? test : train).push(i);
  }
  // A class with fewer than `every` images still lends one to the held-out set, if it has two.
  for (const [label, n] of seen) {
    if (n >= 2 && n < every) {
      const last = train.filter((i) => (set.labels?.[i] ?? 0) === label).pop()!;
      train.splice(train.indexOf(last), 1);
      test.push(last);
    }
  }
  test.sort((a, b) => a - b);
  return { train: take(set, train, set.source), test: take(set, test, `${set.source} (held out)`) };
}

/** Interleaves classes so the first few held-out images (the ones shown) cover every class. */
function interleave(set: Images): Images {
  if (!set.labels) return set;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < set.count; i++) {
    const l = set.labels[i]!;
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  }
  const lists = [...byClass.keys()].sort((a, b) => a - b).map((k) => byClass.get(k)!);
  const order: number[] = [];
  for (let r = 0; order.length < set.count; r++) for (const l of lists) if (r < l.length) order.push(l[r]!);
  return take(set, order, set.source);
}

function bytes(set: Images, limit: number): DataBytes {
  const n = Math.min(set.count, limit);
  return { pixels: set.pixels.subarray(0, n * CIFAR_PIXELS), labels: set.labels?.subarray(0, n), source: set.source };
}

/** The training and held-out sets a mode uses for `data`. */
export function prepare(data: TrainData, mode: Mode): Prepared {
  let { train, test } = data;
  if (!test) {
    // A single CIFAR batch trains the autoencoder on all of it and shows the sample's held-out images;
    // a classifier needs held-out images of its own classes, so a tenth is set aside.
    if (mode === 'autoencoder' && data.kind === 'batch' && embedded?.test) test = embedded.test;
    else ({ train, test } = splitHeldOut(train, 10));
  }
  if (mode === 'classify') test = interleave(test);
  const held = bytes(test, HELD_OUT[mode]);
  const shownCount = Math.min(mode === 'classify' ? SHOWN_PREDICTIONS : SHOWN, test.count);
  return {
    train: { ...bytes(train, train.count), classNames: data.classNames },
    test: held,
    shown: test.pixels.slice(0, shownCount * CIFAR_PIXELS),
    shownLabels: test.labels?.slice(0, shownCount),
    classNames: data.classNames,
  };
}

const MIB = 1024 * 1024;
export const formatBytes = (n: number) => (n >= 1024 * MIB ? `${(n / 1024 / MIB).toFixed(2)} GiB`
  : n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);

/**
 * The dataset's GPU memory (its bytes live in one storage buffer), or a refusal naming the largest
 * number of images that fit the device's maxStorageBufferBindingSize.
 */
export function checkFits(images: number, recordBytes: number, maxBinding: number, source: string): string {
  const need = images * recordBytes;
  if (need > maxBinding) {
    const fit = Math.floor(maxBinding / recordBytes);
    throw new FormatError(`${source}: ${count(images)} images take ${formatBytes(need)} on the GPU, more than this device can bind ` +
      `in one buffer (maxStorageBufferBindingSize ${formatBytes(maxBinding)}); at most ${count(fit)} images (${formatBytes(fit * recordBytes)}) fit`);
  }
  return `${count(images)} images, ${formatBytes(need)} on the GPU`;
}

export type { CifarSet };
