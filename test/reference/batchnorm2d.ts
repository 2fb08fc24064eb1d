// Reference BatchNorm2d, float64, PyTorch nn.BatchNorm2d semantics, written from the definition:
// per channel c over the M = N·H·W values, mean μ = Σx/M, biased variance σ² = Σ(x − μ)²/M,
// y = (x − μ)/√(σ² + eps)·γ + β; the running statistics move by `momentum` towards μ and the unbiased
// variance Σ(x − μ)²/(M − 1). Evaluation uses the running statistics. Backward is the textbook
// formula dx = γ/√(σ² + eps)·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.

import { tensor, type Tensor } from './tensor.ts';

export interface BatchNormRef { eps: number; momentum: number }

const dims = (t: Tensor) => t.shape as [number, number, number, number];

/** The M = N·H·W values of channel c, in (n, h, w) order. */
function channelValues(x: Tensor, c: number): number[] {
  const [N, C, H, W] = dims(x);
  const out: number[] = [];
  for (let n = 0; n < N; n++) for (let s = 0; s < H * W; s++) out.push(x.data[(n * C + c) * H * W + s]!);
  return out;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sumSq = (v: number[], m: number) => v.reduce((a, b) => a + (b - m) * (b - m), 0);

function mapChannels(x: Tensor, f: (v: number, c: number) => number): Tensor {
  const [, C, H, W] = dims(x);
  const y = tensor(x.shape);
  x.data.forEach((v, i) => (y.data[i] = f(v, Math.floor(i / (H * W)) % C)));
  return y;
}

export interface BatchStats { mean: Float64Array; varBiased: Float64Array; varUnbiased: Float64Array }

export function batchStats(x: Tensor): BatchStats {
  const C = dims(x)[1];
  const s = { mean: new Float64Array(C), varBiased: new Float64Array(C), varUnbiased: new Float64Array(C) };
  for (let c = 0; c < C; c++) {
    const v = channelValues(x, c);
    const m = mean(v);
    s.mean[c] = m;
    s.varBiased[c] = sumSq(v, m) / v.length;
    s.varUnbiased[c] = sumSq(v, m) / (v.length - 1);
  }
  return s;
}

const affine = (v: number, c: number, gamma: Float64Array | null, beta: Float64Array | null) =>
  v * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0);

/** Training forward; returns y, the batch statistics and the updated running statistics (inputs untouched). */
export function batchnorm2dTrain(x: Tensor, gamma: Float64Array | null, beta: Float64Array | null, runMean: Float64Array,
  runVar: Float64Array, o: BatchNormRef): { y: Tensor; runMean: Float64Array; runVar: Float64Array; stats: BatchStats } {
  const st = batchStats(x);
  const y = mapChannels(x, (v, c) => affine((v - st.mean[c]!) / Math.sqrt(st.varBiased[c]! + o.eps), c, gamma, beta));
  const m = o.momentum;
  return {
    y, stats: st,
    runMean: runMean.map((r, c) => (1 - m) * r + m * st.mean[c]!),
    runVar: runVar.map((r, c) => (1 - m) * r + m * st.varUnbiased[c]!),
  };
}

export function batchnorm2dEval(x: Tensor, gamma: Float64Array | null, beta: Float64Array | null, runMean: Float64Array,
  runVar: Float64Array, eps: number): Tensor {
  return mapChannels(x, (v, c) => affine((v - runMean[c]!) / Math.sqrt(runVar[c]! + eps), c, gamma, beta));
}

/** Gradients of the training forward (whose batch statistics depend on x). */
export function batchnorm2dBackward(x: Tensor, dy: Tensor, gamma: Float64Array | null, eps: number):
  { dx: Tensor; dgamma: Float64Array; dbeta: Float64Array } {
  const C = dims(x)[1];
  const M = x.data.length / C;
  const st = batchStats(x);
  const invstd = st.varBiased.map((v) => 1 / Math.sqrt(v + eps));
  const dgamma = new Float64Array(C), dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const xv = channelValues(x, c), gv = channelValues(dy, c);
    let sdy = 0, sdyx = 0;
    xv.forEach((v, j) => {
      sdy += gv[j]!;
      sdyx += gv[j]! * (v - st.mean[c]!) * invstd[c]!;
    });
    dbeta[c] = sdy;
    dgamma[c] = sdyx;
  }
  const dx = mapChannels(x, () => 0);
  const [, , H, W] = dims(x);
  x.data.forEach((v, i) => {
    const c = Math.floor(i / (H * W)) % C;
    const xhat = (v - st.mean[c]!) * invstd[c]!;
    dx.data[i] = (gamma ? gamma[c]! : 1) * invstd[c]! * (dy.data[i]! - dbeta[c]! / M - (xhat * dgamma[c]!) / M);
  });
  return { dx, dgamma, dbeta };
}
