// The register-tiled implicit GEMM of conv_igemm_sg.wgsl, specialised to a conv2d whose kernel
// equals its stride, 2×2 (padding 0, dilation 1): space-to-depth plus GEMM, the input gradient of
// the seed decoder's k2 s2 transposed convs. The inputs of 4 output columns in one input row are 8
// consecutive values — two aligned vec4 loads — and their (x, y), (z, w) halves are the two column
// taps. Rows of x and y are whole vec4s; the host checks (s2Unsupported in src/ops/conv_igemm.ts).
// Stores go through store_block (conv_igemm_unpool.wgsl): with UNPOOL the gradient goes on through
// the 2×2 max pool before the transposed conv (the seed's conv2.2) as it is stored.
// One flat loop over (row tap, input channel), as in conv_igemm_row3.wgsl (the seed's
// transconv2.0 input gradient, s2d-r16, 2.0 -> 1.7 ms).

fn wt_at(g: u32, ci: u32, t: i32, c0: u32) -> u32 {
  return p.w_off + (((g * p.cgx4 + ci) * 2u + u32(t)) * 2u) * (p.cop / 4u) + c0 / 4u;
}

// x at column i (a multiple of 4) of the row at `row` as a vec4; zero past the row or off the image.
fn at4(row: u32, ok: bool, i: i32) -> vec4f {
  return select(vec4f(0.0), x4[(row + u32(min(i, p.in_size.y - 4))) / 4u], ok && i < p.in_size.y);
}

// 4 output columns' two column taps from the 8 inputs a, b: matrix columns are output columns,
// rows taps u = 0, 1.
fn pairs(a: vec4f, b: vec4f) -> mat4x2f { return mat4x2f(a.xy, a.zw, b.xy, b.zw); }

// 16 columns × 16 channels per lane; acc[4·pb + c]. Per input channel and row tap, 8 weight
// vectors (2 column taps × 4), 2 per lane of a quad: vector v = 4u + c sits in lane v / 2.
@compute @workgroup_size(64)
fn s2_r16(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 16u);
  let l = lane_of((wg / nblk) * 64u + li, 16u);
  let q = sl & 3u;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let xg = (l.n * p.c_x + gc.x * p.cgx) * ihw;
  let cv = p.cop / 4u;
  let v = vec2u(2u * q, 2u * q + 1u);
  let wo = (v / 4u) * cv + v % 4u;
  let ix = 2 * l.b0;
  var acc: array<mat4x4f, 16>;
  for (var k = 0u; k < 2u * p.cgx; k++) {
    let t = i32(k / p.cgx);
    let ci = k % p.cgx;
    let iy = 2 * l.a + t;
    let row_ok = iy < p.in_size.x;
    let row = xg + u32(min(iy, p.in_size.x - 1) * p.in_size.y);
    let r = row + ci * ihw;
    let x0 = pairs(at4(r, row_ok, ix), at4(r, row_ok, ix + 4));
    let x1 = pairs(at4(r, row_ok, ix + 8), at4(r, row_ok, ix + 12));
    let x2 = pairs(at4(r, row_ok, ix + 16), at4(r, row_ok, ix + 20));
    let x3 = pairs(at4(r, row_ok, ix + 24), at4(r, row_ok, ix + 28));
    let wb = wt_at(gc.x, ci, t, gc.y);
    let o0 = wt[wb + wo.x];
    let o1 = wt[wb + wo.y];
    let w0 = mat2x4f(quadBroadcast(o0, 0u), quadBroadcast(o0, 2u));
    let w1 = mat2x4f(quadBroadcast(o1, 0u), quadBroadcast(o1, 2u));
    let w2 = mat2x4f(quadBroadcast(o0, 1u), quadBroadcast(o0, 3u));
    let w3 = mat2x4f(quadBroadcast(o1, 1u), quadBroadcast(o1, 3u));
    acc[0] += w0 * x0; acc[1] += w1 * x0; acc[2] += w2 * x0; acc[3] += w3 * x0;
    acc[4] += w0 * x1; acc[5] += w1 * x1; acc[6] += w2 * x1; acc[7] += w3 * x1;
    acc[8] += w0 * x2; acc[9] += w1 * x2; acc[10] += w2 * x2; acc[11] += w3 * x2;
    acc[12] += w0 * x3; acc[13] += w1 * x3; acc[14] += w2 * x3; acc[15] += w3 * x3;
  }
  for (var k = 0u; k < 16u; k++) { store_block(l, gc.x, gc.y + 4u * (k % 4u), l.b0 + 4 * i32(k / 4u), acc[k]); }
}

// 8 columns × 32 channels per lane; acc[8·pb + c]. 16 weight vectors per input channel and row
// tap, 4 per lane: vector v = 8u + c sits in lane v / 4.
@compute @workgroup_size(64)
fn s2_r32(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 32u);
  let l = lane_of((wg / nblk) * 64u + li, 8u);
  let q = sl & 3u;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let xg = (l.n * p.c_x + gc.x * p.cgx) * ihw;
  let cv = p.cop / 4u;
  let v = vec4u(4u * q) + vec4u(0u, 1u, 2u, 3u);
  let wo = (v / 8u) * cv + v % 8u;
  let ix = 2 * l.b0;
  var acc: array<mat4x4f, 16>;
  for (var k = 0u; k < 2u * p.cgx; k++) {
    let t = i32(k / p.cgx);
    let ci = k % p.cgx;
    let iy = 2 * l.a + t;
    let row_ok = iy < p.in_size.x;
    let row = xg + u32(min(iy, p.in_size.x - 1) * p.in_size.y);
    let r = row + ci * ihw;
    let x0 = pairs(at4(r, row_ok, ix), at4(r, row_ok, ix + 4));
    let x1 = pairs(at4(r, row_ok, ix + 8), at4(r, row_ok, ix + 12));
    let wb = wt_at(gc.x, ci, t, gc.y);
    let o0 = wt[wb + wo.x];
    let o1 = wt[wb + wo.y];
    let o2 = wt[wb + wo.z];
    let o3 = wt[wb + wo.w];
    let w0 = mat2x4f(quadBroadcast(o0, 0u), quadBroadcast(o0, 2u));
    let w1 = mat2x4f(quadBroadcast(o1, 0u), quadBroadcast(o1, 2u));
    let w2 = mat2x4f(quadBroadcast(o2, 0u), quadBroadcast(o2, 2u));
    let w3 = mat2x4f(quadBroadcast(o3, 0u), quadBroadcast(o3, 2u));
    let w4 = mat2x4f(quadBroadcast(o0, 1u), quadBroadcast(o0, 3u));
    let w5 = mat2x4f(quadBroadcast(o1, 1u), quadBroadcast(o1, 3u));
    let w6 = mat2x4f(quadBroadcast(o2, 1u), quadBroadcast(o2, 3u));
    let w7 = mat2x4f(quadBroadcast(o3, 1u), quadBroadcast(o3, 3u));
    acc[0] += w0 * x0; acc[1] += w1 * x0; acc[2] += w2 * x0; acc[3] += w3 * x0;
    acc[4] += w4 * x0; acc[5] += w5 * x0; acc[6] += w6 * x0; acc[7] += w7 * x0;
    acc[8] += w0 * x1; acc[9] += w1 * x1; acc[10] += w2 * x1; acc[11] += w3 * x1;
    acc[12] += w4 * x1; acc[13] += w5 * x1; acc[14] += w6 * x1; acc[15] += w7 * x1;
  }
  for (var k = 0u; k < 16u; k++) { store_block(l, gc.x, gc.y + 4u * (k % 8u), l.b0 + 4 * i32(k / 8u), acc[k]); }
}
