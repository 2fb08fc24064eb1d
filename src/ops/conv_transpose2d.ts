// ConvTranspose2d (PyTorch semantics, weight [in, out/groups, kh, kw], any stride, padding, output
// padding, dilation and groups). Its input gradient is an ordinary conv2d; its weight gradient is
// conv2d's weight gradient with the roles of input and output gradient exchanged.
import type { Binding } from '../gpu/kernel.ts';
import convTWgsl from '../../shaders/conv_transpose2d.wgsl?raw';
import convCommonWgsl from '../../shaders/conv_common.wgsl?raw';
import { activationOverrides, type Activation, type ActivationOptions } from './activation.ts';
import { makeDispatch, placeholder, shader, type Dispatch } from './dispatch.ts';
import { conv2dShader, convGradBias, convGradScratch, convGradWeight, convUniform, groupOverrides, type ConvGeometry } from './conv2d.ts';
import { swapSides } from '../geometry/conv.ts';

export const convTransposeShader = shader('conv_transpose2d', `${convCommonWgsl}\n${convTWgsl}`);

export { convTranspose2dGeometry } from '../geometry/conv.ts';

/** One invocation per 4 output channels × 4 same-residue columns of a row (see conv_transpose2d.wgsl). */
export function convTransposeInvocations(g: ConvGeometry): number {
  const s = g.stride[1];
  return g.batch * Math.ceil(g.cOut / 4) * g.outSize[0] * s * Math.ceil(Math.ceil(g.outSize[1] / s) / 4);
}

/** y = act(conv_transpose2d(x, w) + bias): the bias and an optional activation are applied as y is stored. */
export function convTranspose2dForward(device: GPUDevice, g: ConvGeometry,
  b: { x: Binding; w: Binding; bias?: Binding; y: Binding; fy?: Binding }, label = 'conv_transpose2d/forward', activation?: Activation,
  actOptions: ActivationOptions = {}, gradOverrides: Record<string, number> = {}): Dispatch {
  return makeDispatch(device, convTransposeShader, 'forward', label, convTransposeInvocations(g),
    convUniform(g, !!b.bias), { x: b.x, w: b.w, bias: b.bias ?? placeholder(device), y: b.y, fy: b.fy ?? placeholder(device) },
    { ...activationOverrides(activation, actOptions), ...gradOverrides, ...groupOverrides(g) });
}

/**
 * dx[n,ci,iy,ix] = sum dy[n,co,iy*s-p+ky*d, ix*s-p+kx*d] * w[ci,c,ky,kx] over co = grp*(out/groups) + c
 * in ci's group: a conv2d of dy with weight [ci, c] read as [out, in/groups] — no transposing.
 */
export function convTranspose2dBackwardInput(device: GPUDevice, g: ConvGeometry,
  b: { dy: Binding; w: Binding; dx: Binding }, label = 'conv_transpose2d/backward/dx'): Dispatch {
  const c = swapSides(g);
  return makeDispatch(device, conv2dShader, 'forward', label, c.batch * Math.ceil(c.cOut / 4) * c.outSize[0] * Math.ceil(c.outSize[1] / 4),
    convUniform(c, false), { x: b.dy, w: b.w, bias: placeholder(device), y: b.dx, fy: placeholder(device) }, groupOverrides(c));
}

/** dw[ci,c,ky,kx] = sum x[n,ci,iy,ix] * dy[n,co,iy*s-p+ky*d, ix*s-p+kx*d] (co as above): conv2d's dw with x as "g". */
export function convTranspose2dBackwardWeight(device: GPUDevice, g: ConvGeometry,
  b: { x: Binding; dy: Binding; dw: Binding; scratch?: Binding }, label = 'conv_transpose2d/backward/dw'): Dispatch[] {
  return convGradWeight(device, weightGradGeometry(g), { x: b.dy, dy: b.x, dw: b.dw, scratch: b.scratch }, label);
}

/** The conv2d geometry whose weight gradient is this transposed convolution's (x and dy swapped). */
export const weightGradGeometry = swapSides;

/** Scratch floats for convTranspose2dBackwardWeight / …Bias (see convGradScratch). */
export const convTranspose2dGradScratch = (g: ConvGeometry) =>
  ({ weight: convGradScratch(weightGradGeometry(g)).weight, bias: convGradScratch(g).bias });

export function convTranspose2dBackwardBias(device: GPUDevice, g: ConvGeometry, b: { dy: Binding; db: Binding; scratch?: Binding },
  label = 'conv_transpose2d/backward/db'): Dispatch[] {
  return convGradBias(device, g, b, label);
}
