// A transposed convolution whose kernel equals its stride (padding 0, dilation 1, no output
// padding — the seed's decoder) as a GEMM plus depth-to-space: every output pixel receives exactly
// one tap, so per image Y'[m, pix] = Σ_ci W'[m, ci] · X[ci, pix] with m = (co, ky, kx) and
// W'[m, ci] = w[ci, co, ky, kx] — for fixed ci the m are contiguous in w, no relayout needed —
// and Y'[m, pix] is stored at y[co, iy·kh + ky, ix·kw + kx]. Register tiles as in
// conv_igemm_sg.wgsl: a lane owns m-values × pixels as 4×4 mat4x4f blocks (column: pixel), every
// lane of a workgroup the same m-block, so the weights are loaded once per quad and quadBroadcast
// (exact for any subgroup size and lane layout). Inputs are vec4s along the image plane.
// The host checks: plane H·W and og·kh·kw are multiples of 4.

struct D2s {
  batch: u32,
  c_x: u32,
  c_y: u32,
  cgx: u32,      // x channels per group (the reduction)
  og: u32,       // y channels per group
  mg: u32,       // og·kh·kw: GEMM rows per group
  blocks: u32,   // m-blocks per group
  has_bias: u32,
  plane: u32,    // H·W of x
  lanes: u32,    // batch × pixel blocks
  in_size: vec2i,
  kernel: vec2i,
  out_size: vec2i,
}

@group(0) @binding(0) var<uniform> p: D2s;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> w4: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4f>;

fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + (wid.y + wid.z * nwg.y) * nwg.x;
}

fn quad_cols(v: vec4f) -> mat4x4f {
  return mat4x4f(quadBroadcast(v, 0u), quadBroadcast(v, 1u), quadBroadcast(v, 2u), quadBroadcast(v, 3u));
}

// 4 pixels from pix of input channels ci..ci+3 (group g, image n) as (columns: pixels, rows: channels).
fn inputs(n: u32, g: u32, ci: u32, pix: u32) -> mat4x4f {
  let c = min(vec4u(ci) + vec4u(0u, 1u, 2u, 3u), vec4u(p.cgx - 1u)) + g * p.cgx;
  let live = vec4u(ci) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.cgx);
  let at = ((vec4u(n * p.c_x) + c) * p.plane + min(pix, p.plane - 4u)) / 4u;
  let ok = pix < p.plane;
  return transpose(mat4x4f(select(vec4f(0.0), x4[at.x], ok && live.x), select(vec4f(0.0), x4[at.y], ok && live.y),
    select(vec4f(0.0), x4[at.z], ok && live.z), select(vec4f(0.0), x4[at.w], ok && live.w)));
}

// This lane's weight vector c of input channel ci + q (zero past the group's channels or rows).
fn weights(g: u32, ci: u32, m0: u32, c: u32) -> vec4f {
  let ch = min(ci, p.cgx - 1u) + g * p.cgx;
  let m = m0 + 4u * c;
  return select(vec4f(0.0), w4[(ch * p.mg + min(m, p.mg - 4u)) / 4u], ci < p.cgx && m < p.mg);
}

// Stores a 4 m × 4 pixel block (column: pixel) into the upsampled output, one value at a time.
fn store_block(n: u32, g: u32, m0: u32, pix0: u32, blk: mat4x4f) {
  let khw = u32(p.kernel.x * p.kernel.y);
  for (var i = 0u; i < 4u; i++) {
    let pix = pix0 + i;
    let iy = i32(pix / u32(p.in_size.y));
    let ix = i32(pix % u32(p.in_size.y));
    for (var j = 0u; j < 4u; j++) {
      let m = m0 + j;
      if (pix < p.plane && m < p.mg) {
        let co = g * p.og + m / khw;
        let tap = i32(m % khw);
        let oy = iy * p.kernel.x + tap / p.kernel.y;
        let ox = ix * p.kernel.y + tap % p.kernel.y;
        let b = select(0.0, bias[co], p.has_bias != 0u);
        y[((n * p.c_y + co) * u32(p.out_size.x) + u32(oy)) * u32(p.out_size.y) + u32(ox)] = activate(blk[i][j] + b);
      }
    }
  }
}

// Where a lane works: image n, first pixel, group g, first m; `live` false for lanes past the end
// (they recompute the last lane's block, keeping quads full, and store nothing).
struct Tile { n: u32, pix0: u32, g: u32, m0: u32, live: bool }
fn tile_of(li: u32, wid: vec3u, nwg: vec3u, rows: u32, cols: u32) -> Tile {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let raw = (wg / nblk) * 64u + li;
  let lane = min(raw, p.lanes - 1u);
  let pblocks = (p.plane + cols - 1u) / cols;
  return Tile(lane / pblocks, (lane % pblocks) * cols, (wg % nblk) / p.blocks, ((wg % nblk) % p.blocks) * rows, raw < p.lanes);
}

// 16 m × 16 pixels per lane: acc[4·pb + c] holds pixels 4pb.., m-values 4c...
fn d2s16(acc: ptr<function, array<mat4x4f, 16>>, t: Tile, q: u32) {
  let n = t.n; let g = t.g; let m0 = t.m0; let pix0 = t.pix0;
  for (var ci = 0u; ci < p.cgx; ci += 4u) {
    let x0 = inputs(n, g, ci, pix0);
    let x1 = inputs(n, g, ci, pix0 + 4u);
    let x2 = inputs(n, g, ci, pix0 + 8u);
    let x3 = inputs(n, g, ci, pix0 + 12u);
    let w0 = quad_cols(weights(g, ci + q, m0, 0u));
    let w1 = quad_cols(weights(g, ci + q, m0, 1u));
    let w2 = quad_cols(weights(g, ci + q, m0, 2u));
    let w3 = quad_cols(weights(g, ci + q, m0, 3u));
    (*acc)[0] += w0 * x0; (*acc)[1] += w1 * x0; (*acc)[2] += w2 * x0; (*acc)[3] += w3 * x0;
    (*acc)[4] += w0 * x1; (*acc)[5] += w1 * x1; (*acc)[6] += w2 * x1; (*acc)[7] += w3 * x1;
    (*acc)[8] += w0 * x2; (*acc)[9] += w1 * x2; (*acc)[10] += w2 * x2; (*acc)[11] += w3 * x2;
    (*acc)[12] += w0 * x3; (*acc)[13] += w1 * x3; (*acc)[14] += w2 * x3; (*acc)[15] += w3 * x3;
  }
}

// 32 m × 8 pixels per lane: acc[8·pb + c].
fn d2s32(acc: ptr<function, array<mat4x4f, 16>>, t: Tile, q: u32) {
  let n = t.n; let g = t.g; let m0 = t.m0; let pix0 = t.pix0;
  for (var ci = 0u; ci < p.cgx; ci += 4u) {
    let x0 = inputs(n, g, ci, pix0);
    let x1 = inputs(n, g, ci, pix0 + 4u);
    let w0 = quad_cols(weights(g, ci + q, m0, 0u));
    let w1 = quad_cols(weights(g, ci + q, m0, 1u));
    let w2 = quad_cols(weights(g, ci + q, m0, 2u));
    let w3 = quad_cols(weights(g, ci + q, m0, 3u));
    let w4 = quad_cols(weights(g, ci + q, m0, 4u));
    let w5 = quad_cols(weights(g, ci + q, m0, 5u));
    let w6 = quad_cols(weights(g, ci + q, m0, 6u));
    let w7 = quad_cols(weights(g, ci + q, m0, 7u));
    (*acc)[0] += w0 * x0; (*acc)[1] += w1 * x0; (*acc)[2] += w2 * x0; (*acc)[3] += w3 * x0;
    (*acc)[4] += w4 * x0; (*acc)[5] += w5 * x0; (*acc)[6] += w6 * x0; (*acc)[7] += w7 * x0;
    (*acc)[8] += w0 * x1; (*acc)[9] += w1 * x1; (*acc)[10] += w2 * x1; (*acc)[11] += w3 * x1;
    (*acc)[12] += w4 * x1; (*acc)[13] += w5 * x1; (*acc)[14] += w6 * x1; (*acc)[15] += w7 * x1;
  }
}

// For a 2×2 kernel (stride 2) on rows of whole vec4s: the 4 m of a block are one channel's taps
// (0,0), (0,1), (1,0), (1,1) and its 4 pixels are consecutive in one input row, so each output
// row gets 8 consecutive values — two aligned vec4s.
fn store_block_k2(n: u32, g: u32, m0: u32, pix0: u32, blk: mat4x4f) {
  if (pix0 >= p.plane || m0 >= p.mg) { return; }
  let co = g * p.og + m0 / 4u;
  let iy = pix0 / u32(p.in_size.y);
  let ix = pix0 % u32(p.in_size.y);
  let b = select(vec4f(0.0), vec4f(bias[co]), p.has_bias != 0u);
  for (var ky = 0u; ky < 2u; ky++) {
    let at = ((n * p.c_y + co) * u32(p.out_size.x) + 2u * iy + ky) * u32(p.out_size.y) + 2u * ix;
    let lo = vec4f(blk[0][2u * ky], blk[0][2u * ky + 1u], blk[1][2u * ky], blk[1][2u * ky + 1u]) + b;
    let hi = vec4f(blk[2][2u * ky], blk[2][2u * ky + 1u], blk[3][2u * ky], blk[3][2u * ky + 1u]) + b;
    y4[at / 4u] = vec4f(activate(lo.x), activate(lo.y), activate(lo.z), activate(lo.w));
    y4[at / 4u + 1u] = vec4f(activate(hi.x), activate(hi.y), activate(hi.z), activate(hi.w));
  }
}

@compute @workgroup_size(64)
fn d2s_r16(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let t = tile_of(li, wid, nwg, 16u, 16u);
  var acc: array<mat4x4f, 16>;
  d2s16(&acc, t, sl & 3u);
  if (!t.live) { return; }
  for (var k = 0u; k < 16u; k++) { store_block(t.n, t.g, t.m0 + 4u * (k % 4u), t.pix0 + 4u * (k / 4u), acc[k]); }
}

@compute @workgroup_size(64)
fn d2s_r16_k2(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let t = tile_of(li, wid, nwg, 16u, 16u);
  var acc: array<mat4x4f, 16>;
  d2s16(&acc, t, sl & 3u);
  if (!t.live) { return; }
  for (var k = 0u; k < 16u; k++) { store_block_k2(t.n, t.g, t.m0 + 4u * (k % 4u), t.pix0 + 4u * (k / 4u), acc[k]); }
}

@compute @workgroup_size(64)
fn d2s_r32(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let t = tile_of(li, wid, nwg, 32u, 8u);
  var acc: array<mat4x4f, 16>;
  d2s32(&acc, t, sl & 3u);
  if (!t.live) { return; }
  for (var k = 0u; k < 16u; k++) { store_block(t.n, t.g, t.m0 + 4u * (k % 8u), t.pix0 + 4u * (k / 8u), acc[k]); }
}

@compute @workgroup_size(64)
fn d2s_r32_k2(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let t = tile_of(li, wid, nwg, 32u, 8u);
  var acc: array<mat4x4f, 16>;
  d2s32(&acc, t, sl & 3u);
  if (!t.live) { return; }
  for (var k = 0u; k < 16u; k++) { store_block_k2(t.n, t.g, t.m0 + 4u * (k % 8u), t.pix0 + 4u * (k / 8u), acc[k]); }
}
