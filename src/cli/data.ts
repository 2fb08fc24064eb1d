// What `--data` and `--eval` may name, turned into a Dataset: a CIFAR-10 `.bin` batch, the
// extracted folder or the official `.tar.gz` (train or test split), an image folder (one subfolder
// per class, PNG/JPEG), or nothing: the embedded sample and its held-out part.
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError } from '../errors.ts';
import { loadCifar, loadEmbeddedSample, loadEmbeddedSampleTest } from '../data/load_node.ts';
import { isImageFolder, loadImageFolder } from '../data/images_node.ts';
import type { Dataset } from '../train/dataset.ts';

export interface LoadedData extends Dataset {
  /** Image files that could not be decoded (image folders only). */
  skipped?: number;
}

export async function loadData(path: string | undefined, input: readonly number[], split: 'train' | 'test', flag: string): Promise<LoadedData> {
  if (path === undefined) return split === 'train' ? loadEmbeddedSample() : loadEmbeddedSampleTest();
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch (e) {
    throw new ConfigError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : `cannot read (${(e as NodeJS.ErrnoException).code})`}`);
  }
  if (dir && isImageFolder(path)) {
    const set = loadImageFolder(path, input);
    return { ...set, source: basename(path) };
  }
  try {
    return await loadCifar(path, undefined, split);
  } catch (e) {
    if (e instanceof ConfigError && dir) {
      throw new ConfigError(`${flag} ${path}: neither a CIFAR-10 folder (data_batch_*.bin) nor an image folder (one subfolder of PNG/JPEG files per class)`);
    }
    throw e;
  }
}
