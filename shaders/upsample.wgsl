// Nearest-neighbour upsampling by integer factors (nn.Upsample(scale_factor=s, mode='nearest')):
// output pixel (oy, ox) copies input pixel (oy / s_h, ox / s_w). The backward pass gathers: each
// input pixel's gradient is the sum of its s_h × s_w block, in row-major order, so no atomics.
// NCHW f32; every vec2 is (height, width).

struct Upsample {
  planes: u32,     // batch * channels
  in_size: vec2u,
  out_size: vec2u,
  scale: vec2u,
}

@group(0) @binding(0) var<uniform> p: Upsample;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;        // gradient w.r.t. y
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let ohw = p.out_size.x * p.out_size.y;
  if (i >= p.planes * ohw) { return; }
  let ox = i % p.out_size.y;
  let oy = (i / p.out_size.y) % p.out_size.x;
  let plane = i / ohw;
  y[i] = x[(plane * p.in_size.x + oy / p.scale.x) * p.in_size.y + ox / p.scale.y];
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let ihw = p.in_size.x * p.in_size.y;
  if (i >= p.planes * ihw) { return; }
  let ix = i % p.in_size.y;
  let iy = (i / p.in_size.y) % p.in_size.x;
  let plane = i / ihw;
  var acc = 0.0;
  for (var a = 0u; a < p.scale.x; a++) {
    let row = (plane * p.out_size.x + iy * p.scale.x + a) * p.out_size.y + ix * p.scale.y;
    for (var b = 0u; b < p.scale.y; b++) { acc += g[row + b]; }
  }
  dx[i] = acc;
}
