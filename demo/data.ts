// Where the demo's images come from: the embedded sample (fetched from Vite-served assets) or a file
// the user drops or picks (the official cifar-10-binary.tar.gz or one *.bin batch), read as a stream
// with progress. Parsing and its error messages are the engine's (src/data/cifar.ts).
import { CIFAR_PIXELS, FormatError, parseCifarBatch, parseCifarTarGz, type CifarSet, type Dataset } from '../src/index.ts';
import sampleUrl from '../data/sample.bin?url';
import sampleTestUrl from '../data/sample_test.bin?url';

/** How many held-out images the reconstruction grid shows. */
export const SHOWN = 16;

export interface TrainData {
  train: Dataset;
  /** SHOWN held-out images (CHW bytes) for the reconstruction grid. */
  test: Uint8Array;
  /** One line for the page, e.g. "embedded sample (2,880 images)". */
  label: string;
}

export type Progress = (fraction: number) => void;

async function fetchBytes(url: string, name: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new FormatError(`${name}: could not fetch it (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

function shown(set: CifarSet): Uint8Array {
  if (set.count < SHOWN) throw new FormatError(`${set.source}: ${set.count} held-out images are fewer than the ${SHOWN} shown`);
  return set.pixels.slice(0, SHOWN * CIFAR_PIXELS);
}

const count = (n: number) => n.toLocaleString('en-US');

let embeddedTest: Uint8Array | undefined;

/** The embedded sample: data/sample.bin to train on, data/sample_test.bin held out. */
export async function loadEmbedded(): Promise<TrainData> {
  const [train, test] = await Promise.all([
    fetchBytes(sampleUrl, 'sample.bin').then((b) => parseCifarBatch(b, 'sample.bin')),
    fetchBytes(sampleTestUrl, 'sample_test.bin').then((b) => parseCifarBatch(b, 'sample_test.bin')),
  ]);
  embeddedTest = shown(test);
  return { train, test: embeddedTest, label: `embedded sample (${count(train.count)} images)` };
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

/**
 * Parses a dropped or picked file. The archive's test_batch (if present) becomes the held-out set;
 * a single batch keeps the embedded held-out images.
 */
export async function loadFile(file: File, onProgress: Progress): Promise<TrainData> {
  const name = file.name;
  if (/\.(tar\.gz|tgz)$/i.test(name)) {
    const { train, test } = await parseCifarTarGz(file.stream(), name, (bytes) => onProgress(bytes / Math.max(1, file.size)));
    return {
      train, test: test ? shown(test) : embeddedTest!,
      label: `${name} (${count(train.count)} images${test ? `, ${count(test.count)} held out` : ''})`,
    };
  }
  if (/\.bin$/i.test(name)) {
    const train = parseCifarBatch(await readAll(file, onProgress), name);
    return { train, test: embeddedTest!, label: `${name} (${count(train.count)} images)` };
  }
  throw new FormatError(`${name}: expected the official cifar-10-binary.tar.gz or a CIFAR-10 *.bin batch file`);
}
