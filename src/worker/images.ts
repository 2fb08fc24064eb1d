// Decoding image files in the browser (a worker or a page): createImageBitmap decodes off the
// calling thread and pre-shrinks large photos, an OffscreenCanvas hands over the RGBA pixels, and
// the engine's toChw averages them down to the model's input and lays them out CHW. Files that do
// not decode are skipped and reported, never fatal; an empty class is refused by labelledSet.
import { ConfigError } from '../errors.ts';
import { labelledSet, toChw } from '../data/images.ts';
import type { DecodeRequest, Decoded } from './protocol.ts';

/** Pre-shrink side as a multiple of the target: toChw then area-averages the rest without aliasing. */
const OVERSAMPLE = 4;

let canvas: OffscreenCanvas | undefined;

/** One image file as CHW bytes of `shape` ([C, H, W]); throws when it is not a decodable image. */
export async function decodeImage(file: Blob, shape: readonly number[], name = 'image'): Promise<Uint8Array> {
  const [c, h, w] = shape as [number, number, number];
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas === 'undefined') {
    throw new ConfigError('this browser cannot decode images off the page (createImageBitmap and OffscreenCanvas are needed)');
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (e) {
    throw new ConfigError(`${name}: not an image this browser can decode${e instanceof Error && e.message ? ` (${e.message})` : ''}`);
  }
  try {
    const sw = Math.min(bitmap.width, w * OVERSAMPLE), sh = Math.min(bitmap.height, h * OVERSAMPLE);
    canvas ??= new OffscreenCanvas(sw, sh);
    if (canvas.width !== sw || canvas.height !== sh) { canvas.width = sw; canvas.height = sh; }
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new ConfigError('no 2-D canvas context in this browser');
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.clearRect(0, 0, sw, sh);
    ctx.drawImage(bitmap, 0, 0, sw, sh);
    const data = ctx.getImageData(0, 0, sw, sh).data;
    return toChw({ width: sw, height: sh, data }, c, h, w, name);
  } finally {
    bitmap.close();
  }
}

/**
 * Decodes an image folder's classes (ImageFolder: one subfolder per class) into one labelled set.
 * Undecodable files are listed in `skipped`; a class left without images is refused by its name.
 */
export async function decodeClasses(req: DecodeRequest, onProgress?: (done: number, total: number) => void): Promise<Decoded> {
  const recordSize = req.shape.reduce((a, b) => a * b, 1);
  const skipped: Decoded['skipped'] = [];
  const total = req.classes.reduce((a, c) => a + c.files.length, 0);
  let done = 0;
  const classes: { name: string; images: Uint8Array[] }[] = [];
  for (const cls of req.classes) {
    const images: Uint8Array[] = [];
    for (let i = 0; i < cls.files.length; i++) {
      const file = cls.files[i]!;
      const name = cls.names?.[i] ?? (file instanceof File ? file.name : `${cls.name}/${i}`);
      try {
        images.push(await decodeImage(file, req.shape, name));
      } catch (e) {
        skipped.push({ name, className: cls.name, reason: e instanceof Error ? e.message : String(e) });
      }
      onProgress?.(++done, total);
    }
    classes.push({ name: cls.name, images });
  }
  const set = labelledSet(classes, recordSize, req.source ?? 'image folder');
  return { pixels: set.pixels, labels: set.labels, classNames: set.classNames, count: set.count,
    perClass: classes.map((c) => c.images.length), skipped };
}
