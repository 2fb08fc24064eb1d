// Reference 2-D average pooling, float64, PyTorch nn.AvgPool2d semantics (ceil_mode false, no
// divisor_override): OH = floor((H + 2p − k)/s) + 1; each output is the sum of the real input cells
// in its window divided by k_h·k_w when count_include_pad (padding counts as zeros), else by the
// number of real cells. Backward spreads each dy/divisor over its window's real cells.

import { tensor, type Tensor } from './tensor.ts';

export interface AvgPool2dParams {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  countIncludePad: boolean;
}

interface Window { y0: number; y1: number; x0: number; x1: number; divisor: number }

function windows(H: number, W: number, p: AvgPool2dParams): { OH: number; OW: number; at: (oy: number, ox: number) => Window } {
  const [kh, kw] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding;
  if (2 * ph > kh || 2 * pw > kw) throw new Error('avgpool2d: padding must be <= kernel/2');
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`avgpool2d: empty output ${OH}x${OW}`);
  return {
    OH, OW,
    at: (oy, ox) => {
      const y0 = oy * sh - ph, x0 = ox * sw - pw;
      const w = { y0: Math.max(y0, 0), y1: Math.min(y0 + kh, H), x0: Math.max(x0, 0), x1: Math.min(x0 + kw, W), divisor: 0 };
      w.divisor = p.countIncludePad ? kh * kw : (w.y1 - w.y0) * (w.x1 - w.x0);
      return w;
    },
  };
}

export function avgpool2d(x: Tensor, p: AvgPool2dParams): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const { OH, OW, at } = windows(H, W, p);
  const y = tensor([N, C, OH, OW]);
  for (let nc = 0; nc < N * C; nc++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const w = at(oy, ox);
        let s = 0;
        for (let iy = w.y0; iy < w.y1; iy++) for (let ix = w.x0; ix < w.x1; ix++) s += x.data[(nc * H + iy) * W + ix]!;
        y.data[(nc * OH + oy) * OW + ox] = s / w.divisor;
      }
  return y;
}

/** Scatter form: each output's gradient, divided by its divisor, is added to every real cell of its window. */
export function avgpool2dBackward(dy: Tensor, inputShape: number[], p: AvgPool2dParams): Tensor {
  const [N, C, H, W] = inputShape as [number, number, number, number];
  const { OH, OW, at } = windows(H, W, p);
  if (dy.shape.join() !== [N, C, OH, OW].join()) throw new Error(`avgpool2dBackward: dy shape [${dy.shape}]`);
  const dx = tensor(inputShape);
  for (let nc = 0; nc < N * C; nc++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const w = at(oy, ox);
        const g = dy.data[(nc * OH + oy) * OW + ox]! / w.divisor;
        for (let iy = w.y0; iy < w.y1; iy++) for (let ix = w.x0; ix < w.x1; ix++) dx.data[(nc * H + iy) * W + ix]! += g;
      }
  return dx;
}
