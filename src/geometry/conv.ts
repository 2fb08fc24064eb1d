// Convolution geometry (PyTorch semantics): checks an input against a weight, and sizes the output.
// Shared by layer records (shape inference, no GPU) and the conv op bindings.
import { ShapeError } from '../errors.ts';
import { checkShape4, fmt, pair, type Pair } from './util.ts';

export interface ConvOptions { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; outputPadding?: Pair }

/**
 * Everything a conv dispatch needs to know about sizes, checked once. For a transposed convolution
 * `cIn`/`inSize` describe its input x and `cOut`/`outSize` its output y, exactly as for conv2d.
 */
export interface ConvGeometry {
  batch: number;
  cIn: number;
  cOut: number;
  inSize: [number, number];
  outSize: [number, number];
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  /** Channels are split into this many independent groups (cIn and cOut both divisible by it). */
  groups: number;
}

function groupsOf(op: string, o: ConvOptions, cIn: number, cOut: number): number {
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ShapeError(`${op}: groups must be a positive integer, got ${JSON.stringify(o.groups)}`);
  if (cIn % groups !== 0) throw new ShapeError(`${op}: groups ${groups} does not divide the ${cIn} input channels`);
  if (cOut % groups !== 0) throw new ShapeError(`${op}: groups ${groups} does not divide the ${cOut} output channels`);
  return groups;
}

/** Checks input [N, C, H, W] against weight [out, in/groups, kh, kw] (as F.conv2d does) and sizes the output. */
export function conv2dGeometry(input: readonly number[], weight: readonly number[], o: ConvOptions = {}, op = 'conv2d'): ConvGeometry {
  const [batch, cIn, h, w] = checkShape4(op, 'input', input);
  const [cOut, wIn, kh, kw] = checkShape4(op, 'weight', weight);
  const groups = groupsOf(op, o, cIn, cOut);
  if (wIn * groups !== cIn) {
    throw new ShapeError(`${op}: input ${fmt(input)} has ${cIn} channels but weight ${fmt(weight)} expects ${wIn * groups}` +
      (groups > 1 ? ` (${wIn} per group × ${groups} groups)` : ''));
  }
  const kernel: [number, number] = [kh, kw];
  const stride = pair(op, 'stride', o.stride ?? 1, 1);
  const padding = pair(op, 'padding', o.padding ?? 0, 0);
  const dilation = pair(op, 'dilation', o.dilation ?? 1, 1);
  const outSize: [number, number] = [
    Math.floor((h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) / stride[0]) + 1,
    Math.floor((w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) / stride[1]) + 1,
  ];
  if (outSize[0] < 1 || outSize[1] < 1) {
    throw new ShapeError(`${op}: input ${fmt(input)} with kernel ${fmt(kernel)}, stride ${fmt(stride)}, padding ` +
      `${fmt(padding)}, dilation ${fmt(dilation)} gives output ${outSize[0]}×${outSize[1]}, which is empty`);
  }
  return { batch, cIn, cOut, inSize: [h, w], outSize, kernel, stride, padding, dilation, groups };
}

/** Checks input [N, C, H, W] against weight [in, out/groups, kh, kw] (as F.conv_transpose2d does) and sizes the output. */
export function convTranspose2dGeometry(input: readonly number[], weight: readonly number[], o: ConvOptions = {},
  op = 'conv_transpose2d'): ConvGeometry {
  const [batch, cIn, h, w] = checkShape4(op, 'input', input);
  const [wIn, wOut, kh, kw] = checkShape4(op, 'weight', weight);
  if (wIn !== cIn) {
    throw new ShapeError(`${op}: input ${fmt(input)} has ${cIn} channels but weight ${fmt(weight)} expects ${wIn}`);
  }
  const groups = groupsOf(op, o, cIn, wOut * (o.groups ?? 1));
  const cOut = wOut * groups;
  const kernel: [number, number] = [kh, kw];
  const stride = pair(op, 'stride', o.stride ?? 1, 1);
  const padding = pair(op, 'padding', o.padding ?? 0, 0);
  const dilation = pair(op, 'dilation', o.dilation ?? 1, 1);
  const outPad = pair(op, 'outputPadding', o.outputPadding ?? 0, 0);
  // PyTorch: output padding must be smaller than either stride or dilation.
  if ((outPad[0] >= stride[0] && outPad[0] >= dilation[0]) || (outPad[1] >= stride[1] && outPad[1] >= dilation[1])) {
    throw new ShapeError(`${op}: outputPadding ${fmt(outPad)} must be smaller than stride ${fmt(stride)} or dilation ${fmt(dilation)}`);
  }
  const outSize: [number, number] = [
    (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel[0] - 1) + outPad[0] + 1,
    (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kernel[1] - 1) + outPad[1] + 1,
  ];
  if (outSize[0] < 1 || outSize[1] < 1) {
    throw new ShapeError(`${op}: input ${fmt(input)} with kernel ${fmt(kernel)}, stride ${fmt(stride)}, padding ` +
      `${fmt(padding)} gives output ${outSize[0]}×${outSize[1]}, which is empty`);
  }
  return { batch, cIn, cOut, inSize: [h, w], outSize, kernel, stride, padding, dilation, groups };
}

/**
 * The same convolution seen from the other side: a conv2d's input gradient is the transposed
 * convolution of this geometry, and a transposed convolution's is a conv2d. Swaps x and y.
 */
export const swapSides = (g: ConvGeometry): ConvGeometry =>
  ({ ...g, cIn: g.cOut, cOut: g.cIn, inSize: g.outSize, outSize: g.inSize });

/** Multiply-adds of the forward pass of conv2d geometry `g` (a transposed conv: of swapSides). */
export const convMacs = (g: ConvGeometry): number =>
  g.batch * g.cOut * g.outSize[0] * g.outSize[1] * (g.cIn / g.groups) * g.kernel[0] * g.kernel[1];
