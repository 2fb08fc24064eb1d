// Transposed 2-D convolution (PyTorch's ConvTranspose2d), gather form: each output pixel sums the
// input pixels whose scattered kernel window covers it. The same kernel is Conv2d's input gradient.
// NCHW f32; every vec2 is (height, width).

struct ConvT {
  batch: u32,
  c_in: u32,       // channels of x
  c_out: u32,      // channels of y
  has_bias: u32,
  in_size: vec2i,
  out_size: vec2i,
  kernel: vec2i,
  stride: vec2i,
  pad: vec2i,
}

@group(0) @binding(0) var<uniform> p: ConvT;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;     // [c_in, c_out, kh, kw]
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // [c_out], read when has_bias
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// y[n,co,oy,ox] = bias[co] + sum x[n,ci,iy,ix] * w[ci,co,ky,kx] over oy = iy*s - p + ky (same in x).
// For a given oy only ky ≡ (oy + p) mod s can hit a whole iy, so ky steps by s from there: the
// zero-inserted rows of the textbook definition are never visited, and nothing is read out of range.
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
  let ty = oy + p.pad.x;  // >= 0 since oy, pad >= 0
  let tx = ox + p.pad.y;
  var acc = select(0.0, bias[co], p.has_bias != 0u);
  for (var ci = 0u; ci < p.c_in; ci++) {
    let xbase = (n * p.c_in + ci) * ihw;
    let wbase = (ci * p.c_out + co) * khw;
    for (var ky = ty % p.stride.x; ky < p.kernel.x; ky += p.stride.x) {
      let iy = (ty - ky) / p.stride.x;
      if (iy < 0 || iy >= p.in_size.x) { continue; }
      for (var kx = tx % p.stride.y; kx < p.kernel.y; kx += p.stride.y) {
        let ix = (tx - kx) / p.stride.y;
        if (ix < 0 || ix >= p.in_size.y) { continue; }
        acc += x[xbase + u32(iy * p.in_size.y + ix)] * w[wbase + u32(ky * p.kernel.y + kx)];
      }
    }
  }
  y[i] = acc;
}
