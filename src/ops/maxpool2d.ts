// MaxPool2d (PyTorch semantics: padding is -inf, floor mode) with argmax, and its backward.
import type { Binding } from '../gpu/kernel.ts';
import { pool2dGeometry, type PoolGeometry, type PoolOptions } from '../geometry/pool.ts';
import poolCommonWgsl from '../../shaders/maxpool2d_common.wgsl?raw';
import poolWgsl from '../../shaders/maxpool2d.wgsl?raw';
import poolK2Wgsl from '../../shaders/maxpool2d_k2.wgsl?raw';
import pool2x2Wgsl from '../../shaders/pool2x2.wgsl?raw';
import { makeDispatch, shader, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';
import { activationGradOverrides } from './activation.ts';

export const maxpool2dShader = shader('maxpool2d', `${poolCommonWgsl}\n${poolWgsl}`);
export const maxpool2dK2Shader = shader('maxpool2d_k2', `${poolCommonWgsl}\n${pool2x2Wgsl}\n${poolK2Wgsl}`);

/**
 * The vec4 2×2 path (maxpool2d_k2.wgsl) applies: kernel = stride = 2, no padding, an even input
 * height and a width that is a multiple of 8 (whole vec4s of outputs, no uncovered pixels).
 */
export const isK2 = (g: PoolGeometry): boolean => g.kernel[0] === 2 && g.kernel[1] === 2 && g.stride[0] === 2 && g.stride[1] === 2 &&
  g.padding[0] === 0 && g.padding[1] === 0 && g.inShape[2] % 2 === 0 && g.inShape[3] % 8 === 0;
const k2Invocations = (g: PoolGeometry) => g.planes * g.outShape[2] * (g.outShape[3] / 4);

export type { PoolGeometry } from '../geometry/pool.ts';
export const maxpool2dGeometry = (input: readonly number[], o: PoolOptions, op = 'maxpool2d'): PoolGeometry => pool2dGeometry(input, o, op);

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
  if (isK2(g)) return makeDispatch(device, maxpool2dK2Shader, 'forward', label, k2Invocations(g), uniform(g), { x4: b.x, y4: b.y, argmax4: b.argmax });
  return makeDispatch(device, maxpool2dShader, 'forward', label, g.planes * g.outShape[2] * g.outShape[3], uniform(g), b);
}

export function maxpool2dBackward(device: GPUDevice, g: PoolGeometry, b: { dy: Binding; argmax: Binding; dx: Binding },
  label = 'maxpool2d/backward'): Dispatch {
  if (isK2(g)) return makeDispatch(device, maxpool2dK2Shader, 'backward', label, k2Invocations(g), uniform(g), { g4: b.dy, arg4: b.argmax, dx4: b.dx });
  return makeDispatch(device, maxpool2dShader, 'backward', label, g.planes * g.inShape[2] * g.inShape[3], uniform(g),
    { g: b.dy, arg: b.argmax, dx: b.dx });
}

/** io: x → y, argmax. */
export const maxpoolForwardPass = singlePass<PoolGeometry>('maxpool2d.forward', ['x'], ['y', 'argmax'],
  (d, g, io, label) => [maxpool2dForward(d, g, { x: io.x!, y: io.y!, argmax: io.argmax! }, label)]);

/** io: dy, argmax → dx. */
export const maxpoolBackwardPass = singlePass<PoolGeometry>('maxpool2d.backward', ['dy', 'argmax'], ['dx'],
  (d, g, io, label) => [maxpool2dBackward(d, g, { dy: io.dy!, argmax: io.argmax!, dx: io.dx! }, label)]);

/** The activation whose backward a pool's backward applies as it stores (its output is the pool's input). */
export interface PoolActArgs { g: PoolGeometry; kind: 'relu' | 'selu' | 'sigmoid' | 'tanh' | 'leakyrelu'; slope: number }

const gradOverrides = (a: PoolActArgs) => activationGradOverrides(a.kind, { negativeSlope: a.slope });

/** The pool's backward continued through the activation before it (see maxpool2d.wgsl): dx at the activation's input. */
export function maxpool2dBackwardAct(device: GPUDevice, a: PoolActArgs, b: { dy: Binding; argmax: Binding; y: Binding; dx: Binding },
  label = 'maxpool2d/backward_act'): Dispatch {
  return isK2(a.g)
    ? makeDispatch(device, maxpool2dK2Shader, 'backward_act', label, k2Invocations(a.g), uniform(a.g),
      { g4: b.dy, arg4: b.argmax, py4: b.y, dx4: b.dx }, gradOverrides(a))
    : makeDispatch(device, maxpool2dShader, 'backward_act', label, a.g.planes * a.g.inShape[2] * a.g.inShape[3], uniform(a.g),
      { g: b.dy, arg: b.argmax, py: b.y, dx: b.dx }, gradOverrides(a));
}

/**
 * io: dy, argmax, y (the pool's own output) → dx, the gradient at the activation's input. At an
 * argmax the activation's output is the pool's output, and elsewhere the gradient is 0, so the
 * activation's full-resolution output is not read (see maxpool2d.wgsl).
 */
export const maxpoolBackwardActPass = singlePass<PoolActArgs>('maxpool2d.backward_act', ['dy', 'argmax', 'y'], ['dx'],
  (d, a, io, label) => [maxpool2dBackwardAct(d, a, { dy: io.dy!, argmax: io.argmax!, y: io.y!, dx: io.dx! }, label)]);
