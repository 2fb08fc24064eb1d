// 2-D max pooling (PyTorch's MaxPool2d; padding counts as -inf), recording each window's argmax so
// the backward pass routes gradients exactly where the forward pass found the maximum.
// NCHW f32; every vec2 is (height, width). `Pool`, the uniform, is in maxpool2d_common.wgsl.

@group(0) @binding(0) var<uniform> p: Pool;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<i32>; // iy*W+ix within the plane
@group(0) @binding(4) var<storage, read> arg: array<i32>;          // argmax, read by backward
@group(0) @binding(5) var<storage, read> g: array<f32>;            // gradient w.r.t. y
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read> py: array<f32>;           // the pool's output, read by backward_act

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let ohw = u32(p.out_size.x * p.out_size.y);
  if (i >= p.planes * ohw) { return; }
  let ox = i32(i % u32(p.out_size.y));
  let oy = i32((i / u32(p.out_size.y)) % u32(p.out_size.x));
  let base = (i / ohw) * u32(p.in_size.x * p.in_size.y);
  // PyTorch keeps padding <= kernel/2, so every window holds at least one real pixel and best is
  // always replaced. The first maximum in row-major order wins; a NaN wins and stays (as PyTorch).
  var best = 0.0;
  var best_at = -1;
  for (var ky = 0; ky < p.kernel.x; ky++) {
    let iy = oy * p.stride.x - p.pad.x + ky;
    if (iy < 0 || iy >= p.in_size.x) { continue; }
    for (var kx = 0; kx < p.kernel.y; kx++) {
      let ix = ox * p.stride.y - p.pad.y + kx;
      if (ix < 0 || ix >= p.in_size.y) { continue; }
      let at = iy * p.in_size.y + ix;
      let v = x[base + u32(at)];
      if (best_at < 0 || v > best || (is_nan(v) && !is_nan(best))) {
        best = v;
        best_at = at;
      }
    }
  }
  y[i] = best;
  argmax[i] = best_at;
}

// dx[n,c,iy,ix] = sum of g over the windows whose argmax is (iy, ix). Gathered per input pixel, so
// overlapping windows need no atomics and the sum order is fixed. `.window` is the last such window
// (its output is the pixel itself, which it chose), `.hit` whether there was one.
struct Routed { sum: f32, window: u32, hit: bool }

fn gathered(i: u32) -> Routed {
  let ihw = u32(p.in_size.x * p.in_size.y);
  let ix = i32(i % u32(p.in_size.y));
  let iy = i32((i / u32(p.in_size.y)) % u32(p.in_size.x));
  let at = iy * p.in_size.y + ix;
  let obase = (i / ihw) * u32(p.out_size.x * p.out_size.y);
  // Windows covering iy: oy*s - pad <= iy <= oy*s - pad + k - 1.
  let ty = iy + p.pad.x;
  let tx = ix + p.pad.y;
  let oy0 = max(0, (ty - p.kernel.x + p.stride.x) / p.stride.x);
  let oy1 = min(p.out_size.x - 1, ty / p.stride.x);
  let ox0 = max(0, (tx - p.kernel.y + p.stride.y) / p.stride.y);
  let ox1 = min(p.out_size.y - 1, tx / p.stride.y);
  var r = Routed(0.0, 0u, false);
  for (var oy = oy0; oy <= oy1; oy++) {
    for (var ox = ox0; ox <= ox1; ox++) {
      let o = obase + u32(oy * p.out_size.y + ox);
      if (arg[o] == at) { r.sum += g[o]; r.window = o; r.hit = true; }
    }
  }
  return r;
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.planes * u32(p.in_size.x * p.in_size.y)) { return; }
  dx[i] = gathered(i).sum;
}

// The same, continued through the activation before the pool (ACT_GRAD): the common conv →
// activation → pool pattern then needs no separate activation-backward pass. The activation's
// output is needed only where the gradient is routed, at an argmax, and there it equals the pool's
// output; so the pool's output is read (a quarter of the activation's for a 2×2 pool), and the
// activation's output need not outlive the pool's forward pass (or exist at all, when the
// convolution before it pools as it stores). Pixels no window chose get exactly 0.
@compute @workgroup_size(WG)
fn backward_act(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.planes * u32(p.in_size.x * p.in_size.y)) { return; }
  let r = gathered(i);
  dx[i] = select(0.0, activation_grad(ACT_GRAD, r.sum, py[r.window]), r.hit);
}
