// Reference 2-D transposed convolution, float64, PyTorch nn.ConvTranspose2d semantics:
// weight [in, out/G, kh, kw] for G groups, bias [out] or null, dilation d, and
//   OH = (H-1)*sh - 2*ph + dh*(kh-1) + oph + 1   (likewise for W).
// Two independent forward definitions are kept on purpose, so each can check the other:
//  - convTranspose2d: the seed's literal recipe (zero-insert, pad by d*(k-1)-p, flipped dilated
//    correlation, group by group);
//  - convTranspose2dScatter: each input pixel of channel ci (group g = ci / (C/G)) scatters
//    x*w[ci,c] into output channel g*(O/G)+c at (i*s - p + ky*d, j*s - p + kx*d).
// The backward pass is the chain rule applied to the scatter form.

import { conv2d } from './conv2d.ts';
import { tensor, type Tensor } from './tensor.ts';

export interface ConvTranspose2dParams {
  stride: [number, number];
  padding: [number, number];
  outputPadding: [number, number];
  dilation?: [number, number];
  groups?: number;
}

export function convTranspose2dOutSize(inSize: number, k: number, s: number, p: number, op: number, d = 1): number {
  return (inSize - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

function geometry(x: Tensor, w: Tensor, p: ConvTranspose2dParams) {
  if (x.shape.length !== 4 || w.shape.length !== 4) throw new Error('convT: x and w must be 4-D');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [CI, OG, KH, KW] = w.shape as [number, number, number, number];
  const G = p.groups ?? 1;
  const d = p.dilation ?? [1, 1];
  if (CI !== C) throw new Error(`convT: weight in-channels ${CI} != input channels ${C}`);
  if (!Number.isInteger(G) || G < 1 || C % G !== 0) throw new Error(`convT: groups ${G} must divide in-channels ${C}`);
  for (let a = 0; a < 2; a++) {
    // PyTorch rejects this too; beyond it the extra rows could never receive a contribution.
    if (p.outputPadding[a]! >= p.stride[a]! && p.outputPadding[a]! >= d[a]!) {
      throw new Error('convT: outputPadding must be < stride or < dilation');
    }
  }
  const OH = convTranspose2dOutSize(H, KH, p.stride[0], p.padding[0], p.outputPadding[0], d[0]);
  const OW = convTranspose2dOutSize(W, KW, p.stride[1], p.padding[1], p.outputPadding[1], d[1]);
  if (OH < 1 || OW < 1) throw new Error(`convT: empty output ${OH}x${OW}`);
  return { N, C, H, W, O: OG * G, KH, KW, OH, OW, G, CG: C / G, OG, d };
}

function checkBias(b: Tensor | null, O: number): void {
  if (b && (b.shape.length !== 1 || b.shape[0] !== O)) throw new Error('convT: bias must be [out]');
}

/**
 * Literal recipe: zero-insert, pad (or crop when d*(k-1)-p < 0), then a stride-1 correlation with
 * the same dilation and groups and the kernel flipped, its channel roles swapped within each group.
 */
export function convTranspose2d(x: Tensor, w: Tensor, b: Tensor | null, p: ConvTranspose2dParams): Tensor {
  const { N, C, H, W, O, KH, KW, G, CG, OG, d } = geometry(x, w, p);
  checkBias(b, O);
  const [sh, sw] = p.stride;
  // 1. Insert (s-1) zeros between neighbouring input rows and columns.
  const HD = (H - 1) * sh + 1;
  const WD = (W - 1) * sw + 1;
  // 2. Border of d*(k-1)-p zeros (the dilated kernel's reach), plus outputPadding extra at the
  //    bottom/right. A negative border means cropping: the index arithmetic below simply never
  //    reads those rows/cols.
  const top = d[0] * (KH - 1) - p.padding[0];
  const left = d[1] * (KW - 1) - p.padding[1];
  const HP = HD + 2 * top + p.outputPadding[0];
  const WP = WD + 2 * left + p.outputPadding[1];
  const z = tensor([N, C, HP, WP]);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let r = 0; r < HP; r++) {
        const dr = r - top; // row in the zero-inserted image
        if (dr < 0 || dr >= HD || dr % sh !== 0) continue;
        for (let q = 0; q < WP; q++) {
          const dq = q - left;
          if (dq < 0 || dq >= WD || dq % sw !== 0) continue;
          z.data[((n * C + c) * HP + r) * WP + q] = x.data[((n * C + c) * H + dr / sh) * W + dq / sw]!;
        }
      }
  // 3. Flip the kernel spatially and swap its channel roles within each group: conv2d wants
  //    [out, in/G, kh, kw], so wf[g*OG + co, ci] = w[g*CG + ci, co] flipped.
  const wf = tensor([O, CG, KH, KW]);
  for (let g = 0; g < G; g++)
    for (let ci = 0; ci < CG; ci++)
      for (let co = 0; co < OG; co++)
        for (let ky = 0; ky < KH; ky++)
          for (let kx = 0; kx < KW; kx++)
            wf.data[(((g * OG + co) * CG + ci) * KH + ky) * KW + kx] =
              w.data[(((g * CG + ci) * OG + co) * KH + (KH - 1 - ky)) * KW + (KW - 1 - kx)]!;
  return conv2d(z, wf, b, { stride: [1, 1], padding: [0, 0], dilation: d, groups: G });
}

/** Visits every (input pixel, weight element) pair whose scatter target lands inside y. */
function forEachScatter(
  x: Tensor, w: Tensor, p: ConvTranspose2dParams,
  visit: (xi: number, wi: number, yi: number) => void,
): void {
  const { N, C, H, W, O, KH, KW, OH, OW, CG, OG, d } = geometry(x, w, p);
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < C; ci++) {
      const group = Math.floor(ci / CG);
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          const xi = ((n * C + ci) * H + i) * W + j;
          for (let c = 0; c < OG; c++) {
            const co = group * OG + c;
            for (let ky = 0; ky < KH; ky++) {
              const oy = i * sh - ph + ky * d[0];
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ox = j * sw - pw + kx * d[1];
                if (ox < 0 || ox >= OW) continue;
                visit(xi, ((ci * OG + c) * KH + ky) * KW + kx, ((n * O + co) * OH + oy) * OW + ox);
              }
            }
          }
        }
    }
}

function outShape(x: Tensor, w: Tensor, p: ConvTranspose2dParams): number[] {
  const g = geometry(x, w, p);
  return [g.N, g.O, g.OH, g.OW];
}

/** Scatter form: y[n,g*OG+c, i*s-p+ky*d, j*s-p+kx*d] += x[n,ci,i,j] * w[ci,c,ky,kx], plus bias. */
export function convTranspose2dScatter(x: Tensor, w: Tensor, b: Tensor | null, p: ConvTranspose2dParams): Tensor {
  const y = tensor(outShape(x, w, p));
  const [, O, OH, OW] = y.shape as [number, number, number, number];
  checkBias(b, O);
  if (b) for (let i = 0; i < y.data.length; i++) y.data[i] = b.data[Math.floor(i / (OH * OW)) % O]!;
  forEachScatter(x, w, p, (xi, wi, yi) => { y.data[yi]! += x.data[xi]! * w.data[wi]!; });
  return y;
}

/** Chain rule on the scatter form; db is returned whether or not a bias was used. */
export function convTranspose2dBackward(
  x: Tensor, w: Tensor, dy: Tensor, p: ConvTranspose2dParams,
): { dx: Tensor; dw: Tensor; db: Tensor } {
  const want = outShape(x, w, p);
  if (dy.shape.join() !== want.join()) throw new Error(`convT: dy shape [${dy.shape}] != [${want}]`);
  const [, O, OH, OW] = want as [number, number, number, number];
  const dx = tensor(x.shape);
  const dw = tensor(w.shape);
  const db = tensor([O]);
  forEachScatter(x, w, p, (xi, wi, yi) => {
    dx.data[xi]! += dy.data[yi]! * w.data[wi]!;
    dw.data[wi]! += dy.data[yi]! * x.data[xi]!;
  });
  for (let i = 0; i < dy.data.length; i++) db.data[Math.floor(i / (OH * OW)) % O]! += dy.data[i]!;
  return { dx, dw, db };
}
