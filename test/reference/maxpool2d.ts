// Reference 2-D max pooling, float64, PyTorch nn.MaxPool2d semantics (dilation 1, ceil_mode
// false): padding cells count as -infinity, OH = floor((H + 2p - k)/s) + 1, and the argmax is
// the flat index iy*W + ix inside the (n, c) input plane. Window scanning follows PyTorch's CPU
// kernel: row-major, replace only on a strictly greater value (so the first max wins on ties)
// or on NaN (so NaN propagates), starting from the first in-bounds cell of the window.

import { numel, tensor, type Tensor } from './tensor.ts';

export interface MaxPool2dParams {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

export function maxpool2dOutSize(inSize: number, k: number, s: number, p: number): number {
  return Math.floor((inSize + 2 * p - k) / s) + 1;
}

export function maxpool2d(x: Tensor, p: MaxPool2dParams): { y: Tensor; argmax: Int32Array } {
  if (x.shape.length !== 4) throw new Error('maxpool2d: x must be 4-D');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  // PyTorch's own limit; it guarantees every window holds at least one real cell.
  if (2 * ph > kh || 2 * pw > kw) throw new Error('maxpool2d: padding must be <= kernel/2');
  const OH = maxpool2dOutSize(H, kh, sh, ph);
  const OW = maxpool2dOutSize(W, kw, sw, pw);
  if (OH < 1 || OW < 1) throw new Error(`maxpool2d: empty output ${OH}x${OW}`);
  const y = tensor([N, C, OH, OW]);
  const argmax = new Int32Array(numel(y.shape));
  for (let nc = 0; nc < N * C; nc++) {
    const base = nc * H * W;
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const y0 = oy * sh - ph;
        const x0 = ox * sw - pw;
        const yStart = Math.max(y0, 0), yEnd = Math.min(y0 + kh, H);
        const xStart = Math.max(x0, 0), xEnd = Math.min(x0 + kw, W);
        let best = -Infinity;
        let bestIdx = yStart * W + xStart;
        for (let iy = yStart; iy < yEnd; iy++)
          for (let ix = xStart; ix < xEnd; ix++) {
            const v = x.data[base + iy * W + ix]!;
            if (v > best || Number.isNaN(v)) {
              best = v;
              bestIdx = iy * W + ix;
            }
          }
        const o = (nc * OH + oy) * OW + ox;
        // Read back through the index so an all -inf window reports that cell's value, like PyTorch.
        y.data[o] = x.data[base + bestIdx]!;
        argmax[o] = bestIdx;
      }
  }
  return { y, argmax };
}

/** Routes each output gradient to its argmax cell; overlapping windows accumulate. */
export function maxpool2dBackward(dy: Tensor, argmax: Int32Array, inputShape: number[]): Tensor {
  if (dy.shape.length !== 4 || inputShape.length !== 4) throw new Error('maxpool2dBackward: 4-D only');
  if (argmax.length !== dy.data.length) throw new Error('maxpool2dBackward: argmax/dy length mismatch');
  const [N, C, H, W] = inputShape as [number, number, number, number];
  if (dy.shape[0] !== N || dy.shape[1] !== C) throw new Error('maxpool2dBackward: N/C mismatch');
  const plane = dy.shape[2]! * dy.shape[3]!;
  const dx = tensor(inputShape);
  for (let o = 0; o < dy.data.length; o++) {
    const nc = Math.floor(o / plane);
    const a = argmax[o]!;
    if (a < 0 || a >= H * W) throw new Error(`maxpool2dBackward: argmax ${a} out of plane`);
    dx.data[nc * H * W + a]! += dy.data[o]!;
  }
  return dx;
}
