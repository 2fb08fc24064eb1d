// Convolution weight (and bias) gradients as a split-K GEMM: M = output channels, N = input channels
// × taps, K = batch × output pixels. The pixels are cut into `chunks`; each chunk's partial sums go to
// part[chunk] (laid out as dw, then db), and `reduce` adds the chunks in a fixed order — no
// atomics, so results are bit-reproducible. Conv2d geometry throughout (x: input, dy: gradient of
// the output); a transposed conv's weight gradient is this with the two exchanged.
//   row3_dw   3-wide stride-1 padding-1 rows with whole-vec4 rows (the seed's 3×3 convs):
//             a lane owns 16 output channels × 1 input channel × 3 row taps × 3 column taps and
//             steps through 4 output columns at a time: dy as aligned vec4s shared by each quad
//             (subgroups), each input row as a vec4 and two scalars whose shifts are the column taps.
//   sg_dw     any geometry: a lane owns 16 output channels × 8 consecutive (ci, ky, kx) and steps
//             through 4 output columns at a time, gathering (clamped and masked).
//   s2_dw     kernel = stride = 2×2 (space-to-depth, the decoder's transposed convs seen from the
//             output side): 16 output channels × 2 input channels × 2×2 taps per lane, 4 output
//             columns a step, each input row's 8 values two vec4s split into the column taps.
//   s2q_dw    s2_dw with row3_dw's dy shared by each quad.
// row3_dw and s2q_dw are in conv_splitk_quad.wgsl (subgroups).
//   tiled_dw  any geometry, workgroup-memory tiles (the real-GPU shape): a workgroup owns
//             TBM output channels × TBN (ci, ky, kx) and stages TBK pixels of dy and patches.
// When has_bias, the lanes that own input channel 0 and the first taps also sum dy into db. When
// x_bias (s2_dw only: a transposed conv's weight gradient, whose output gradient is this x), the
// lanes that own the first block of output channels sum x into db instead: the transposed conv's bias.

struct GradW {
  batch: u32,
  c_x: u32,         // channels of x
  c_y: u32,         // channels of dy
  cgx: u32,         // x channels per group
  og: u32,          // dy channels per group
  groups: u32,
  blocks: u32,      // 16-channel blocks of dy per group
  kblocks: u32,     // row3: blocks of 3 row taps; sg: of 8 (ci, ky, kx); s2: input channel pairs; s2q: a lane's input
                    // channels (pairs or single); row3c: 1 (a lane has every input channel); tiled: of BN
  chunks: u32,
  chunk_steps: u32, // steps (4-column blocks of an output row; tiled: pixels) per chunk
  steps: u32,       // all steps
  has_bias: u32,
  x_bias: u32,
  part_stride: u32, // floats per chunk in part: dw, then db when has_bias (og·groups) or x_bias (c_x)
  dw_len: u32,
  in_size: vec2i,
  out_size: vec2i,
  kernel: vec2i,
  stride: vec2i,
  pad: vec2i,
  dilation: vec2i,
}

@group(0) @binding(0) var<uniform> p: GradW;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4f>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> part: array<f32>;
@group(0) @binding(6) var<storage, read> part_in: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
@group(0) @binding(8) var<storage, read_write> db: array<f32>;

fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + (wid.y + wid.z * nwg.y) * nwg.x;
}

// Where a partial of dw[co, ci, ky, kx] (co over all groups, ci within the group) goes.
fn part_at(chunk: u32, co: u32, ci: u32, ky: i32, kx: i32) -> u32 {
  return chunk * p.part_stride + ((co * p.cgx + ci) * u32(p.kernel.x) + u32(ky)) * u32(p.kernel.y) + u32(kx);
}

// A lane's owner: its chunk, group, first output channel (within the group) and block index
// (row3: input channel · kblocks + row-tap block; sg: block of 8 (ci, ky, kx)). Lanes past the end
// recompute the last one and store nothing.
struct Owner { chunk: u32, g: u32, co0: u32, k: u32, live: bool }
fn owner(raw: u32, kcount: u32) -> Owner {
  let per_chunk = p.groups * p.blocks * kcount;
  let i = min(raw, per_chunk * p.chunks - 1u);
  let k = i % kcount;
  let blk = (i / kcount) % (p.groups * p.blocks);
  return Owner(i / per_chunk, blk / p.blocks, (blk % p.blocks) * 16u, k, raw < per_chunk * p.chunks);
}

// dy of 4 channels (c0.. of group g, clamped to the group; zero past it) at 4 pixels from `pix`,
// as matrix columns (one per channel).
fn dy_rows(n: u32, g: u32, c0: u32, pix: u32) -> mat4x4f {
  let plane = u32(p.out_size.x * p.out_size.y);
  let c = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.og - 1u)) + g * p.og;
  let live = vec4u(c0) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.og);
  let base = (vec4u(n * p.c_y) + c) * plane + pix;
  return mat4x4f(select(vec4f(0.0), dy4[base.x / 4u], live.x), select(vec4f(0.0), dy4[base.y / 4u], live.y),
    select(vec4f(0.0), dy4[base.z / 4u], live.z), select(vec4f(0.0), dy4[base.w / 4u], live.w));
}

fn at4(row: u32, ok: bool, i: i32) -> vec4f {
  return select(vec4f(0.0), x4[(row + u32(min(i, p.in_size.y - 4))) / 4u], ok & (i < p.in_size.y));
}
fn at1(row: u32, ok: bool, i: i32) -> f32 {
  return select(0.0, x[row + u32(clamp(i, 0, p.in_size.y - 1))], ok & (i >= 0) & (i < p.in_size.y));
}

// The three column taps of 4 output columns whose inputs are before, v, after: matrix columns are
// taps u = 0, 1, 2, rows the 4 columns.
fn taps3(before: f32, v: vec4f, after: f32) -> mat3x4f {
  return mat3x4f(vec4f(before, v.xyz), v, vec4f(v.yzw, after));
}

// dy of 16 channels × 4 columns, as 4 matrices (columns: pixels, rows: 4 channels).
struct Dy4 { d0: mat4x4f, d1: mat4x4f, d2: mat4x4f, d3: mat4x4f }

// Row tap ky's products (input row oy·s − pad + ky·d): one block per 4 output channels (d.d0 ..
// d.d3), columns the column taps u, rows the channels; zero past the kernel, off the image or where
// not `live` (a padding step).
struct Tap4 { c0: mat3x4f, c1: mat3x4f, c2: mat3x4f, c3: mat3x4f }
fn row_tap(xrow: u32, oy: i32, ky: i32, b0: i32, d: Dy4, live: bool) -> Tap4 {
  let iy = oy * p.stride.x - p.pad.x + ky * p.dilation.x;
  let ok = live & (ky < p.kernel.x) & (iy >= 0) & (iy < p.in_size.x);
  let row = xrow + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
  let xs = taps3(at1(row, ok, b0 - 1), at4(row, ok, b0), at1(row, ok, b0 + 4));
  return Tap4(d.d0 * xs, d.d1 * xs, d.d2 * xs, d.d3 * xs);
}

// Stores a lane's partial sums for row tap ky (see row3_dw): a.cN holds output channels 4N.. as
// rows, column taps u as columns.
fn row3_store_tap(o: Owner, ci: u32, ky: i32, a: Tap4) {
  if (!o.live || ci >= p.cgx || ky >= p.kernel.x) { return; }
  row3_store_block(o, ci, ky, 0u, a.c0);
  row3_store_block(o, ci, ky, 4u, a.c1);
  row3_store_block(o, ci, ky, 8u, a.c2);
  row3_store_block(o, ci, ky, 12u, a.c3);
}

fn row3_store_block(o: Owner, ci: u32, ky: i32, c: u32, m: mat3x4f) {
  for (var j = 0u; j < 4u; j++) {
    let co = o.co0 + c + j;
    if (co < p.og) {
      for (var u = 0; u < 3; u++) { part[part_at(o.chunk, o.g * p.og + co, ci, ky, u)] = m[u][j]; }
    }
  }
}

// The bias sums of one quad (see row3_dw): lane q of the quad that holds raw lane 0 of the chunk and
// channel block stores output channels 4q.. of the block (accq: one per component).
fn row3_store_bias(o: Owner, q: u32, lead: bool, accq: vec4f) {
  if (!lead || p.has_bias == 0u) { return; }
  for (var j = 0u; j < 4u; j++) {
    let co = o.co0 + 4u * q + j;
    if (co < p.og) { part[o.chunk * p.part_stride + p.dw_len + o.g * p.og + co] = accq[j]; }
  }
}

// x at 4 pixels (output columns b0.. of row oy) for tap (ci, ky, kx) of group g, as a vec4.
fn patch4(n: u32, g: u32, k: u32, oy: i32, b0: i32) -> vec4f {
  let khw = u32(p.kernel.x * p.kernel.y);
  let ci = min(k / khw, p.cgx - 1u);
  let ky = i32((k % khw) / u32(p.kernel.y));
  let kx = i32(k % u32(p.kernel.y));
  let iy = oy * p.stride.x - p.pad.x + ky * p.dilation.x;
  let ix = (vec4i(b0) + vec4i(0, 1, 2, 3)) * p.stride.y - p.pad.y + kx * p.dilation.y;
  let ok = vec4<bool>(k < p.cgx * khw && iy >= 0 && iy < p.in_size.x) & (ix >= vec4i(0)) & (ix < vec4i(p.in_size.y))
    & (vec4i(b0) + vec4i(0, 1, 2, 3) < vec4i(p.out_size.y));
  let at = vec4u((n * p.c_x + g * p.cgx + ci) * u32(p.in_size.x * p.in_size.y) + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y))
    + vec4u(clamp(ix, vec4i(0), vec4i(p.in_size.y - 1)));
  return select(vec4f(0.0), vec4f(x[at.x], x[at.y], x[at.z], x[at.w]), ok);
}

// dy of 4 channels c0.. at 4 pixels (output columns b0.. of row oy), as a matrix (columns: pixels).
fn dy_gather(n: u32, g: u32, c0: u32, oy: i32, b0: i32) -> mat4x4f {
  let plane = u32(p.out_size.x * p.out_size.y);
  let ox = vec4i(b0) + vec4i(0, 1, 2, 3);
  let pix = vec4u(u32(oy * p.out_size.y)) + vec4u(min(ox, vec4i(p.out_size.y - 1)));
  let colok = ox < vec4i(p.out_size.y);
  var rows: array<vec4f, 4>;
  for (var j = 0u; j < 4u; j++) {
    let c = min(c0 + j, p.og - 1u) + g * p.og;
    let at = vec4u((n * p.c_y + c) * plane) + pix;
    rows[j] = select(vec4f(0.0), vec4f(dy[at.x], dy[at.y], dy[at.z], dy[at.w]), colok & vec4<bool>(c0 + j < p.og));
  }
  return transpose(mat4x4f(rows[0], rows[1], rows[2], rows[3]));
}

// One step of sg_dw: acc[2c + h] (mat4x4f: columns the lane's (ci, ky, kx) 4h.., rows output
// channels 4c..) += dy (d_c: columns pixels, rows channels) · the input patches at those pixels.
fn sg_mac(acc: ptr<function, array<mat4x4f, 8>>, accb: ptr<function, mat4x4f>, o: Owner, n: u32, oy: i32, b0: i32,
  d0: mat4x4f, d1: mat4x4f, d2: mat4x4f, d3: mat4x4f) {
  let k0 = o.k * 8u;
  // Columns: the lane's (ci, ky, kx); rows: the 4 pixels.
  let xa = mat4x4f(patch4(n, o.g, k0, oy, b0), patch4(n, o.g, k0 + 1u, oy, b0), patch4(n, o.g, k0 + 2u, oy, b0), patch4(n, o.g, k0 + 3u, oy, b0));
  let xb = mat4x4f(patch4(n, o.g, k0 + 4u, oy, b0), patch4(n, o.g, k0 + 5u, oy, b0), patch4(n, o.g, k0 + 6u, oy, b0), patch4(n, o.g, k0 + 7u, oy, b0));
  (*acc)[0] += d0 * xa; (*acc)[1] += d0 * xb;
  (*acc)[2] += d1 * xa; (*acc)[3] += d1 * xb;
  (*acc)[4] += d2 * xa; (*acc)[5] += d2 * xb;
  (*acc)[6] += d3 * xa; (*acc)[7] += d3 * xb;
  if (p.has_bias != 0u) {
    let one = vec4f(1.0);
    *accb += mat4x4f(d0 * one, d1 * one, d2 * one, d3 * one);
  }
}

fn sg_store(o: Owner, acc: array<mat4x4f, 8>, accb: mat4x4f) {
  if (!o.live) { return; }
  let k0 = o.k * 8u;
  let khw = u32(p.kernel.x * p.kernel.y);
  for (var a = 0u; a < 8u; a++) {
    let m = acc[a];
    for (var i = 0u; i < 4u; i++) {
      let k = k0 + 4u * (a % 2u) + i;
      if (k >= p.cgx * khw) { continue; }
      for (var j = 0u; j < 4u; j++) {
        let co = o.co0 + 4u * (a / 2u) + j;
        if (co < p.og) { part[o.chunk * p.part_stride + (o.g * p.og + co) * p.cgx * khw + k] = m[i][j]; }
      }
    }
  }
  if (p.has_bias != 0u && o.k == 0u) {
    for (var c = 0u; c < 4u; c++) {
      for (var j = 0u; j < 4u; j++) {
        let co = o.co0 + 4u * c + j;
        if (co < p.og) { part[o.chunk * p.part_stride + p.dw_len + o.g * p.og + co] = accb[c][j]; }
      }
    }
  }
}

// Any geometry: dy gathered per pixel.
@compute @workgroup_size(64)
fn sg_dw(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = owner(workgroup_index(wid, nwg) * 64u + li, p.kblocks);
  let cols = (u32(p.out_size.y) + 3u) / 4u;
  var acc: array<mat4x4f, 8>;
  var accb = mat4x4f();
  let s1 = min(p.steps, (o.chunk + 1u) * p.chunk_steps);
  for (var s = o.chunk * p.chunk_steps; s < s1; s++) {
    let b0 = i32(s % cols) * 4;
    let oy = i32((s / cols) % u32(p.out_size.x));
    let n = s / (cols * u32(p.out_size.x));
    sg_mac(&acc, &accb, o, n, oy, b0, dy_gather(n, o.g, o.co0, oy, b0), dy_gather(n, o.g, o.co0 + 4u, oy, b0),
      dy_gather(n, o.g, o.co0 + 8u, oy, b0), dy_gather(n, o.g, o.co0 + 12u, oy, b0));
  }
  sg_store(o, acc, accb);
}

// Rows of dy that are whole vec4s (output width a multiple of 4): dy as aligned vec4s.
@compute @workgroup_size(64)
fn sg_dw_v4(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = owner(workgroup_index(wid, nwg) * 64u + li, p.kblocks);
  let cols = u32(p.out_size.y) / 4u;
  var acc: array<mat4x4f, 8>;
  var accb = mat4x4f();
  let s1 = min(p.steps, (o.chunk + 1u) * p.chunk_steps);
  for (var s = o.chunk * p.chunk_steps; s < s1; s++) {
    let b0 = i32(s % cols) * 4;
    let oy = i32((s / cols) % u32(p.out_size.x));
    let n = s / (cols * u32(p.out_size.x));
    let pix = u32(oy * p.out_size.y + b0);
    sg_mac(&acc, &accb, o, n, oy, b0, transpose(dy_rows(n, o.g, o.co0, pix)), transpose(dy_rows(n, o.g, o.co0 + 4u, pix)),
      transpose(dy_rows(n, o.g, o.co0 + 8u, pix)), transpose(dy_rows(n, o.g, o.co0 + 12u, pix)));
  }
  sg_store(o, acc, accb);
}

// One input row's 8 values at columns i.. (a multiple of 4) as the 2 column taps of a k2 s2 conv:
// matrix columns kx = 0, 1, rows the 4 output columns.
fn s2_taps(row: u32, ok: bool, i: i32) -> mat2x4f {
  let a = at4(row, ok, i);
  let b = at4(row, ok, i + 4);
  return mat2x4f(vec4f(a.x, a.z, b.x, b.z), vec4f(a.y, a.w, b.y, b.w));
}

// acc[4·(2·cc + ky) + c] += dy (channels 4c..) · taps of input channel ci0 + cc, row tap ky.
fn s2_mac(acc: ptr<function, array<mat2x4f, 16>>, a: u32, xs: mat2x4f, d: Dy4) {
  (*acc)[a] += d.d0 * xs;
  (*acc)[a + 1u] += d.d1 * xs;
  (*acc)[a + 2u] += d.d2 * xs;
  (*acc)[a + 3u] += d.d3 * xs;
}

// Kernel = stride = 2×2, padding 0, rows of whole vec4s (space-to-depth): a lane owns 16 output
// channels × 2 input channels × 2×2 taps and steps through 4 output columns at a time.
@compute @workgroup_size(64)
fn s2_dw(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = owner(workgroup_index(wid, nwg) * 64u + li, p.kblocks);
  let ci0 = 2u * o.k;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let cols = u32(p.out_size.y) / 4u;
  var acc: array<mat2x4f, 16>;
  var accb = mat4x4f();
  var accx = vec2f();  // x_bias: Σ x of input channels ci0, ci0 + 1
  let s1 = min(p.steps, (o.chunk + 1u) * p.chunk_steps);
  for (var s = o.chunk * p.chunk_steps; s < s1; s++) {
    let b0 = i32(s % cols) * 4;
    let oy = i32((s / cols) % u32(p.out_size.x));
    let n = s / (cols * u32(p.out_size.x));
    let pix = u32(oy * p.out_size.y + b0);
    let d = Dy4(transpose(dy_rows(n, o.g, o.co0, pix)), transpose(dy_rows(n, o.g, o.co0 + 4u, pix)),
      transpose(dy_rows(n, o.g, o.co0 + 8u, pix)), transpose(dy_rows(n, o.g, o.co0 + 12u, pix)));
    let x0 = (n * p.c_x + o.g * p.cgx + min(ci0, p.cgx - 1u)) * ihw + u32(2 * oy * p.in_size.y);
    let x1 = (n * p.c_x + o.g * p.cgx + min(ci0 + 1u, p.cgx - 1u)) * ihw + u32(2 * oy * p.in_size.y);
    let ok1 = ci0 + 1u < p.cgx;
    let t0 = s2_taps(x0, true, 2 * b0);
    let t1 = s2_taps(x0 + u32(p.in_size.y), true, 2 * b0);
    let t2 = s2_taps(x1, ok1, 2 * b0);
    let t3 = s2_taps(x1 + u32(p.in_size.y), ok1, 2 * b0);
    s2_mac(&acc, 0u, t0, d);
    s2_mac(&acc, 4u, t1, d);
    s2_mac(&acc, 8u, t2, d);
    s2_mac(&acc, 12u, t3, d);
    // The taps of a step cover 2 rows × 8 columns of each input channel, and the steps cover the
    // plane once: their sum over a chunk is that chunk's share of the channel's total.
    if (p.x_bias != 0u) {
      accx += vec2f(dot(t0[0] + t0[1] + t1[0] + t1[1], vec4f(1.0)), dot(t2[0] + t2[1] + t3[0] + t3[1], vec4f(1.0)));
    }
    if (p.has_bias != 0u) {
      let one = vec4f(1.0);
      accb += mat4x4f(d.d0 * one, d.d1 * one, d.d2 * one, d.d3 * one);
    }
  }
  if (!o.live) { return; }
  for (var a = 0u; a < 16u; a++) {
    let ci = ci0 + a / 8u;
    let ky = i32((a / 4u) % 2u);
    let m = acc[a];
    for (var j = 0u; j < 4u; j++) {
      let co = o.co0 + 4u * (a % 4u) + j;
      if (ci < p.cgx && co < p.og) {
        part[part_at(o.chunk, o.g * p.og + co, ci, ky, 0)] = m[0][j];
        part[part_at(o.chunk, o.g * p.og + co, ci, ky, 1)] = m[1][j];
      }
    }
  }
  if (p.has_bias != 0u && o.k == 0u) {
    for (var c = 0u; c < 4u; c++) {
      for (var j = 0u; j < 4u; j++) {
        let co = o.co0 + 4u * c + j;
        if (co < p.og) { part[o.chunk * p.part_stride + p.dw_len + o.g * p.og + co] = accb[c][j]; }
      }
    }
  }
  if (p.x_bias != 0u && o.co0 == 0u) {
    for (var c = 0u; c < 2u; c++) {
      if (ci0 + c < p.cgx) { part[o.chunk * p.part_stride + p.dw_len + o.g * p.cgx + ci0 + c] = accx[c]; }
    }
  }
}

override TBM: u32 = 16;  // output channels per tile
override TBN: u32 = 64;  // (ci, ky, kx) per tile; TBM·TBN = 64·16: each thread owns 4 × 4
override TBK: u32 = 32;  // pixels per step

var<workgroup> dys: array<f32, TBK * TBM>;  // [pixel][channel]
var<workgroup> xps: array<f32, TBK * TBN>;  // [pixel][(ci, ky, kx)]

// A workgroup: TBM output channels × TBN (ci, ky, kx) of one group over one chunk of the flat pixels
// (image, row, column); its 64 threads stage TBK pixels of dy and of the input patches at a time.
@compute @workgroup_size(64)
fn tiled_dw(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let wg = workgroup_index(wid, nwg);
  let kb = wg % p.kblocks;
  let blk = (wg / p.kblocks) % (p.groups * p.blocks);
  let chunk = wg / (p.kblocks * p.groups * p.blocks);
  let g = blk / p.blocks;
  let co0 = (blk % p.blocks) * TBM;
  let k0 = kb * TBN;
  let khw = u32(p.kernel.x * p.kernel.y);
  let kn = p.cgx * khw;
  let plane = u32(p.out_size.x * p.out_size.y);
  let ihw = u32(p.in_size.x * p.in_size.y);
  let first = chunk * p.chunk_steps;
  let end = min(p.steps, first + p.chunk_steps);
  let tm0 = (li / (TBN / 4u)) * 4u;
  let tn0 = (li % (TBN / 4u)) * 4u;
  var acc = mat4x4f();  // column j: (ci, ky, kx) tn0 + j; rows: channels tm0..
  var accb = vec4f();
  for (var s0 = first; s0 < end; s0 += TBK) {
    for (var e = li; e < TBK * TBM; e += 64u) {
      let px = s0 + e / TBM;
      let co = co0 + e % TBM;
      let q = min(px, end - 1u);
      dys[e] = select(0.0, dy[((q / plane) * p.c_y + g * p.og + min(co, p.og - 1u)) * plane + q % plane], px < end && co < p.og);
    }
    for (var e = li; e < TBK * TBN; e += 64u) {
      let px = s0 + e / TBN;
      let k = k0 + e % TBN;
      let q = min(px, end - 1u);
      let n = q / plane;
      let oy = i32((q % plane) / u32(p.out_size.y));
      let ox = i32(q % u32(p.out_size.y));
      let ci = min(k / khw, p.cgx - 1u);
      let iy = oy * p.stride.x - p.pad.x + i32((k % khw) / u32(p.kernel.y)) * p.dilation.x;
      let ix = ox * p.stride.y - p.pad.y + i32(k % u32(p.kernel.y)) * p.dilation.y;
      let ok = px < end && k < kn && iy >= 0 && iy < p.in_size.x && ix >= 0 && ix < p.in_size.y;
      let at = (n * p.c_x + g * p.cgx + ci) * ihw + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y + clamp(ix, 0, p.in_size.y - 1));
      xps[e] = select(0.0, x[at], ok);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TBK; kk++) {
      let db_ = kk * TBM + tm0;
      let d = vec4f(dys[db_], dys[db_ + 1u], dys[db_ + 2u], dys[db_ + 3u]);
      let xb = kk * TBN + tn0;
      let xv = vec4f(xps[xb], xps[xb + 1u], xps[xb + 2u], xps[xb + 3u]);
      acc += mat4x4f(d * xv.x, d * xv.y, d * xv.z, d * xv.w);
      accb += d;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let co = co0 + tm0 + i;
    if (co >= p.og) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + tn0 + j;
      if (k < kn) { part[chunk * p.part_stride + (g * p.og + co) * kn + k] = acc[j][i]; }
    }
    if (p.has_bias != 0u && kb == 0u && tn0 == 0u) { part[chunk * p.part_stride + p.dw_len + g * p.og + co] = accb[i]; }
  }
}

// total[i] = Σ over chunks of part[chunk][i], in chunk order: dw first, then db.
@compute @workgroup_size(WG)
fn reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.part_stride) { return; }
  var acc = 0.0;
  for (var c = 0u; c < p.chunks; c++) { acc += part_in[c * p.part_stride + i]; }
  if (i < p.dw_len) { dw[i] = acc; } else { db[i - p.dw_len] = acc; }
}

// The same four totals an invocation, as vec4s, when dw and db are whole vec4s (src/ops/
// conv_splitk.ts checks): the same sums in the same order per component, so the same bits, with a
// quarter of the invocations and no scalar gathers on software adapters.
@group(0) @binding(9) var<storage, read> part_in4: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> dw4: array<vec4f>;
@group(0) @binding(11) var<storage, read_write> db4: array<vec4f>;

@compute @workgroup_size(WG)
fn reduce4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let stride4 = p.part_stride / 4u;
  if (i >= stride4) { return; }
  var acc = vec4f(0.0);
  for (var c = 0u; c < p.chunks; c++) { acc += part_in4[c * stride4 + i]; }
  if (i < p.dw_len / 4u) { dw4[i] = acc; } else { db4[i - p.dw_len / 4u] = acc; }
}

// db[c] partials: Σ over the chunk's images (chunk_steps of them) of dy's plane, as vec4s
// (out_size.x · out_size.y is a multiple of 4 for this entry).
@compute @workgroup_size(WG)
fn bias_sum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.c_y * p.chunks) { return; }
  let c = i % p.c_y;
  let chunk = i / p.c_y;
  let plane4 = u32(p.out_size.x * p.out_size.y) / 4u;
  var acc = 0.0;
  for (var n = chunk * p.chunk_steps; n < min(p.batch, (chunk + 1u) * p.chunk_steps); n++) {
    let base = (n * p.c_y + c) * plane4;
    var s = vec4f(0.0);
    for (var j = 0u; j < plane4; j++) { s += dy4[base + j]; }
    acc += (s.x + s.y) + (s.z + s.w);
  }
  part[chunk * p.part_stride + c] = acc;
}
