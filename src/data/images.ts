// Turning decoded images (RGBA, any size) into model inputs: resized by area averaging (every source
// pixel weighs by how much of it falls in the target pixel, so shrinking does not alias) and laid
// out CHW as bytes, RGB or grey. Pure arithmetic: the browser decodes with createImageBitmap, Node
// with pngjs / jpeg-js, and both land here.
import { ConfigError } from '../errors.ts';

export interface Rgba { width: number; height: number; data: Uint8Array | Uint8ClampedArray }

/** Weights of the source pixels covering each target pixel along one axis. */
function spans(from: number, to: number): { start: number; weights: number[] }[] {
  const scale = from / to;
  return Array.from({ length: to }, (_, i) => {
    const lo = i * scale, hi = (i + 1) * scale;
    const start = Math.floor(lo);
    const weights: number[] = [];
    for (let s = start; s < Math.min(from, Math.ceil(hi)); s++) weights.push((Math.min(hi, s + 1) - Math.max(lo, s)) / scale);
    return { start, weights };
  });
}

/** `img` resized to `height`×`width` and laid out CHW with `channels` 3 (RGB) or 1 (luma, ITU-R BT.601). */
export function toChw(img: Rgba, channels: number, height: number, width: number, source = 'image'): Uint8Array {
  if (channels !== 1 && channels !== 3) throw new ConfigError(`${source}: a model input of ${channels} channels cannot take images (1 or 3)`);
  if (img.width < 1 || img.height < 1) throw new ConfigError(`${source}: empty image`);
  const xs = spans(img.width, width), ys = spans(img.height, height);
  const out = new Uint8Array(channels * height * width);
  const plane = height * width;
  for (let y = 0; y < height; y++) {
    const sy = ys[y]!;
    for (let x = 0; x < width; x++) {
      const sx = xs[x]!;
      let r = 0, g = 0, b = 0;
      sy.weights.forEach((wy, j) => {
        const row = (sy.start + j) * img.width;
        sx.weights.forEach((wx, i) => {
          const at = 4 * (row + sx.start + i), w = wy * wx;
          r += w * img.data[at]!;
          g += w * img.data[at + 1]!;
          b += w * img.data[at + 2]!;
        });
      });
      const at = y * width + x;
      if (channels === 1) out[at] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      else {
        out[at] = Math.round(r);
        out[plane + at] = Math.round(g);
        out[2 * plane + at] = Math.round(b);
      }
    }
  }
  return out;
}

/** Images by class, as an ImageFolder set: classes in sorted order, each class's images in order. */
export interface ClassImages { name: string; images: Uint8Array[] }

export interface LabelledSet { count: number; pixels: Uint8Array; labels: Uint8Array; classNames: string[]; source: string }

/** Joins per-class CHW images into one labelled dataset; an empty class is refused by name. */
export function labelledSet(classes: ClassImages[], recordSize: number, source: string): LabelledSet {
  if (classes.length === 0) throw new ConfigError(`${source}: no class folders (expected one subfolder of images per class)`);
  if (classes.length > 256) throw new ConfigError(`${source}: ${classes.length} classes; at most 256 fit a label byte`);
  const empty = classes.find((c) => c.images.length === 0);
  if (empty) throw new ConfigError(`${source}: class "${empty.name}" has no images that could be decoded`);
  const count = classes.reduce((a, c) => a + c.images.length, 0);
  const pixels = new Uint8Array(count * recordSize);
  const labels = new Uint8Array(count);
  let at = 0;
  classes.forEach((c, label) => {
    for (const img of c.images) {
      pixels.set(img, at * recordSize);
      labels[at++] = label;
    }
  });
  return { count, pixels, labels, classNames: classes.map((c) => c.name), source };
}
