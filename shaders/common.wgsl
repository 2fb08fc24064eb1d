// Prepended to every kernel. WG is set from the TypeScript constant that also sizes the dispatch.
override WG: u32 = 64;

// The activation a kernel applies to its output (convolutions fuse theirs): 0 none, 1 ReLU,
// 2 SELU, 3 Sigmoid, 4 Tanh — the order of ACTIVATION_CODES in src/ops/activation.ts.
override ACT: u32 = 0;

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

fn relu(v: f32) -> f32 { return select(v, 0.0, v <= 0.0 && !is_nan(v)); }

// exp() only ever sees a non-positive argument, so ±100 (or ±inf) stays finite.
fn selu(v: f32) -> f32 { return SELU_SCALE * select(SELU_ALPHA * (exp(min(v, 0.0)) - 1.0), v, v > 0.0); }

fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// Not the builtin tanh: some backends expand it as (e^2x - 1)/(e^2x + 1), which is inf/inf = NaN
// for |x| > ~44. This form never overflows.
fn tanh_stable(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

fn activate(v: f32) -> f32 {
  switch ACT {
    case 1u: { return relu(v); }
    case 2u: { return selu(v); }
    case 3u: { return sigmoid(v); }
    case 4u: { return tanh_stable(v); }
    default: { return v; }
  }
}
