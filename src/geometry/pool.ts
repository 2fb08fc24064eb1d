// Pooling geometry (PyTorch semantics, floor mode): max and average pools share it.
import { ShapeError } from '../errors.ts';
import { checkShape4, fmt, pair, type Pair, type Shape4 } from './util.ts';

export interface PoolOptions { kernel: Pair; stride?: Pair; padding?: Pair }

export interface PoolGeometry {
  planes: number; // batch × channels
  inShape: Shape4;
  outShape: Shape4;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

export function pool2dGeometry(input: readonly number[], o: PoolOptions, op = 'pool2d'): PoolGeometry {
  const [n, c, h, w] = checkShape4(op, 'input', input);
  const kernel = pair(op, 'kernel', o.kernel, 1);
  const stride = pair(op, 'stride', o.stride ?? kernel, 1); // PyTorch: stride defaults to kernel
  const padding = pair(op, 'padding', o.padding ?? 0, 0);
  if (padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1]) {
    throw new ShapeError(`${op}: padding ${fmt(padding)} must be at most half of kernel ${fmt(kernel)}`);
  }
  const oh = Math.floor((h + 2 * padding[0] - kernel[0]) / stride[0]) + 1;
  const ow = Math.floor((w + 2 * padding[1] - kernel[1]) / stride[1]) + 1;
  if (oh < 1 || ow < 1) {
    throw new ShapeError(`${op}: input ${fmt(input)} with kernel ${fmt(kernel)}, stride ${fmt(stride)}, padding ` +
      `${fmt(padding)} gives output ${oh}×${ow}, which is empty`);
  }
  return { planes: n * c, inShape: [n, c, h, w], outShape: [n, c, oh, ow], kernel, stride, padding };
}
