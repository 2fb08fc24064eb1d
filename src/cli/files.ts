// File output for the CLI: every write is atomic (temp file in the same folder, then rename), so an
// interrupted save never destroys the previous file; destinations are checked before training starts.
import { accessSync, constants, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';

export function checkWritable(path: string, flag: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${flag} ${path}: folder ${dir} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new ConfigError(`${flag} ${path}: folder ${dir} is not writable`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new ConfigError(`${flag} ${path}: is a folder, not a file`);
}

export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function readInput(path: string, flag: string): Uint8Array {
  if (!existsSync(path)) throw new ConfigError(`${flag} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new ConfigError(`${flag} ${path}: is a folder, not a file`);
  return new Uint8Array(readFileSync(path));
}
