// 2-D average pooling (PyTorch's AvgPool2d, floor mode) and its backward. With count_include_pad the
// divisor is always kernel_h × kernel_w (floor mode keeps every window inside the padded input);
// without it, the number of real pixels in the window (at least one, since padding ≤ kernel / 2).
// NCHW f32; every vec2 is (height, width).

struct Pool {
  planes: u32,      // batch * channels
  count_include_pad: u32,
  in_size: vec2i,
  out_size: vec2i,
  kernel: vec2i,
  stride: vec2i,
  pad: vec2i,
}

@group(0) @binding(0) var<uniform> p: Pool;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;       // gradient w.r.t. y
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// The window of output (oy, ox), clipped to the input: (y0, x0, y1, x1), ends exclusive.
fn window(oy: i32, ox: i32) -> vec4i {
  let y0 = oy * p.stride.x - p.pad.x;
  let x0 = ox * p.stride.y - p.pad.y;
  return vec4i(max(y0, 0), max(x0, 0), min(y0 + p.kernel.x, p.in_size.x), min(x0 + p.kernel.y, p.in_size.y));
}

fn divisor(w: vec4i) -> f32 {
  if (p.count_include_pad != 0u) { return f32(p.kernel.x * p.kernel.y); }
  return f32((w.z - w.x) * (w.w - w.y));
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let ohw = u32(p.out_size.x * p.out_size.y);
  if (i >= p.planes * ohw) { return; }
  let ox = i32(i % u32(p.out_size.y));
  let oy = i32((i / u32(p.out_size.y)) % u32(p.out_size.x));
  let base = (i / ohw) * u32(p.in_size.x * p.in_size.y);
  let w = window(oy, ox);
  var acc = 0.0;
  for (var iy = w.x; iy < w.z; iy++) {
    let row = base + u32(iy * p.in_size.y);
    for (var ix = w.y; ix < w.w; ix++) { acc += x[row + u32(ix)]; }
  }
  y[i] = acc / divisor(w);
}

// dx[n,c,iy,ix] = Σ over the windows holding (iy, ix) of dy / that window's divisor. Gathered per
// input pixel, so overlapping windows need no atomics and the sum order is fixed.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let ihw = u32(p.in_size.x * p.in_size.y);
  if (i >= p.planes * ihw) { return; }
  let ix = i32(i % u32(p.in_size.y));
  let iy = i32((i / u32(p.in_size.y)) % u32(p.in_size.x));
  let obase = (i / ihw) * u32(p.out_size.x * p.out_size.y);
  // Windows covering iy: oy*s - pad <= iy <= oy*s - pad + k - 1.
  let ty = iy + p.pad.x;
  let tx = ix + p.pad.y;
  let oy0 = max(0, (ty - p.kernel.x + p.stride.x) / p.stride.x);
  let oy1 = min(p.out_size.x - 1, ty / p.stride.x);
  let ox0 = max(0, (tx - p.kernel.y + p.stride.y) / p.stride.y);
  let ox1 = min(p.out_size.y - 1, tx / p.stride.y);
  var acc = 0.0;
  for (var oy = oy0; oy <= oy1; oy++) {
    for (var ox = ox0; ox <= ox1; ox++) {
      acc += g[obase + u32(oy * p.out_size.y + ox)] / divisor(window(oy, ox));
    }
  }
  dx[i] = acc;
}
