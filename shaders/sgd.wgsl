// One SGD step in place, with PyTorch's semantics for weight decay, momentum, dampening and Nesterov.

struct Sgd {
  count: u32,
  first_step: u32,   // the momentum buffer starts as the gradient itself, undamped
  nesterov: u32,
  has_momentum: u32,
  lr: f32,
  momentum: f32,
  dampening: f32,
  weight_decay: f32,
  status_index: u32,  // this step's slot in the guard's status ring (shaders/guard.wgsl)
}

@group(0) @binding(0) var<uniform> p: Sgd;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentum_buf: array<f32>;
@group(0) @binding(4) var<storage, read> status: array<u32>; // a flagged step is not applied
@group(0) @binding(5) var<storage, read> halt: array<u32>;   // nor any step after a stop

@compute @workgroup_size(WG)
fn step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.count || status[p.status_index] != 0u || halt[0] != 0u) { return; }
  var d = grad[i] + p.weight_decay * param[i];
  if (p.has_momentum != 0u) {
    var b = d;
    if (p.first_step == 0u) { b = p.momentum * momentum_buf[i] + (1.0 - p.dampening) * d; }
    momentum_buf[i] = b;
    d = select(b, d + p.momentum * b, p.nesterov != 0u);
  }
  param[i] -= p.lr * d;
}

// The same, four parameters an invocation, for counts that are multiples of 4 (src/ops/sgd.ts picks
// it): the same operations per component, so the same bits, as vec4s.
@group(0) @binding(6) var<storage, read_write> param4: array<vec4f>;
@group(0) @binding(7) var<storage, read> grad4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> momentum_buf4: array<vec4f>;

@compute @workgroup_size(WG)
fn step4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.count / 4u || status[p.status_index] != 0u || halt[0] != 0u) { return; }
  var d = grad4[i] + p.weight_decay * param4[i];
  if (p.has_momentum != 0u) {
    var b = d;
    if (p.first_step == 0u) { b = p.momentum * momentum_buf4[i] + (1.0 - p.dampening) * d; }
    momentum_buf4[i] = b;
    d = select(b, d + p.momentum * b, p.nesterov != 0u);
  }
  param4[i] -= p.lr * d;
}
