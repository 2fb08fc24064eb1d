// 2-D convolution (cross-correlation, PyTorch's Conv2d): forward, and the weight and bias gradients.
// Its input gradient is a transposed convolution and lives in conv_transpose2d.wgsl. All tensors are
// NCHW f32; every vec2 below is (height, width).

struct Conv {
  batch: u32,
  c_in: u32,       // channels of x (the tensor indexed with stride and padding)
  c_out: u32,      // channels of y / g
  has_bias: u32,
  in_size: vec2i,  // spatial size of x
  out_size: vec2i, // spatial size of y / g
  kernel: vec2i,
  stride: vec2i,
  pad: vec2i,
}

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;        // [c_out, c_in, kh, kw]
@group(0) @binding(3) var<storage, read> bias: array<f32>;     // [c_out], read when has_bias
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;        // gradient w.r.t. y
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;
@group(0) @binding(7) var<storage, read_write> db: array<f32>;

// y[n,co,oy,ox] = bias[co] + sum_{ci,ky,kx} x[n,ci,oy*s-p+ky,ox*s-p+kx] * w[co,ci,ky,kx]
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let ohw = u32(p.out_size.x * p.out_size.y);
  if (i >= p.batch * p.c_out * ohw) { return; }
  let ox = i32(i % u32(p.out_size.y));
  let oy = i32((i / u32(p.out_size.y)) % u32(p.out_size.x));
  let co = (i / ohw) % p.c_out;
  let n = i / (ohw * p.c_out);
  let ihw = u32(p.in_size.x * p.in_size.y);
  let khw = u32(p.kernel.x * p.kernel.y);
  var acc = select(0.0, bias[co], p.has_bias != 0u);
  for (var ci = 0u; ci < p.c_in; ci++) {
    let xbase = (n * p.c_in + ci) * ihw;
    let wbase = (co * p.c_in + ci) * khw;
    for (var ky = 0; ky < p.kernel.x; ky++) {
      let iy = oy * p.stride.x - p.pad.x + ky;
      if (iy < 0 || iy >= p.in_size.x) { continue; }
      for (var kx = 0; kx < p.kernel.y; kx++) {
        let ix = ox * p.stride.y - p.pad.y + kx;
        if (ix < 0 || ix >= p.in_size.y) { continue; }
        acc += x[xbase + u32(iy * p.in_size.y + ix)] * w[wbase + u32(ky * p.kernel.y + kx)];
      }
    }
  }
  y[i] = acc;
}

// dw[co,ci,ky,kx] = sum_{n,oy,ox} g[n,co,oy,ox] * x[n,ci,oy*s-p+ky,ox*s-p+kx]
// (A transposed convolution's weight gradient is this same sum with x and g swapped.)
@compute @workgroup_size(WG)
fn grad_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let khw = u32(p.kernel.x * p.kernel.y);
  if (i >= p.c_out * p.c_in * khw) { return; }
  let kx = i32(i % u32(p.kernel.y));
  let ky = i32((i / u32(p.kernel.y)) % u32(p.kernel.x));
  let ci = (i / khw) % p.c_in;
  let co = i / (khw * p.c_in);
  let ihw = u32(p.in_size.x * p.in_size.y);
  let ohw = u32(p.out_size.x * p.out_size.y);
  var acc = 0.0;
  for (var n = 0u; n < p.batch; n++) {
    let xbase = (n * p.c_in + ci) * ihw;
    let gbase = (n * p.c_out + co) * ohw;
    for (var oy = 0; oy < p.out_size.x; oy++) {
      let iy = oy * p.stride.x - p.pad.x + ky;
      if (iy < 0 || iy >= p.in_size.x) { continue; }
      for (var ox = 0; ox < p.out_size.y; ox++) {
        let ix = ox * p.stride.y - p.pad.y + kx;
        if (ix < 0 || ix >= p.in_size.y) { continue; }
        acc += g[gbase + u32(oy * p.out_size.y + ox)] * x[xbase + u32(iy * p.in_size.y + ix)];
      }
    }
  }
  dw[i] = acc;
}

// db[co] = sum_{n,oy,ox} g[n,co,oy,ox]
@compute @workgroup_size(WG)
fn grad_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let co = flat_id(gid, nwg);
  if (co >= p.c_out) { return; }
  let ohw = u32(p.out_size.x * p.out_size.y);
  var acc = 0.0;
  for (var n = 0u; n < p.batch; n++) {
    let base = (n * p.c_out + co) * ohw;
    for (var j = 0u; j < ohw; j++) { acc += g[base + j]; }
  }
  db[co] = acc;
}
