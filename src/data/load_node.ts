// Node-side CIFAR loading: turns a path the user typed (a .bin batch, the extracted
// `cifar-10-batches-bin/` folder, or the official .tar.gz) into a CifarSet. Kept apart from
// cifar.ts so the browser bundle never pulls in `fs`.
import { createReadStream } from 'node:fs';
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.ts';
import { concatCifar, parseCifarBatch, parseCifarTarGz, type CifarArchive, type CifarSet, type ProgressFn } from './cifar.ts';

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
  return parseCifarBatch(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), source);
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
export async function loadCifar(path: string, onProgress?: ProgressFn): Promise<CifarSet> {
  const info = await statOrThrow(path);
  if (info.isDirectory()) {
    let dir = path;
    const entries = new Set(await readdir(dir));
    if (!entries.has('data_batch_1.bin') && entries.has('cifar-10-batches-bin')) {
      dir = join(path, 'cifar-10-batches-bin');
    }
    const present = new Set(await readdir(dir));
    const names = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).filter((n) => present.has(n));
    if (names.length === 0) throw new ConfigError(`${path}: folder has no data_batch_1..5.bin`);
    const sets: CifarSet[] = [];
    for (const n of names) sets.push(await readBin(join(dir, n), n));
    return sets.length === 1 ? sets[0]! : concatCifar(sets, basename(path));
  }
  if (await isGzip(path)) return (await loadCifarArchive(path, onProgress)).train;
  return readBin(path);
}

/** The embedded default dataset: 2,880 32x32 patches of public-domain/CC0 photos (see data/README.md). */
export function loadEmbeddedSample(): Promise<CifarSet> {
  return readBin(SAMPLE_PATH, 'sample.bin');
}

/** The held-out patches (different image areas than the training sample), for reconstructions. */
export function loadEmbeddedSampleTest(): Promise<CifarSet> {
  return readBin(SAMPLE_TEST_PATH, 'sample_test.bin');
}
