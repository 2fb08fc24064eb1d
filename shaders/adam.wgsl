// One Adam step in place, in the order of operations torch.optim.Adam uses (so float32 results
// track PyTorch's closely). Bias corrections depend only on the step number and are computed in
// float64 on the host, as PyTorch does in Python.

struct Adam {
  count: u32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  step_size: f32,        // lr / (1 - beta1^t)
  bias_c2_sqrt: f32,     // sqrt(1 - beta2^t)
  decay_factor: f32,     // AdamW: 1 - lr * weight_decay (decoupled decay); Adam: 1
  status_index: u32,     // this step's slot in the guard's status ring (shaders/guard.wgsl)
}

@group(0) @binding(0) var<uniform> p: Adam;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> status: array<u32>; // a flagged step is not applied
@group(0) @binding(6) var<storage, read> halt: array<u32>;   // nor any step after a stop

@compute @workgroup_size(WG)
fn step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.count || status[p.status_index] != 0u || halt[0] != 0u) { return; }
  let g = grad[i] + p.weight_decay * param[i]; // Adam's L2 term (0 for AdamW)
  let mi = m[i] + (1.0 - p.beta1) * (g - m[i]);
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / p.bias_c2_sqrt + p.eps;
  // AdamW shrinks the parameter first (torch: param.mul_(1 - lr * wd)); times 1 is exact for Adam.
  param[i] = param[i] * p.decay_factor - p.step_size * mi / denom;
}

// The same, four parameters an invocation, for counts that are multiples of 4 (src/ops/adam.ts picks
// it): the same operations per component in the same order, so the same bits, with a quarter of
// the invocations and vec4 loads instead of scalar gathers on software adapters.
@group(0) @binding(7) var<storage, read_write> param4: array<vec4f>;
@group(0) @binding(8) var<storage, read> grad4: array<vec4f>;
@group(0) @binding(9) var<storage, read_write> m4: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> v4: array<vec4f>;

@compute @workgroup_size(WG)
fn step4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.count / 4u || status[p.status_index] != 0u || halt[0] != 0u) { return; }
  let w = param4[i];
  let d = grad4[i] + p.weight_decay * w;
  let mi = m4[i] + (1.0 - p.beta1) * (d - m4[i]);
  let vi = p.beta2 * v4[i] + (1.0 - p.beta2) * d * d;
  m4[i] = mi;
  v4[i] = vi;
  let denom = sqrt(vi) / p.bias_c2_sqrt + p.eps;
  param4[i] = w * p.decay_factor - p.step_size * mi / denom;
}
