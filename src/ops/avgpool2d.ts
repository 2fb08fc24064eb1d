// AvgPool2d (PyTorch semantics: floor mode, count_include_pad default true) and its backward.
import type { Binding } from '../gpu/kernel.ts';
import { pool2dGeometry, type PoolGeometry, type PoolOptions } from '../geometry/pool.ts';
import avgpoolWgsl from '../../shaders/avgpool2d.wgsl?raw';
import { makeDispatch, shader, type Dispatch } from './dispatch.ts';

export const avgpool2dShader = shader('avgpool2d', avgpoolWgsl);

export interface AvgPoolOptions extends PoolOptions { countIncludePad?: boolean }
export interface AvgPoolGeometry extends PoolGeometry { countIncludePad: boolean }

export const avgpool2dGeometry = (input: readonly number[], o: AvgPoolOptions, op = 'avgpool2d'): AvgPoolGeometry =>
  ({ ...pool2dGeometry(input, o, op), countIncludePad: o.countIncludePad ?? true });

function uniform(g: AvgPoolGeometry) {
  return {
    planes: g.planes, count_include_pad: g.countIncludePad ? 1 : 0,
    in_size: [g.inShape[2], g.inShape[3]], out_size: [g.outShape[2], g.outShape[3]],
    kernel: g.kernel, stride: g.stride, pad: g.padding,
  };
}

export function avgpool2dForward(device: GPUDevice, g: AvgPoolGeometry, b: { x: Binding; y: Binding },
  label = 'avgpool2d/forward'): Dispatch {
  return makeDispatch(device, avgpool2dShader, 'forward', label, g.planes * g.outShape[2] * g.outShape[3], uniform(g), b);
}

export function avgpool2dBackward(device: GPUDevice, g: AvgPoolGeometry, b: { dy: Binding; dx: Binding },
  label = 'avgpool2d/backward'): Dispatch {
  return makeDispatch(device, avgpool2dShader, 'backward', label, g.planes * g.inShape[2] * g.inShape[3], uniform(g),
    { g: b.dy, dx: b.dx });
}
