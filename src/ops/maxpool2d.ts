// MaxPool2d (PyTorch semantics: padding is -inf, floor mode) with argmax, and its backward.
import type { Binding } from '../gpu/kernel.ts';
import { pool2dGeometry, type PoolGeometry, type PoolOptions } from '../geometry/pool.ts';
import poolWgsl from '../../shaders/maxpool2d.wgsl?raw';
import { makeDispatch, shader, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';
import { activationOverrides } from './activation.ts';

export const maxpool2dShader = shader('maxpool2d', poolWgsl);

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
  return makeDispatch(device, maxpool2dShader, 'forward', label, g.planes * g.outShape[2] * g.outShape[3], uniform(g), b);
}

export function maxpool2dBackward(device: GPUDevice, g: PoolGeometry, b: { dy: Binding; argmax: Binding; dx: Binding },
  label = 'maxpool2d/backward'): Dispatch {
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

function gradOverrides(a: PoolActArgs): Record<string, number> {
  const o = activationOverrides(a.kind, { negativeSlope: a.slope });
  return { ACT_GRAD: o.ACT!, ...(o.SLOPE !== undefined ? { SLOPE: o.SLOPE } : {}) };
}

/** io: dy, argmax, fy (the activation's output) → dx, the gradient at the activation's input. */
export const maxpoolBackwardActPass = singlePass<PoolActArgs>('maxpool2d.backward_act', ['dy', 'argmax', 'fy'], ['dx'],
  (d, a, io, label) => [makeDispatch(d, maxpool2dShader, 'backward_act', label, a.g.planes * a.g.inShape[2] * a.g.inShape[3], uniform(a.g),
    { g: io.dy!, arg: io.argmax!, fy: io.fy!, dx: io.dx! }, gradOverrides(a))]);
