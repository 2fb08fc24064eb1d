// Reference 2-D convolution (cross-correlation), float64, PyTorch nn.Conv2d semantics. With G groups
// the channels split into G independent convolutions, weight [out, in/G, kh, kw]:
//   y[n,co,oy,ox] = b[co] + sum_{c,ky,kx} x[n, g*(C/G)+c, oy*sh-ph+ky*dh, ox*sw-pw+kx*dw] * w[co,c,ky,kx]
// where g = floor(co / (O/G)) is co's group, d the dilation, and out-of-range input reads count as
// zero (zero padding). The backward pass is the chain rule applied to that same sum, written as loops.

import { tensor, type Tensor } from './tensor.ts';

export interface Conv2dParams {
  stride: [number, number];
  padding: [number, number];
  /** Spacing between kernel taps (1: adjacent). */
  dilation?: [number, number];
  groups?: number;
}

export function conv2dOutSize(inSize: number, k: number, s: number, p: number, d = 1): number {
  return Math.floor((inSize + 2 * p - d * (k - 1) - 1) / s) + 1;
}

interface Geometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number; OH: number; OW: number;
  G: number; CG: number; OG: number; // groups, input and output channels per group
  dh: number; dw: number;
}

function geometry(x: Tensor, w: Tensor, p: Conv2dParams): Geometry {
  if (x.shape.length !== 4 || w.shape.length !== 4) throw new Error('conv2d: x and w must be 4-D');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, CG, KH, KW] = w.shape as [number, number, number, number];
  const G = p.groups ?? 1;
  const [dh, dw] = p.dilation ?? [1, 1];
  if (!Number.isInteger(G) || G < 1 || O % G !== 0) throw new Error(`conv2d: groups ${G} must divide out-channels ${O}`);
  if (CG * G !== C) throw new Error(`conv2d: weight in-channels ${CG} × groups ${G} != input channels ${C}`);
  const OH = conv2dOutSize(H, KH, p.stride[0], p.padding[0], dh);
  const OW = conv2dOutSize(W, KW, p.stride[1], p.padding[1], dw);
  if (OH < 1 || OW < 1) throw new Error(`conv2d: empty output ${OH}x${OW}`);
  return { N, C, H, W, O, KH, KW, OH, OW, G, CG, OG: O / G, dh, dw };
}

/**
 * Visits every (output element, weight element) pair whose input tap is in range, passing flat
 * indices into x, w and y. Forward and backward both iterate exactly this set, which is the sum
 * in the header; out-of-range taps are the zero padding and contribute nothing to anything.
 */
function forEachTap(
  g: Geometry, p: Conv2dParams,
  visit: (xi: number, wi: number, yi: number, co: number) => void,
): void {
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  for (let n = 0; n < g.N; n++)
    for (let co = 0; co < g.O; co++) {
      const group = Math.floor(co / g.OG);
      for (let oy = 0; oy < g.OH; oy++)
        for (let ox = 0; ox < g.OW; ox++) {
          const yi = ((n * g.O + co) * g.OH + oy) * g.OW + ox;
          for (let c = 0; c < g.CG; c++) {
            const ci = group * g.CG + c;
            for (let ky = 0; ky < g.KH; ky++) {
              const iy = oy * sh - ph + ky * g.dh;
              if (iy < 0 || iy >= g.H) continue;
              for (let kx = 0; kx < g.KW; kx++) {
                const ix = ox * sw - pw + kx * g.dw;
                if (ix < 0 || ix >= g.W) continue;
                const xi = ((n * g.C + ci) * g.H + iy) * g.W + ix;
                const wi = ((co * g.CG + c) * g.KH + ky) * g.KW + kx;
                visit(xi, wi, yi, co);
              }
            }
          }
        }
    }
}

export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams): Tensor {
  const g = geometry(x, w, p);
  if (b && (b.shape.length !== 1 || b.shape[0] !== g.O)) throw new Error('conv2d: bias must be [out]');
  const y = tensor([g.N, g.O, g.OH, g.OW]);
  if (b) {
    const plane = g.OH * g.OW;
    for (let i = 0; i < y.data.length; i++) y.data[i] = b.data[Math.floor(i / plane) % g.O]!;
  }
  forEachTap(g, p, (xi, wi, yi) => { y.data[yi]! += x.data[xi]! * w.data[wi]!; });
  return y;
}

/** Gradients of L w.r.t. x, w and b given dy = dL/dy. db is returned whether or not a bias was used. */
export function conv2dBackward(
  x: Tensor, w: Tensor, dy: Tensor, p: Conv2dParams,
): { dx: Tensor; dw: Tensor; db: Tensor } {
  const g = geometry(x, w, p);
  const want = [g.N, g.O, g.OH, g.OW];
  if (dy.shape.join() !== want.join()) throw new Error(`conv2d: dy shape [${dy.shape}] != [${want}]`);
  const dx = tensor(x.shape);
  const dw = tensor(w.shape);
  const db = tensor([g.O]);
  // y[yi] += x[xi]*w[wi]  =>  dL/dx[xi] += dy[yi]*w[wi],  dL/dw[wi] += dy[yi]*x[xi]
  forEachTap(g, p, (xi, wi, yi) => {
    dx.data[xi]! += dy.data[yi]! * w.data[wi]!;
    dw.data[wi]! += dy.data[yi]! * x.data[xi]!;
  });
  // y[yi] += b[co] once per output element  =>  db[co] = sum of dy over its output planes.
  const plane = g.OH * g.OW;
  for (let i = 0; i < dy.data.length; i++) db.data[Math.floor(i / plane) % g.O]! += dy.data[i]!;
  return { dx, dw, db };
}
