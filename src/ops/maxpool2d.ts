// MaxPool2d (PyTorch semantics: padding is -inf, floor mode) with argmax, and its backward.
import type { Binding } from '../gpu/kernel.ts';
import { ShapeError } from '../errors.ts';
import poolWgsl from '../../shaders/maxpool2d.wgsl?raw';
import { checkShape4, fmt, makeDispatch, pair, shader, type Dispatch, type Pair, type Shape4 } from './dispatch.ts';

export const maxpool2dShader = shader('maxpool2d', poolWgsl);

export interface MaxPool2dOptions { kernel: Pair; stride?: Pair; padding?: Pair }

export interface PoolGeometry {
  planes: number; // batch × channels
  inShape: Shape4;
  outShape: Shape4;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

export function maxpool2dGeometry(input: readonly number[], o: MaxPool2dOptions, op = 'maxpool2d'): PoolGeometry {
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

function uniform(g: PoolGeometry) {
  return {
    planes: g.planes,
    in_size: [g.inShape[2], g.inShape[3]], out_size: [g.outShape[2], g.outShape[3]],
    kernel: g.kernel, stride: g.stride, pad: g.padding,
  };
}

/** y and argmax (i32, one per output element: iy*W+ix within its plane). */
export function maxpool2dForward(device: GPUDevice, g: PoolGeometry, b: { x: Binding; y: Binding; argmax: Binding },
  label = 'maxpool2d/forward'): Dispatch {
  return makeDispatch(device, maxpool2dShader, 'forward', label, g.planes * g.outShape[2] * g.outShape[3], uniform(g), b);
}

export function maxpool2dBackward(device: GPUDevice, g: PoolGeometry, b: { dy: Binding; argmax: Binding; dx: Binding },
  label = 'maxpool2d/backward'): Dispatch {
  return makeDispatch(device, maxpool2dShader, 'backward', label, g.planes * g.inShape[2] * g.inShape[3], uniform(g),
    { g: b.dy, arg: b.argmax, dx: b.dx });
}
