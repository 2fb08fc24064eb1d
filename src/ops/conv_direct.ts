// The convolution passes with today's direct register-blocked kernels as their only variant
// (conv_passes.ts adds the GEMM-shaped variants the tuner chooses among).
import type { Activation } from './activation.ts';
import type { ActivationKind } from '../layers/activation.ts';
import { conv2dForward, convGradBias, convGradScratch, convGradWeight } from './conv2d.ts';
import { convTranspose2dForward } from './conv_transpose2d.ts';
import type { ConvGeometry } from '../geometry/conv.ts';
import { convMacs, swapSides } from '../geometry/conv.ts';
import type { Pass } from './variant.ts';

export interface ConvArgs { g: ConvGeometry; act?: ActivationKind; slope?: number; bias: boolean }

const key = (a: ConvArgs) => JSON.stringify(a);

export const convForwardPass: Pass<ConvArgs> = {
  name: 'conv.forward', inputs: ['x', 'w', 'bias'], outputs: ['y'], key, flops: (a) => 2 * convMacs(a.g),
  variants: [{ name: 'direct', build: (d, a, io, label) => [conv2dForward(d, a.g, { x: io.x!, w: io.w!, bias: a.bias ? io.bias : undefined, y: io.y! }, label, a.act as Activation | undefined, { negativeSlope: a.slope })] }],
};

export const convTransposedPass: Pass<ConvArgs> = {
  name: 'conv.transposed', inputs: ['x', 'w', 'bias'], outputs: ['y'], key, flops: (a) => 2 * convMacs(swapSides(a.g)),
  variants: [{ name: 'direct', build: (d, a, io, label) => [convTranspose2dForward(d, a.g, { x: io.x!, w: io.w!, bias: a.bias ? io.bias : undefined, y: io.y! }, label, a.act as Activation | undefined, { negativeSlope: a.slope })] }],
};

/** dw (and db when args.bias) of a conv2d with geometry g: x its input, dy its output gradient. */
export const convGradParamsPass: Pass<ConvArgs> = {
  name: 'conv.grad_params', inputs: ['x', 'dy'], outputs: ['dw', 'db'], key, flops: (a) => 2 * convMacs(a.g),
  variants: [{
    name: 'direct',
    scratch: (a) => { const s = convGradScratch(a.g); return Math.max(s.weight, a.bias ? s.bias : 0); },
    build: (d, a, io, label) => [
      ...convGradWeight(d, a.g, { x: io.x!, dy: io.dy!, dw: io.dw!, scratch: io.scratch }, `${label}/dw`),
      ...(a.bias ? convGradBias(d, a.g, { dy: io.dy!, db: io.db!, scratch: io.scratch }, `${label}/db`) : []),
    ],
  }],
};

/** db = Σ dy alone (a transposed convolution's bias, whose weight gradient is grad_params swapped). */
export const convGradBiasPass: Pass<ConvArgs> = {
  name: 'conv.grad_bias', inputs: ['dy'], outputs: ['db'], key, flops: () => 0,
  variants: [{
    name: 'direct', scratch: (a) => convGradScratch(a.g).bias,
    build: (d, a, io, label) => convGradBias(d, a.g, { dy: io.dy!, db: io.db!, scratch: io.scratch }, label),
  }],
};
