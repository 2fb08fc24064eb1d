// Register-tiled implicit GEMM for adapters where every storage load is expensive and workgroup
// barriers are slow (SwiftShader: loads become emulated gathers). Any class geometry (stride,
// padding, dilation, groups, transposed classes); the fast path for 3-wide stride-1 rows is
// conv_igemm_row3.wgsl.
//
// A lane computes a block of output pixels (consecutive columns of one grid row) × output channels,
// as 4×4 blocks in mat4x4f (column i: pixel i, rows: 4 channels), so one W·X product is 64
// multiply-adds for 4 weight and 4 input vectors. All 64 lanes of a workgroup work on the same
// channel block, so every lane needs the same weights: the 4 lanes of a quad each load those of
// one input channel and quadBroadcast them. That is exact for any subgroup size (quads exist in
// every subgroup) and any mapping of invocations to lanes (the data are workgroup-uniform).
// Inputs are gathered per pixel, clamped into range and masked (padding, channel tail).
// The reduction over (row tap, column tap, 4 input channels) is one flat loop, as in
// conv_igemm_row3.wgsl: nested loops cost SwiftShader an exit per inner loop with the whole tile
// live (the seed's conv1.0 forward: sg-r32 32.1 -> 19.5 ms, sg-r16 18.3 -> 11.1; conv2.0's 16.0 -> 13.5, 17.4 -> 14.1).

// Lane k's vector as column k, for each of the 4 lanes of this quad.
fn quad_cols(v: vec4f) -> mat4x4f {
  return mat4x4f(quadBroadcast(v, 0u), quadBroadcast(v, 1u), quadBroadcast(v, 2u), quadBroadcast(v, 3u));
}

fn gather4(at: vec4u, ok: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), vec4f(x[at.x], x[at.y], x[at.z], x[at.w]), ok);
}

// 4 pixels' inputs for input channels ci..ci+3 as a matrix (column i: pixel i, rows: channels),
// from their in-row indices `at` (valid where `ok`) and the channels' plane offsets.
fn inputs(at: vec4u, ok: vec4<bool>, plane: vec4u, live: vec4<bool>) -> mat4x4f {
  return transpose(mat4x4f(gather4(at + plane.x, ok & vec4<bool>(live.x)), gather4(at + plane.y, ok & vec4<bool>(live.y)),
    gather4(at + plane.z, ok & vec4<bool>(live.z)), gather4(at + plane.w, ok & vec4<bool>(live.w))));
}

// Index and validity of 4 input columns `ix` in a row starting at `row` (valid when `row_ok`).
struct Cols { at: vec4u, ok: vec4<bool> }
fn cols(row: u32, row_ok: bool, ix: vec4i) -> Cols {
  return Cols(vec4u(row) + vec4u(clamp(ix, vec4i(0), vec4i(p.in_size.y - 1))),
    vec4<bool>(row_ok) & (ix >= vec4i(0)) & (ix < vec4i(p.in_size.y)));
}

// Plane offsets of input channels ci..ci+3 (clamped to the group) and which of them exist.
fn planes(ci: u32, ihw: u32) -> vec4u { return min(vec4u(ci) + vec4u(0u, 1u, 2u, 3u), vec4u(p.cgx - 1u)) * ihw; }
fn present(ci: u32) -> vec4<bool> { return vec4u(ci) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.cgx); }

// The relaid weight vector (vec4 index) of input channel ci of group g at tap (t, u), channel c0.
fn wt_at(g: u32, ci: u32, t: i32, u: i32, c0: u32) -> u32 {
  return p.w_off + (((g * p.cgx4 + ci) * u32(p.taps.x) + u32(t)) * u32(p.taps.y) + u32(u)) * (p.cop / 4u) + c0 / 4u;
}

// Stores a 4-channel × 4-pixel block (matrix column: pixel) a pixel at a time, for classes whose
// output columns are not whole vec4 rows. One call site of store4 and so of activate(): unrolled
// stores multiply SwiftShader's compile time several-fold. The _v4 entries store through
// store_block (conv_igemm_unpool.wgsl): vec4 rows, or with UNPOOL on through a 2×2 max pool's backward.
fn store_pixels(l: Lane, g: u32, c0: u32, b: i32, m: mat4x4f) {
  for (var i = 0; i < 4; i++) { store4(l, g, c0, b + i, m[i]); }
}

// 8 pixels × 32 channels per lane: acc[8·pb + c] holds pixels 4pb.. and channels 4c...
fn sg32(acc: ptr<function, array<mat4x4f, 16>>, l: Lane, gc: vec2u, q: u32) {
  let ihw = u32(p.in_size.x * p.in_size.y);
  let xg = (l.n * p.c_x + gc.x * p.cgx) * ihw;
  let ci_stride = 4u * u32(p.taps.x * p.taps.y) * (p.cop / 4u);
  let nci = (p.cgx + 3u) / 4u;
  for (var k = 0u; k < u32(p.taps.x * p.taps.y) * nci; k++) {
    let t = i32(k / (u32(p.taps.y) * nci));
    let u = i32((k / nci) % u32(p.taps.y));
    let ci = 4u * (k % nci);
    let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
    let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
    let row_ok = iy >= 0 && iy < p.in_size.x;
    let ix = vec4i(p.istep.y * l.b0 + p.off.y + p.tstep.y * u) + p.istep.y * vec4i(0, 1, 2, 3);
    let ca = cols(row, row_ok, ix);
    let cb = cols(row, row_ok, ix + 4 * p.istep.y);
    let wq = wt_at(gc.x, q, t, u, gc.y) + (ci / 4u) * ci_stride;
    let pl = planes(ci, ihw);
    let live = present(ci);
    let xa = inputs(ca.at, ca.ok, pl, live);
    let xb = inputs(cb.at, cb.ok, pl, live);
    let w0 = quad_cols(wt[wq]);
    let w1 = quad_cols(wt[wq + 1u]);
    let w2 = quad_cols(wt[wq + 2u]);
    let w3 = quad_cols(wt[wq + 3u]);
    let w4 = quad_cols(wt[wq + 4u]);
    let w5 = quad_cols(wt[wq + 5u]);
    let w6 = quad_cols(wt[wq + 6u]);
    let w7 = quad_cols(wt[wq + 7u]);
    (*acc)[0] += w0 * xa; (*acc)[1] += w1 * xa; (*acc)[2] += w2 * xa; (*acc)[3] += w3 * xa;
    (*acc)[4] += w4 * xa; (*acc)[5] += w5 * xa; (*acc)[6] += w6 * xa; (*acc)[7] += w7 * xa;
    (*acc)[8] += w0 * xb; (*acc)[9] += w1 * xb; (*acc)[10] += w2 * xb; (*acc)[11] += w3 * xb;
    (*acc)[12] += w4 * xb; (*acc)[13] += w5 * xb; (*acc)[14] += w6 * xb; (*acc)[15] += w7 * xb;
  }
}

// 16 pixels × 16 channels per lane (for layers with 16 or fewer output channels per group):
// acc[4·pb + c] holds pixels 4pb.. and channels 4c...
fn sg16(acc: ptr<function, array<mat4x4f, 16>>, l: Lane, gc: vec2u, q: u32) {
  let ihw = u32(p.in_size.x * p.in_size.y);
  let xg = (l.n * p.c_x + gc.x * p.cgx) * ihw;
  let ci_stride = 4u * u32(p.taps.x * p.taps.y) * (p.cop / 4u);
  let nci = (p.cgx + 3u) / 4u;
  for (var k = 0u; k < u32(p.taps.x * p.taps.y) * nci; k++) {
    let t = i32(k / (u32(p.taps.y) * nci));
    let u = i32((k / nci) % u32(p.taps.y));
    let ci = 4u * (k % nci);
    let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
    let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
    let row_ok = iy >= 0 && iy < p.in_size.x;
    let ix = vec4i(p.istep.y * l.b0 + p.off.y + p.tstep.y * u) + p.istep.y * vec4i(0, 1, 2, 3);
    let c0 = cols(row, row_ok, ix);
    let c1 = cols(row, row_ok, ix + 4 * p.istep.y);
    let c2 = cols(row, row_ok, ix + 8 * p.istep.y);
    let c3 = cols(row, row_ok, ix + 12 * p.istep.y);
    let wq = wt_at(gc.x, q, t, u, gc.y) + (ci / 4u) * ci_stride;
    let pl = planes(ci, ihw);
    let live = present(ci);
    let x0 = inputs(c0.at, c0.ok, pl, live);
    let x1 = inputs(c1.at, c1.ok, pl, live);
    let x2 = inputs(c2.at, c2.ok, pl, live);
    let x3 = inputs(c3.at, c3.ok, pl, live);
    let w0 = quad_cols(wt[wq]);
    let w1 = quad_cols(wt[wq + 1u]);
    let w2 = quad_cols(wt[wq + 2u]);
    let w3 = quad_cols(wt[wq + 3u]);
    (*acc)[0] += w0 * x0; (*acc)[1] += w1 * x0; (*acc)[2] += w2 * x0; (*acc)[3] += w3 * x0;
    (*acc)[4] += w0 * x1; (*acc)[5] += w1 * x1; (*acc)[6] += w2 * x1; (*acc)[7] += w3 * x1;
    (*acc)[8] += w0 * x2; (*acc)[9] += w1 * x2; (*acc)[10] += w2 * x2; (*acc)[11] += w3 * x2;
    (*acc)[12] += w0 * x3; (*acc)[13] += w1 * x3; (*acc)[14] += w2 * x3; (*acc)[15] += w3 * x3;
  }
}

// The entry points: which body, and how the output is stored — one scalar per pixel and channel
// (any class), or (the _v4 entries, for classes whose output columns are contiguous and rows
// whole vec4s) one vec4 of 4 pixels per channel.
@compute @workgroup_size(64)
fn sg_r32(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 32u);
  let l = lane_of((wg / nblk) * 64u + li, 8u);
  var acc: array<mat4x4f, 16>;
  sg32(&acc, l, gc, sl & 3u);
  for (var k = 0u; k < 16u; k++) { store_pixels(l, gc.x, gc.y + 4u * (k % 8u), l.b0 + 4 * i32(k / 8u), acc[k]); }
}

@compute @workgroup_size(64)
fn sg_r32_v4(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 32u);
  let l = lane_of((wg / nblk) * 64u + li, 8u);
  var acc: array<mat4x4f, 16>;
  sg32(&acc, l, gc, sl & 3u);
  for (var k = 0u; k < 16u; k++) { store_block(l, gc.x, gc.y + 4u * (k % 8u), l.b0 + 4 * i32(k / 8u), acc[k]); }
}

@compute @workgroup_size(64)
fn sg_r16(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 16u);
  let l = lane_of((wg / nblk) * 64u + li, 16u);
  var acc: array<mat4x4f, 16>;
  sg16(&acc, l, gc, sl & 3u);
  for (var k = 0u; k < 16u; k++) { store_pixels(l, gc.x, gc.y + 4u * (k % 4u), l.b0 + 4 * i32(k / 4u), acc[k]); }
}

@compute @workgroup_size(64)
fn sg_r16_v4(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 16u);
  let l = lane_of((wg / nblk) * 64u + li, 16u);
  var acc: array<mat4x4f, 16>;
  sg16(&acc, l, gc, sl & 3u);
  for (var k = 0u; k < 16u; k++) { store_block(l, gc.x, gc.y + 4u * (k % 4u), l.b0 + 4 * i32(k / 4u), acc[k]); }
}
