// Element-wise activations and their gradients. Backward entries take the forward input x (ReLU,
// SELU) or output y (Sigmoid, Tanh) — whichever gives the derivative without recomputing exp().

struct Elementwise { count: u32 }

@group(0) @binding(0) var<uniform> p: Elementwise;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> fy: array<f32>;    // the forward output, for backward
@group(0) @binding(4) var<storage, read> g: array<f32>;     // gradient w.r.t. y
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

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

@compute @workgroup_size(WG)
fn relu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = relu(x[i]); }
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { dx[i] = select(0.0, g[i], x[i] > 0.0); }
}

@compute @workgroup_size(WG)
fn selu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = selu(x[i]); }
}

@compute @workgroup_size(WG)
fn selu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) {
    let v = x[i];
    dx[i] = g[i] * SELU_SCALE * select(SELU_ALPHA * exp(min(v, 0.0)), 1.0, v > 0.0);
  }
}

@compute @workgroup_size(WG)
fn sigmoid_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = sigmoid(x[i]); }
}

@compute @workgroup_size(WG)
fn sigmoid_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { let s = fy[i]; dx[i] = g[i] * s * (1.0 - s); }
}

@compute @workgroup_size(WG)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = tanh_stable(x[i]); }
}

@compute @workgroup_size(WG)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { let t = fy[i]; dx[i] = g[i] * (1.0 - t * t); }
}
