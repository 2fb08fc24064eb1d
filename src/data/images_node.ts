// Image folders in Node (the ImageFolder convention: one subfolder per class, PNG or JPEG files
// inside), decoded with pngjs and jpeg-js (pure JavaScript) and resized to the model's input.
// Files that cannot be decoded are skipped and counted, never fatal; an empty class is refused.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { ConfigError } from '../errors.ts';
import { labelledSet, toChw, type ClassImages, type LabelledSet, type Rgba } from './images.ts';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
/** Refuse to decode images past this many pixels (a decompression bomb would exhaust memory). */
const MAX_PIXELS = 50_000_000;

/** Decodes a PNG or JPEG file by its magic bytes (not its name); throws on anything else. */
export function decodeImage(bytes: Uint8Array, source: string): Rgba {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) {
      const png = PNG.sync.read(b);
      return { width: png.width, height: png.height, data: png.data };
    }
    if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
      const img = jpeg.decode(b, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (e) {
    throw new ConfigError(`${source}: cannot decode (${(e as Error).message.split('\n')[0]})`);
  }
  throw new ConfigError(`${source}: not a PNG or JPEG file`);
}

/** A single image file as model input bytes (CHW). */
export function loadImageFile(path: string, input: readonly number[]): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new ConfigError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return toChw(decodeImage(bytes, path), input[0]!, input[1]!, input[2]!, path);
}

/** True when `dir` looks like an image folder: subfolders holding image files. */
export function isImageFolder(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() &&
      readdirSync(join(dir, e.name)).some((f) => EXTENSIONS.has(extname(f).toLowerCase())));
  } catch {
    return false;
  }
}

export interface ImageFolderSet extends LabelledSet { skipped: number; skippedFiles: string[] }

/** Loads `dir` (subfolders = classes, sorted by name as torchvision's ImageFolder does). */
export function loadImageFolder(dir: string, input: readonly number[]): ImageFolderSet {
  const classes: ClassImages[] = [];
  const skippedFiles: string[] = [];
  const names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  for (const name of names) {
    const images: Uint8Array[] = [];
    for (const f of readdirSync(join(dir, name)).sort()) {
      const path = join(dir, name, f);
      if (!EXTENSIONS.has(extname(f).toLowerCase()) || !statSync(path).isFile()) continue;
      try {
        images.push(loadImageFile(path, input));
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        skippedFiles.push(path);
      }
    }
    classes.push({ name, images });
  }
  const set = labelledSet(classes, input.reduce((a, b) => a * b, 1), basename(dir));
  return { ...set, skipped: skippedFiles.length, skippedFiles };
}
