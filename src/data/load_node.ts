// Node-side CIFAR loading: turns a path the user typed (a .bin batch, the extracted
// `cifar-10-batches-bin/` folder, or the official .tar.gz) into a CifarSet. Kept apart from
// cifar.ts so the browser bundle never pulls in `fs`.
import { createReadStream } from 'node:fs';
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.ts';
import { CIFAR_CLASS_NAMES, concatCifar, parseCifarBatch, parseCifarTarGz, type CifarArchive, type CifarSet, type ProgressFn } from './cifar.ts';
import { SAMPLE_CLASS_NAMES } from './sample.ts';

/** The embedded default training set and its held-out companion (built by scripts/build_sample.py). */
export const SAMPLE_PATH = fileURLToPath(new URL('../../data/sample.bin', import.meta.url));
export const SAMPLE_TEST_PATH = fileURLToPath(new URL('../../data/sample_test.bin', import.meta.url));

async function statOrThrow(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${path}: ${code === 'ENOENT' ? 'no such file or folder' : `cannot read (${code})`}`);
  }
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(new Uint8Array(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

async function readBin(path: string, source = basename(path)): Promise<CifarSet> {
  const buf = await readFile(path);
  return { ...parseCifarBatch(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), source), classNames: CIFAR_CLASS_NAMES };
}

/** Stream a .tar.gz from disk: both the training set and, if present, the test set. */
export async function loadCifarArchive(path: string, onProgress?: ProgressFn): Promise<CifarArchive> {
  await statOrThrow(path);
  const web = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
  return parseCifarTarGz(web, basename(path), onProgress);
}

/**
 * Load a CIFAR-10 training set from a single `.bin` batch, the extracted folder
 * (`cifar-10-batches-bin/`, or a folder holding it: data_batch_1..5.bin that exist, in order),
 * or `cifar-10-binary.tar.gz` (recognised by its gzip magic, read as a stream).
 */
export async function loadCifar(path: string, onProgress?: ProgressFn, split: 'train' | 'test' = 'train'): Promise<CifarSet> {
  const info = await statOrThrow(path);
  if (info.isDirectory()) {
    let dir = path;
    const entries = new Set(await readdir(dir));
    if (!entries.has('data_batch_1.bin') && entries.has('cifar-10-batches-bin')) {
      dir = join(path, 'cifar-10-batches-bin');
    }
    const present = new Set(await readdir(dir));
    if (split === 'test') {
      if (!present.has('test_batch.bin')) throw new ConfigError(`${path}: folder has no test_batch.bin`);
      return readBin(join(dir, 'test_batch.bin'), 'test_batch.bin');
    }
    const names = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).filter((n) => present.has(n));
    if (names.length === 0) throw new ConfigError(`${path}: folder has no data_batch_1..5.bin`);
    const sets: CifarSet[] = [];
    for (const n of names) sets.push(await readBin(join(dir, n), n));
    return sets.length === 1 ? sets[0]! : concatCifar(sets, basename(path));
  }
  if (!info.isFile()) throw new ConfigError(`${path}: not a regular file or folder (a device, FIFO or socket)`);
  if (await isGzip(path)) {
    const archive = await loadCifarArchive(path, onProgress);
    if (split === 'train') return { ...archive.train, classNames: CIFAR_CLASS_NAMES };
    if (!archive.test) throw new ConfigError(`${path}: the archive has no test_batch.bin`);
    return { ...archive.test, classNames: CIFAR_CLASS_NAMES };
  }
  return readBin(path);
}

/** The embedded default dataset: 2,880 32x32 patches of public-domain/CC0 photos (see data/README.md). */
export async function loadEmbeddedSample(): Promise<CifarSet> {
  return { ...await readBin(SAMPLE_PATH, 'sample.bin'), classNames: SAMPLE_CLASS_NAMES };
}

/** The held-out patches (different image areas than the training sample), for evaluation and reconstructions. */
export async function loadEmbeddedSampleTest(): Promise<CifarSet> {
  return { ...await readBin(SAMPLE_TEST_PATH, 'sample_test.bin'), classNames: SAMPLE_CLASS_NAMES };
}
