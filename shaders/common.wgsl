// Prepended to every kernel. WG is set from the TypeScript constant that also sizes the dispatch.
override WG: u32 = 64;

// The activation a kernel applies to its output (convolutions fuse theirs): 0 none, 1 ReLU,
// 2 SELU, 3 Sigmoid, 4 Tanh, 5 LeakyReLU, 6 GELU — ACTIVATION_CODES in src/ops/activation.ts.
override ACT: u32 = 0;
// LeakyReLU's negative_slope (PyTorch's default 0.01); a pipeline constant, like ACT.
override SLOPE: f32 = 0.01;

// Dispatches too large for one dimension are folded into y and z (at most 65,535 workgroups each);
// this undoes the fold so every kernel sees one flat invocation index.
fn flat_id(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + (gid.y + gid.z * nwg.y) * nwg.x * WG;
}

// WGSL lets compilers assume floats are never NaN, so `v != v` may be folded to false. The bit
// pattern test cannot be, and keeps NaN propagation (ReLU(NaN) = NaN, as PyTorch) on every backend.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// PyTorch's SELU constants.
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

// r, or v itself when v is NaN. Every activation and derivative goes through this, so NaN in gives
// NaN out even where a backend folds comparisons, min/max or exp of NaN into a number. A select on
// a non-NaN v returns r unchanged, bit for bit.
fn keep_nan(r: f32, v: f32) -> f32 { return select(r, v, is_nan(v)); }

fn relu(v: f32) -> f32 { return select(v, 0.0, v <= 0.0 && !is_nan(v)); }

// exp() only ever sees a non-positive argument, so ±100 (or ±inf) stays finite.
fn selu(v: f32) -> f32 { return keep_nan(SELU_SCALE * select(SELU_ALPHA * (exp(min(v, 0.0)) - 1.0), v, v > 0.0), v); }

fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return keep_nan(select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0), v);
}

// Not the builtin tanh: some backends expand it as (e^2x - 1)/(e^2x + 1), which is inf/inf = NaN
// for |x| > ~44. This form never overflows.
fn tanh_stable(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return keep_nan(sign(v) * (1.0 - e) / (1.0 + e), v);
}

// PyTorch's x > 0 ? x : x·slope. Slope 0 is ReLU, -inf included: compilers fold x·0 to 0 for a
// constant slope while IEEE says NaN, so it is spelled out (PyTorch gives NaN there).
fn leaky_relu(v: f32) -> f32 { return keep_nan(select(select(v * SLOPE, 0.0, SLOPE == 0.0), v, v > 0.0), v); }

// erf(z) for |z| < 1: its Maclaurin series 2/√π Σ (−1)^k z^(2k+1) / (k!(2k+1)) to k = 10 (truncation
// < 2e-9). Written z + z·(2/√π − 1 + …) so that rounding 2/√π to f32 costs nothing.
fn erf_series(z: f32) -> f32 {
  let s = z * z;
  var r = 1.4807192815879218e-8;
  r = -1.6365844691234924e-7 + s * r;
  r = 1.6462114365889246e-6 + s * r;
  r = -1.4925650358406250e-5 + s * r;
  r = 1.2055332981789664e-4 + s * r;
  r = -8.5483270234508522e-4 + s * r;
  r = 5.2239776254421879e-3 + s * r;
  r = -2.6866170645131252e-2 + s * r;
  r = 1.1283791670955126e-1 + s * r;
  r = -3.7612638903183754e-1 + s * r;
  r = 1.2837916709551256e-1 + s * r;
  return z + z * r;
}

// erfc(z) for z ≥ 0 (used from z = 1): the Chebyshev fit of Numerical Recipes (erfcc), with
// fractional error below 1.2e-7 everywhere, so Φ keeps its relative accuracy deep in the lower tail.
// z is capped where erfc is already 0 in f32, so exp never sees -inf.
fn erfc_tail(z: f32) -> f32 {
  let zc = min(z, 16.0);
  let t = 1.0 / (1.0 + 0.5 * zc);
  var r = 0.17087277;
  r = -0.82215223 + t * r;
  r = 1.48851587 + t * r;
  r = -1.13520398 + t * r;
  r = 0.27886807 + t * r;
  r = -0.18628806 + t * r;
  r = 0.09678418 + t * r;
  r = 0.37409196 + t * r;
  r = 1.00002368 + t * r;
  r = -1.26551223 + t * r;
  return t * exp(r - zc * zc);
}

// The error function in f32, within 1e-7 of the exact value over [-10, 10] (6.9e-8 measured on
// SwiftShader; the rest of the error is exp's and f32 rounding).
fn erf_f32(z: f32) -> f32 {
  if (abs(z) < 1.0) { return keep_nan(erf_series(z), z); }
  let r = 1.0 - erfc_tail(abs(z));
  return keep_nan(select(r, -r, z < 0.0), z);
}

const FRAC_1_SQRT_2 = 0.70710678118654752440;
const FRAC_1_SQRT_2PI = 0.39894228040143267794;

// Φ(v), the standard normal CDF, as ½·erfc(−v/√2). (No parameter here is named like a binding:
// wgsl_reflect counts such a name as a use of the binding by every entry point that calls it.)
fn normal_cdf(v: f32) -> f32 {
  let z = -v * FRAC_1_SQRT_2;
  if (abs(z) < 1.0) { return 0.5 - 0.5 * erf_series(z); }
  let t = 0.5 * erfc_tail(abs(z));
  return select(1.0 - t, t, z > 0.0);
}

// GELU, exact form (nn.GELU()): x·Φ(x). Below x = -20, Φ(x) is 0 in f32 and x is clamped there, so
// GELU(-inf) is its limit -0 rather than PyTorch's -inf·0 = NaN.
fn gelu(v: f32) -> f32 { return keep_nan(max(v, -20.0) * normal_cdf(v), v); }

// dGELU/dx = Φ(x) + x·φ(x). x·φ(x) is 0 in f32 beyond |x| = 20; clamping keeps inf·0 out of it.
fn gelu_grad(v: f32) -> f32 {
  let c = clamp(v, -20.0, 20.0);
  return keep_nan(normal_cdf(v) + c * exp(-0.5 * c * c) * FRAC_1_SQRT_2PI, v);
}

// GELU (6) can be applied here, but its backward needs the pre-activation x, which a fused store
// does not keep: FUSABLE in src/ops/activation.ts says which codes a training graph may fuse.
fn activate(v: f32) -> f32 {
  switch ACT {
    case 1u: { return relu(v); }
    case 2u: { return selu(v); }
    case 3u: { return sigmoid(v); }
    case 4u: { return tanh_stable(v); }
    case 5u: { return leaky_relu(v); }
    case 6u: { return gelu(v); }
    default: { return v; }
  }
}

// The gradient through an activation from its output y (codes as ACT; GELU needs its input and is
// never given here). A kernel whose result feeds straight into an activation's backward applies it
// as it stores (override ACT_GRAD), saving that pass and a tensor. NaN in y stays NaN.
override ACT_GRAD: u32 = 0;

// up: the gradient arriving from above (not `g`: see normal_cdf on parameter names).
fn activation_grad(code: u32, up: f32, v: f32) -> f32 {
  switch code {
    case 1u: { return keep_nan(select(0.0, up, v > 0.0), v); }
    case 2u: { return keep_nan(up * select(v + SELU_SCALE * SELU_ALPHA, SELU_SCALE, v > 0.0), v); }
    case 3u: { return keep_nan(up * v * (1.0 - v), v); }
    case 4u: { return keep_nan(up * (1.0 - v * v), v); }
    case 5u: { return keep_nan(select(up * SLOPE, up, v > 0.0), v); }
    default: { return up; }
  }
}
