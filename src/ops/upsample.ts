// Nearest-neighbour upsampling by integer factors, forward and backward (a gathered block sum).
import type { Binding } from '../gpu/kernel.ts';
import upsampleWgsl from '../../shaders/upsample.wgsl?raw';
import { makeDispatch, shader, type Dispatch } from './dispatch.ts';
import type { UpsampleGeometry } from '../geometry/upsample.ts';

export const upsampleShader = shader('upsample', upsampleWgsl);

export { upsampleGeometry, type UpsampleGeometry, type UpsampleOptions } from '../geometry/upsample.ts';

function uniform(g: UpsampleGeometry) {
  return { planes: g.planes, in_size: [g.inShape[2], g.inShape[3]], out_size: [g.outShape[2], g.outShape[3]], scale: g.scale };
}

export function upsampleForward(device: GPUDevice, g: UpsampleGeometry, b: { x: Binding; y: Binding },
  label = 'upsample/forward'): Dispatch {
  return makeDispatch(device, upsampleShader, 'forward', label, g.planes * g.outShape[2] * g.outShape[3], uniform(g), b);
}

/** dx[.., iy, ix] = the sum of dy over the scale_h × scale_w block that pixel was copied to. */
export function upsampleBackward(device: GPUDevice, g: UpsampleGeometry, b: { dy: Binding; dx: Binding },
  label = 'upsample/backward'): Dispatch {
  return makeDispatch(device, upsampleShader, 'backward', label, g.planes * g.inShape[2] * g.inShape[3], uniform(g),
    { g: b.dy, dx: b.dx });
}
