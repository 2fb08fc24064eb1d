// Element-wise activations and their gradients (the functions themselves are in common.wgsl, since
// convolutions apply them too). Backward reads the forward *output* y wherever the derivative is a
// function of y alone, so a convolution with a fused activation need not keep its pre-activation;
// GELU's derivative is not, so gelu_backward reads the input x. A NaN in what backward reads gives
// a NaN gradient (PyTorch passes dy through ReLU at NaN; we would rather the NaN stay visible).

struct Elementwise { count: u32 }

@group(0) @binding(0) var<uniform> p: Elementwise;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> fy: array<f32>;    // the forward output, read by backward
@group(0) @binding(4) var<storage, read> g: array<f32>;     // gradient w.r.t. y
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn relu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = relu(x[i]); }
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { dx[i] = activation_grad(1u, g[i], fy[i]); }
}

@compute @workgroup_size(WG)
fn selu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = selu(x[i]); }
}

@compute @workgroup_size(WG)
fn selu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  // y = λ·α·(e^x − 1) for x ≤ 0, so dy/dx = λ·α·e^x = y + λ·α there, and λ above 0.
  if (i < p.count) { dx[i] = activation_grad(2u, g[i], fy[i]); }
}

@compute @workgroup_size(WG)
fn sigmoid_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = sigmoid(x[i]); }
}

@compute @workgroup_size(WG)
fn sigmoid_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { dx[i] = activation_grad(3u, g[i], fy[i]); }
}

@compute @workgroup_size(WG)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = tanh_stable(x[i]); }
}

@compute @workgroup_size(WG)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { dx[i] = activation_grad(4u, g[i], fy[i]); }
}

@compute @workgroup_size(WG)
fn leakyrelu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = leaky_relu(x[i]); }
}

// From y: with SLOPE ≥ 0 (the binding refuses less), y > 0 exactly where x > 0. At x = 0 the slope
// applies, as in PyTorch.
@compute @workgroup_size(WG)
fn leakyrelu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { dx[i] = activation_grad(5u, g[i], fy[i]); }
}

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { y[i] = gelu(x[i]); }
}

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { let v = x[i]; dx[i] = keep_nan(g[i] * gelu_grad(v), v); }
}
