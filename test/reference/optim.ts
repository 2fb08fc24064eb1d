// Reference optimizer steps in float64, following torch.optim.SGD and torch.optim.Adam
// (single-tensor, non-foreach, non-amsgrad, maximize=False). Each call performs one step,
// updating the parameters `p` and the optimizer state in place; the gradient `g` is not modified.

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}
export interface SgdState { buf?: Float64Array }

export function sgdStep(p: Float64Array, g: Float64Array, state: SgdState, opts: SgdOptions): void {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = opts;
  if (p.length !== g.length) throw new Error('sgdStep: p/g length mismatch');
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new Error('sgdStep: nesterov needs momentum > 0 and dampening 0'); // as torch
  }
  const d = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) d[i] = weightDecay !== 0 ? g[i]! + weightDecay * p[i]! : g[i]!;
  if (momentum !== 0) {
    if (state.buf === undefined) {
      // torch clones the gradient on the first step: no dampening is applied to it.
      state.buf = d.slice();
    } else {
      const buf = state.buf;
      for (let i = 0; i < p.length; i++) buf[i] = momentum * buf[i]! + (1 - dampening) * d[i]!;
    }
    const buf = state.buf;
    for (let i = 0; i < p.length; i++) d[i] = nesterov ? d[i]! + momentum * buf[i]! : buf[i]!;
  }
  for (let i = 0; i < p.length; i++) p[i]! -= lr * d[i]!;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}
export interface AdamState { m: Float64Array; v: Float64Array; step: number }

export function adamState(n: number): AdamState {
  return { m: new Float64Array(n), v: new Float64Array(n), step: 0 };
}

/** torch.lerp(a, b, w): the two-branch form torch uses, which is exact at both ends. */
function lerp(a: number, b: number, w: number): number {
  return w < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w);
}

export function adamStep(p: Float64Array, g: Float64Array, state: AdamState, opts: AdamOptions): void {
  const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = opts;
  const { m, v } = state;
  if (p.length !== g.length || m.length !== p.length || v.length !== p.length) {
    throw new Error('adamStep: p/g/m/v length mismatch');
  }
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - beta1 ** t;
  const bc2 = 1 - beta2 ** t;
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    // Adam's weight decay is L2 added to the gradient (unlike AdamW's decoupled decay).
    const gi = weightDecay !== 0 ? g[i]! + weightDecay * p[i]! : g[i]!;
    m[i] = lerp(m[i]!, gi, 1 - beta1); // torch: exp_avg.lerp_(grad, 1 - beta1)
    v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
    const denom = Math.sqrt(v[i]!) / bc2Sqrt + eps;
    p[i]! -= stepSize * (m[i]! / denom);
  }
}
