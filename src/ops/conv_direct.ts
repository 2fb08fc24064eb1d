// The convolution passes with today's direct register-blocked kernels as their only variant
// (conv_passes.ts adds the GEMM-shaped variants the tuner chooses among).
import { activationGradOverrides, type Activation } from './activation.ts';
import type { ActivationKind } from '../layers/activation.ts';
import { conv2dForward, convGradBias, convGradScratch, convGradWeight } from './conv2d.ts';
import { convTranspose2dForward } from './conv_transpose2d.ts';
import type { PoolGeometry } from '../geometry/pool.ts';
import type { ConvGeometry } from '../geometry/conv.ts';
import { convMacs, swapSides } from '../geometry/conv.ts';
import type { Pass } from './variant.ts';

/**
 * `act`/`slope`: an activation applied as y is stored (forward passes). `actGrad`/`gradSlope`: for an
 * input-gradient pass, the backward of the activation before the layer, applied as the gradient is
 * stored and read from that activation's output (io `fy`), so the gradient leaves at the
 * activation's input. Never both.
 */
/**
 * A convolution pass's arguments. `act`/`slope`: the activation applied as y is stored; `actGrad`/
 * `gradSlope`: an input-gradient pass's fused activation backward (from its output, io.fy); `pool`
 * (conv.forward only): a max pool after the activation, so y is the pooled output and io.argmax its
 * argmax; `unpool` (an input gradient: conv.transposed for a conv, conv.forward for a transposed
 * conv): the layer before is that max pool (io.argmax, io.py: its argmax and output), whose backward
 * — and with actGrad the activation's before it — the gradient continues through, so y is the
 * gradient at the pool's (or activation's) input (see conv_passes.ts).
 */
export interface ConvArgs {
  g: ConvGeometry; act?: ActivationKind; slope?: number; bias: boolean; actGrad?: ActivationKind; gradSlope?: number; pool?: PoolGeometry;
  unpool?: PoolGeometry;
  /**
   * conv.grad_params of a transposed conv (g swapped, x its output gradient): also db = Σ x per
   * channel, the transposed conv's bias gradient, into io.db — one pass instead of two.
   */
  xBias?: boolean;
}

/** Pipeline overrides for the activation backward an input-gradient pass applies as it stores (ACT_GRAD, SLOPE). */
export const actGradOverrides = (a: ConvArgs): Record<string, number> =>
  activationGradOverrides(a.actGrad as Activation | undefined, { negativeSlope: a.gradSlope });

const key = (a: ConvArgs) => JSON.stringify(a);

export const convForwardPass: Pass<ConvArgs> = {
  name: 'conv.forward', inputs: ['x', 'w', 'bias', 'fy'], outputs: ['y'], key, flops: (a) => 2 * convMacs(a.g),
  variants: [{ name: 'direct', build: (d, a, io, label) => [conv2dForward(d, a.g, { x: io.x!, w: io.w!, bias: a.bias ? io.bias : undefined, y: io.y!, fy: io.fy }, label, a.act as Activation | undefined, { negativeSlope: a.slope }, actGradOverrides(a))] }],
};

export const convTransposedPass: Pass<ConvArgs> = {
  name: 'conv.transposed', inputs: ['x', 'w', 'bias', 'fy'], outputs: ['y'], key, flops: (a) => 2 * convMacs(swapSides(a.g)),
  variants: [{ name: 'direct', build: (d, a, io, label) => [convTranspose2dForward(d, a.g, { x: io.x!, w: io.w!, bias: a.bias ? io.bias : undefined, y: io.y!, fy: io.fy }, label, a.act as Activation | undefined, { negativeSlope: a.slope }, actGradOverrides(a))] }],
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
