// Reference elementwise activations in float64, PyTorch semantics (nn.ReLU, nn.SELU, nn.Sigmoid,
// nn.Tanh, nn.LeakyReLU, nn.GELU with the exact erf form). Backward functions take the forward
// *input* x and the upstream gradient dy.
// Forms are chosen to stay finite for large |x| (no exp of a large positive argument).

// Published SELU constants (Klambauer et al. 2017), as used by PyTorch.
export const SELU_ALPHA = 1.6732632423543772848170429916717;
export const SELU_SCALE = 1.0507009873554804934193349852946;

function map(x: Float64Array, f: (v: number) => number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]!);
  return out;
}

function map2(x: Float64Array, dy: Float64Array, f: (v: number, g: number) => number): Float64Array {
  if (x.length !== dy.length) throw new Error(`length mismatch ${x.length} vs ${dy.length}`);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]!, dy[i]!);
  return out;
}

// relu(NaN) = NaN as in PyTorch; a bare `x > 0 ? x : 0` would silently turn NaN into 0.
export const relu = (x: Float64Array) => map(x, (v) => Math.max(v, 0)); // NaN stays NaN, as in PyTorch
// Gradient is 0 at x = 0 (PyTorch's threshold_backward uses x > 0).
export const reluBackward = (x: Float64Array, dy: Float64Array) => map2(x, dy, (v, g) => (v > 0 ? g : 0));

// expm1 keeps precision for small negative x; it saturates to -1 rather than overflowing.
export const selu = (x: Float64Array) =>
  map(x, (v) => SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Math.expm1(v)));
export const seluBackward = (x: Float64Array, dy: Float64Array) =>
  map2(x, dy, (v, g) => g * (v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(v)));

// Only ever exponentiate a non-positive number, so neither branch can overflow.
function sigmoid1(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}
export const sigmoid = (x: Float64Array) => map(x, sigmoid1);
export const sigmoidBackward = (x: Float64Array, dy: Float64Array) =>
  map2(x, dy, (v, g) => {
    const s = sigmoid1(v);
    return g * s * (1 - s);
  });

// Math.tanh saturates to ±1 cleanly.
export const tanh = (x: Float64Array) => map(x, Math.tanh);
export const tanhBackward = (x: Float64Array, dy: Float64Array) =>
  map2(x, dy, (v, g) => {
    const t = Math.tanh(v);
    return g * (1 - t * t);
  });

// PyTorch: x > 0 ? x : x·slope, and the gradient's slope applies at x = 0. Slope 0 is ReLU at −inf
// too (PyTorch's −inf·0 = NaN is what GPU compilers fold away for a constant slope).
export const leakyRelu = (x: Float64Array, slope = 0.01) => map(x, (v) => (v > 0 ? v : slope === 0 && !Number.isNaN(v) ? 0 : v * slope));
export const leakyReluBackward = (x: Float64Array, dy: Float64Array, slope = 0.01) =>
  map2(x, dy, (v, g) => (v > 0 ? g : g * slope));

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

// erf(x) = 2/√π·e^(−x²)·Σ 2^n x^(2n+1) / (1·3·…·(2n+1))  (Abramowitz & Stegun 7.1.6): every term is
// positive, so nothing cancels; used below 3.
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x, sum = x;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

// erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + …)))))  (A&S 7.1.14), evaluated
// from the bottom; 200 levels are far more than converge to double precision for z ≥ 3.
function erfcContinuedFraction(z: number): number {
  let r = 0;
  for (let k = 200; k >= 1; k--) r = k / 2 / (z + r);
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + r);
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  const r = a < 3 ? erfSeries(a) : 1 - erfcContinuedFraction(a);
  return x < 0 ? -r : r;
}

/** 1 − erf(x), with full relative precision in the upper tail (erfc(10) ≈ 2.1e-45). */
export function erfc(x: number): number {
  if (x >= 3) return erfcContinuedFraction(x);
  if (x <= -3) return 2 - erfcContinuedFraction(-x);
  return 1 - erf(x);
}

/** Φ, the standard normal CDF. */
export const normalCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

// GELU(x) = x·Φ(x). At −inf we give the limit −0 (PyTorch computes −inf·0 = NaN there).
export const gelu = (x: Float64Array) => map(x, (v) => (v === -Infinity ? -0 : v * normalCdf(v)));
// dGELU/dx = Φ(x) + x·φ(x), with x·φ(x) → 0 at ±inf.
export const geluBackward = (x: Float64Array, dy: Float64Array) =>
  map2(x, dy, (v, g) => {
    const xphi = Number.isFinite(v) ? (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI) : 0;
    return g * (normalCdf(v) + xphi);
  });
