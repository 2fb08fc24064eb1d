// Mean squared error over all elements, and its gradient. The loss is reduced in two fixed-shape
// passes (PARTS strided partial sums, then one sum) — no atomics, no workgroup barriers, and the
// same summation order on every run and every GPU.

override PARTS: u32 = 256;

struct Mse {
  count: u32,      // elements in y and target
  loss_index: u32, // where in `loss` this step's value goes (the trainer keeps a ring of them)
  scale: f32,      // multiplies the gradient: 2/count for a mean
}

@group(0) @binding(0) var<uniform> p: Mse;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> target_: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>; // [PARTS]
@group(0) @binding(4) var<storage, read> partial_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> dy: array<f32>;

@compute @workgroup_size(WG)
fn partial_sums(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let part = flat_id(gid, nwg);
  if (part >= PARTS) { return; }
  var acc = 0.0;
  for (var i = part; i < p.count; i += PARTS) {
    let d = y[i] - target_[i];
    acc += d * d;
  }
  partial[part] = acc;
}

@compute @workgroup_size(1)
fn finish() {
  var acc = 0.0;
  for (var i = 0u; i < PARTS; i++) { acc += partial_in[i]; }
  loss[p.loss_index] = acc / f32(p.count);
}

@compute @workgroup_size(WG)
fn grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i < p.count) { dy[i] = p.scale * (y[i] - target_[i]); }
}
