// The register-tiled implicit GEMM of conv_igemm_sg.wgsl, specialised to classes whose output
// column b reads input columns b−1, b, b+1 (3-wide, stride 1, padding 1: the seed's 3×3 convs and
// their input gradients) with rows of x and y that are whole vec4s. The inputs of 8 output columns
// in one input row are then 10 values — two aligned vec4 loads and two scalars instead of 24
// gathers — and the three column taps are shifts of them. Stores are vec4s along the row.
// The host checks the preconditions (row3Unsupported in src/ops/conv_igemm.ts).
// Accumulators are 16 separate variables, not an array: SwiftShader keeps a function-scope array in
// memory with per-lane addressing, while separate variables are promoted to registers (and spilled
// by the register allocator): the seed's conv2.0 forward 12.0-12.7 -> 10.4-10.6 ms. The price is
// compile time (row3_r16: 0.3-0.4 -> 1.0-1.3 s), paid from the cold tuning budget, so row3_r32,
// which no seed shape chose, keeps its array (as conv_igemm_s2.wgsl does, where it measured the same).
// The reduction is one flat loop over (input channel, row tap), taps fastest, not two nested ones:
// SwiftShader pays for every loop entry and exit with the whole register tile live (the seed's
// conv1.0 forward, 3 taps × 3 channels, 6.6 -> 4.9 ms; conv2.0's 9.8 -> 9.2; conv2.0's input
// gradient 12.6 -> 12.0). Taps fastest is the order of row3_r16_pool's loop for 3 row taps (ROWS3),
// so the pooled kernel stays bit-identical to row3_r16 then the pool; for row3_r16 either order
// measured the same. row3_r16 and row3_r16_pool's general loop also take several steps a trip, two
// and three (conv2.0 forward 9.0-9.2 -> 8.3-8.5 ms with two, its input gradient 11.9 ->
// 11.2-11.7; three, interleaved: conv1.0 forward 4.96 -> 4.69 ms, conv2.0's within 2 %, the input
// gradient no better, so row3_r16 keeps two); past the count the last steps' inputs and weights
// are zero, so they add +0 (exact: a sum that starts at +0 never holds -0). Bounds are combined
// with `&`, not `&&`: a short-circuit operator is control flow, and with it the two-step loop took
// 62 s to compile instead of 0.9 s (three steps: 0.63 s, two 0.61).

fn wt_at(g: u32, ci: u32, t: i32, c0: u32) -> u32 {
  return p.w_off + (((g * p.cgx4 + ci) * u32(p.taps.x) + u32(t)) * 3u) * (p.cop / 4u) + c0 / 4u;
}

// x at column i of the row starting at `row` as a vec4 aligned at column i (i a multiple of 4),
// zero when the row is out of range or the vec4 lies past the row's end.
fn at4(row: u32, ok: bool, i: i32) -> vec4f {
  return select(vec4f(0.0), x4[(row + u32(min(i, p.in_size.y - 4))) / 4u], ok & (i < p.in_size.y));
}
fn at1(row: u32, ok: bool, i: i32) -> f32 {
  return select(0.0, x[row + u32(clamp(i, 0, p.in_size.y - 1))], ok & (i >= 0) & (i < p.in_size.y));
}

// The three column taps of 4 output columns whose inputs are `before`, v.x..v.w, `after`:
// column i of the matrix is output column i, its rows taps u = 0, 1, 2.
fn taps3(before: f32, v: vec4f, after: f32) -> mat4x3f {
  return mat4x3f(vec3f(before, v.xy), v.xyz, v.yzw, vec3f(v.zw, after));
}

// Weights of one input channel and one row tap for 4 output channels, taps u = 0, 1, 2 as columns:
// W · X (mat3x4 · mat4x3) is then the 4 channels × 4 columns block, 48 multiply-adds.
fn wmat(u0: vec4f, u1: vec4f, u2: vec4f) -> mat3x4f { return mat3x4f(u0, u1, u2); }


// 8 columns × 32 channels per lane; acc(8·pb + c): columns 4pb.., channels 4c... Per input channel
// and row tap, the 24 weight vectors (3 column taps × 8) are loaded 6 per lane of a quad and shared.
@compute @workgroup_size(64)
fn row3_r32(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 32u);
  let l = lane_of((wg / nblk) * 64u + li, 8u);
  let q = sl & 3u;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let xg = (l.n * p.c_x + gc.x * p.cgx) * ihw;
  let cv = p.cop / 4u;
  // Lane q loads weight vectors 6q..6q+5 of the 24 (vector v: column tap v / 8, channels 4·(v % 8)..).
  let v0 = 6u * q;
  let wo = vec4u(v0, v0 + 1u, v0 + 2u, v0 + 3u);
  let w_lo = (wo / 8u) * cv + wo % 8u;
  let w_hi = (vec2u(v0 + 4u, v0 + 5u) / 8u) * cv + vec2u(v0 + 4u, v0 + 5u) % 8u;
  var acc: array<mat4x4f, 16>;
  for (var k = 0u; k < u32(p.taps.x) * p.cgx; k++) {
    let t = i32(k / p.cgx);
    let ci = k % p.cgx;
    let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
    let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
    let row_ok = (iy >= 0) & (iy < p.in_size.x);
    let r = row + ci * ihw;
    let va = at4(r, row_ok, l.b0);
    let vb = at4(r, row_ok, l.b0 + 4);
    let x0 = taps3(at1(r, row_ok, l.b0 - 1), va, vb.x);
    let x1 = taps3(va.w, vb, at1(r, row_ok, l.b0 + 8));
    let wb = wt_at(gc.x, ci, t, gc.y);
    let o0 = wt[wb + w_lo.x];
    let o1 = wt[wb + w_lo.y];
    let o2 = wt[wb + w_lo.z];
    let o3 = wt[wb + w_lo.w];
    let o4 = wt[wb + w_hi.x];
    let o5 = wt[wb + w_hi.y];
    let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o2, 1u), quadBroadcast(o4, 2u));
    let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o3, 1u), quadBroadcast(o5, 2u));
    let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o4, 1u), quadBroadcast(o0, 3u));
    let w3 = wmat(quadBroadcast(o3, 0u), quadBroadcast(o5, 1u), quadBroadcast(o1, 3u));
    let w4 = wmat(quadBroadcast(o4, 0u), quadBroadcast(o0, 2u), quadBroadcast(o2, 3u));
    let w5 = wmat(quadBroadcast(o5, 0u), quadBroadcast(o1, 2u), quadBroadcast(o3, 3u));
    let w6 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o2, 2u), quadBroadcast(o4, 3u));
    let w7 = wmat(quadBroadcast(o1, 1u), quadBroadcast(o3, 2u), quadBroadcast(o5, 3u));
    acc[0] += w0 * x0; acc[1] += w1 * x0; acc[2] += w2 * x0; acc[3] += w3 * x0;
    acc[4] += w4 * x0; acc[5] += w5 * x0; acc[6] += w6 * x0; acc[7] += w7 * x0;
    acc[8] += w0 * x1; acc[9] += w1 * x1; acc[10] += w2 * x1; acc[11] += w3 * x1;
    acc[12] += w4 * x1; acc[13] += w5 * x1; acc[14] += w6 * x1; acc[15] += w7 * x1;
  }
  for (var k = 0u; k < 16u; k++) { store_block(l, gc.x, gc.y + 4u * (k % 8u), l.b0 + 4 * i32(k / 8u), acc[k]); }
}

// 16 columns × 16 channels per lane (layers with 16 or fewer output channels per group);
// acc(4·pb + c): columns 4pb.., channels 4c... 12 weight vectors per input channel and row tap,
// 3 per lane.
@compute @workgroup_size(64)
fn row3_r16(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 16u);
  let l = lane_of((wg / nblk) * 64u + li, 16u);
  let q = sl & 3u;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let xg = (l.n * p.c_x + gc.x * p.cgx) * ihw;
  let cv = p.cop / 4u;
  // Lane q loads weight vectors 3q..3q+2 of the 12 (vector v: column tap v / 4, channels 4·(v % 4)..).
  let wo = vec3u(3u * q, 3u * q + 1u, 3u * q + 2u);
  let wq = (wo / 4u) * cv + wo % 4u;
  var acc0 = mat4x4f(); var acc1 = mat4x4f(); var acc2 = mat4x4f(); var acc3 = mat4x4f();
  var acc4 = mat4x4f(); var acc5 = mat4x4f(); var acc6 = mat4x4f(); var acc7 = mat4x4f();
  var acc8 = mat4x4f(); var acc9 = mat4x4f(); var acc10 = mat4x4f(); var acc11 = mat4x4f();
  var acc12 = mat4x4f(); var acc13 = mat4x4f(); var acc14 = mat4x4f(); var acc15 = mat4x4f();
  let n = u32(p.taps.x) * p.cgx;
  for (var k = 0u; k < n; k += 2u) {
    {
      let t = i32(k % u32(p.taps.x));
      let ci = k / u32(p.taps.x);
      let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
      let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
      let row_ok = (iy >= 0) & (iy < p.in_size.x);
      let r = row + ci * ihw;
      let va = at4(r, row_ok, l.b0);
      let vb = at4(r, row_ok, l.b0 + 4);
      let vc = at4(r, row_ok, l.b0 + 8);
      let vd = at4(r, row_ok, l.b0 + 12);
      let x0 = taps3(at1(r, row_ok, l.b0 - 1), va, vb.x);
      let x1 = taps3(va.w, vb, vc.x);
      let x2 = taps3(vb.w, vc, vd.x);
      let x3 = taps3(vc.w, vd, at1(r, row_ok, l.b0 + 16));
      let wb = wt_at(gc.x, ci, t, gc.y);
      let o0 = wt[wb + wq.x];
      let o1 = wt[wb + wq.y];
      let o2 = wt[wb + wq.z];
      let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
      let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
      let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
      let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
      acc0 += w0 * x0; acc1 += w1 * x0; acc2 += w2 * x0; acc3 += w3 * x0;
      acc4 += w0 * x1; acc5 += w1 * x1; acc6 += w2 * x1; acc7 += w3 * x1;
      acc8 += w0 * x2; acc9 += w1 * x2; acc10 += w2 * x2; acc11 += w3 * x2;
      acc12 += w0 * x3; acc13 += w1 * x3; acc14 += w2 * x3; acc15 += w3 * x3;
    }
    {
      let live = k + 1u < n; // past the end: zero inputs and weights
      let kk = min(k + 1u, n - 1u);
      let t = i32(kk % u32(p.taps.x));
      let ci = kk / u32(p.taps.x);
      let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
      let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
      let row_ok = live & (iy >= 0) & (iy < p.in_size.x);
      let r = row + ci * ihw;
      let va = at4(r, row_ok, l.b0);
      let vb = at4(r, row_ok, l.b0 + 4);
      let vc = at4(r, row_ok, l.b0 + 8);
      let vd = at4(r, row_ok, l.b0 + 12);
      let x0 = taps3(at1(r, row_ok, l.b0 - 1), va, vb.x);
      let x1 = taps3(va.w, vb, vc.x);
      let x2 = taps3(vb.w, vc, vd.x);
      let x3 = taps3(vc.w, vd, at1(r, row_ok, l.b0 + 16));
      let wb = wt_at(gc.x, ci, t, gc.y);
      let o0 = select(vec4f(0.0), wt[wb + wq.x], live);
      let o1 = select(vec4f(0.0), wt[wb + wq.y], live);
      let o2 = select(vec4f(0.0), wt[wb + wq.z], live);
      let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
      let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
      let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
      let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
      acc0 += w0 * x0; acc1 += w1 * x0; acc2 += w2 * x0; acc3 += w3 * x0;
      acc4 += w0 * x1; acc5 += w1 * x1; acc6 += w2 * x1; acc7 += w3 * x1;
      acc8 += w0 * x2; acc9 += w1 * x2; acc10 += w2 * x2; acc11 += w3 * x2;
      acc12 += w0 * x3; acc13 += w1 * x3; acc14 += w2 * x3; acc15 += w3 * x3;
    }
  }
  store_block(l, gc.x, gc.y, l.b0, acc0); store_block(l, gc.x, gc.y + 4u, l.b0, acc1);
  store_block(l, gc.x, gc.y + 8u, l.b0, acc2); store_block(l, gc.x, gc.y + 12u, l.b0, acc3);
  store_block(l, gc.x, gc.y, l.b0 + 4, acc4); store_block(l, gc.x, gc.y + 4u, l.b0 + 4, acc5);
  store_block(l, gc.x, gc.y + 8u, l.b0 + 4, acc6); store_block(l, gc.x, gc.y + 12u, l.b0 + 4, acc7);
  store_block(l, gc.x, gc.y, l.b0 + 8, acc8); store_block(l, gc.x, gc.y + 4u, l.b0 + 8, acc9);
  store_block(l, gc.x, gc.y + 8u, l.b0 + 8, acc10); store_block(l, gc.x, gc.y + 12u, l.b0 + 8, acc11);
  store_block(l, gc.x, gc.y, l.b0 + 12, acc12); store_block(l, gc.x, gc.y + 4u, l.b0 + 12, acc13);
  store_block(l, gc.x, gc.y + 8u, l.b0 + 12, acc14); store_block(l, gc.x, gc.y + 12u, l.b0 + 12, acc15);
}

// With a 2×2 max pool (stride 2, no padding) after the activation, pooled as the tile is stored:
// the full-resolution activation is never written (for the seed's first conv that is 4× the bytes
// the pool keeps, and writing it was what bound the pass). The pooled output goes to y4, and each
// window's argmax (iy·W + ix within the conv's output plane, as maxpool2d.wgsl records it) to
// argmax4. The maximum and argmax are pool2x2.wgsl's. A monotone non-decreasing activation f
// commutes with the maximum (max f(v) = f(max v), and the largest v is a pixel where f is largest),
// so where ACT is one (pools_first) the window is pooled before it is activated: a quarter of the
// activations (the seed's conv1.0 forward 8.0-8.2 -> 7.3-7.5 ms, conv2.0 10.5 -> 10.2). The pooled output
// then equals row3_r16 then maxpool2d_k2 bit for bit; an argmax can differ only where f maps
// distinct inputs to one value (ReLU's zeros, a saturated sigmoid): the pass after picks the
// largest input, PyTorch the first of the tied outputs, and the gradient routed there is the same
// (f's gradient from that shared output). GELU dips below zero: it is activated first, as the
// unpooled kernel stores it. (A leaky ReLU's slope is never negative: activationOverrides rejects it.)
@group(0) @binding(9) var<storage, read_write> argmax4: array<vec4i>;

// A pooling lane owns output rows a, a + 1 (a even) and columns b0 .. b0 + 7 (b0 a multiple of 8):
// lanes = batch × grid rows / 2 × grid columns / 8 (the host checks both divide).
fn pool_lane_of(raw: u32) -> Lane {
  let lane = min(raw, p.lanes - 1u);
  let col_blocks = u32(p.grid.y) / 8u;
  let rows = u32(p.grid.x) / 2u;
  let a = (lane / col_blocks) % rows;
  return Lane(lane / (col_blocks * rows), i32(2u * a), i32((lane % col_blocks) * 8u), raw < p.lanes);
}

fn act4(v: vec4f) -> vec4f { return vec4f(activate(v.x), activate(v.y), activate(v.z), activate(v.w)); }

// Pipeline constants only: the branch not taken compiles away.
fn pools_first() -> bool { return ACT != 6u; }
fn act4_if(on: bool, v: vec4f) -> vec4f {
  if (on) { return act4(v); }
  return v;
}

// The 2×2 windows over columns k, k + 1 of `top` and `bot` (a vec4 over 4 channels each), after
// bias b, activated first when `before`; `at`: the first window's top-left pixel. Called with
// constant k, so the columns are indexed statically once inlined.
fn pool_cols(top: mat4x4f, bot: mat4x4f, k: u32, b: vec4f, before: bool, at: i32, w: i32) -> Best4 {
  return window4(act4_if(before, top[k] + b), act4_if(before, top[k + 1u] + b), act4_if(before, bot[k] + b),
    act4_if(before, bot[k + 1u] + b), at, w);
}

// Pools 4 channels (c0.. of group g) of the lane's 2 rows × 8 columns: top0/top1 are row a's
// columns 0–3 / 4–7 (matrix column: output column, a vec4 over the 4 channels), bot0/bot1 row a + 1's.
// That is 4 windows side by side, pooled for the 4 channels at once (window4); per channel, one vec4
// of pooled outputs and one of argmaxes. The bias is added before the pool (adding it after would
// tie pixels that differ by less than its rounding, which PyTorch breaks the other way).
fn store_pool4(l: Lane, g: u32, c0: u32, top0: mat4x4f, top1: mat4x4f, bot0: mat4x4f, bot1: mat4x4f) {
  if (!l.live) { return; }
  let w = p.out_size.y;
  let pooled = u32(p.out_size.x * w) / 4u;
  let at = ((l.n * p.c_y + g * p.og + c0) * pooled + u32(l.a / 2 * (w / 2) + l.b0 / 2)) / 4u;
  let at0 = l.a * w + l.b0; // the first window's top-left pixel within the plane
  let b = bias4(g, c0);
  let before = !pools_first(); // activate before pooling (GELU), else after
  let o0 = pool_cols(top0, bot0, 0u, b, before, at0, w);
  let o1 = pool_cols(top0, bot0, 2u, b, before, at0 + 2, w);
  let o2 = pool_cols(top1, bot1, 0u, b, before, at0 + 4, w);
  let o3 = pool_cols(top1, bot1, 2u, b, before, at0 + 6, w);
  // Row j: channel c0 + j's 4 windows.
  let v = transpose(mat4x4f(act4_if(!before, o0.v), act4_if(!before, o1.v), act4_if(!before, o2.v), act4_if(!before, o3.v)));
  let s = pooled / 4u; // one channel's plane, in vec4s
  if (c0 < p.og) { y4[at] = v[0]; argmax4[at] = vec4i(o0.at.x, o1.at.x, o2.at.x, o3.at.x); }
  if (c0 + 1u < p.og) { y4[at + s] = v[1]; argmax4[at + s] = vec4i(o0.at.y, o1.at.y, o2.at.y, o3.at.y); }
  if (c0 + 2u < p.og) { y4[at + 2u * s] = v[2]; argmax4[at + 2u * s] = vec4i(o0.at.z, o1.at.z, o2.at.z, o3.at.z); }
  if (c0 + 3u < p.og) { y4[at + 3u * s] = v[3]; argmax4[at + 3u * s] = vec4i(o0.at.w, o1.at.w, o2.at.w, o3.at.w); }
}

// Pipeline constant: row3_r16_pool's loop for 3 row taps at stride and dilation 1 in height
// (src/ops/conv_igemm.ts sets it from the geometry).
override ROWS3: bool = false;

// Input row iy of one channel plane under 8 output columns from b0, as their three column taps
// (taps3): columns b0.. (a) and b0 + 4.. (b); zero off the image.
struct Row8 { a: mat4x3f, b: mat4x3f }
fn row8(plane: u32, iy: i32, b0: i32) -> Row8 {
  let ok = (iy >= 0) & (iy < p.in_size.x);
  let r = plane + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
  let va = at4(r, ok, b0);
  let vb = at4(r, ok, b0 + 4);
  return Row8(taps3(at1(r, ok, b0 - 1), va, vb.x), taps3(va.w, vb, at1(r, ok, b0 + 8)));
}

// row3_r16 for two output rows of 8 columns instead of one of 16, pooled as it stores (above).
// acc(4·q + c): q = 0, 1 row a's columns 0–3, 4–7; q = 2, 3 row a + 1's; channels 4c... The same
// products in the same order per output as row3_r16, so the activations pooled are the ones it stores.
@compute @workgroup_size(64)
fn row3_r16_pool(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, 16u);
  let l = pool_lane_of((wg / nblk) * 64u + li);
  let q = sl & 3u;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let xg = (l.n * p.c_x + gc.x * p.cgx) * ihw;
  let cv = p.cop / 4u;
  let wo = vec3u(3u * q, 3u * q + 1u, 3u * q + 2u);
  let wq = (wo / 4u) * cv + wo % 4u;
  var acc0 = mat4x4f(); var acc1 = mat4x4f(); var acc2 = mat4x4f(); var acc3 = mat4x4f();
  var acc4 = mat4x4f(); var acc5 = mat4x4f(); var acc6 = mat4x4f(); var acc7 = mat4x4f();
  var acc8 = mat4x4f(); var acc9 = mat4x4f(); var acc10 = mat4x4f(); var acc11 = mat4x4f();
  var acc12 = mat4x4f(); var acc13 = mat4x4f(); var acc14 = mat4x4f(); var acc15 = mat4x4f();
  if (ROWS3) {
    // 3 row taps, stride and dilation 1 in height: output rows a and a + 1 read input rows top ..
    // top + 3, each loaded once an input channel (the loop below loads 6 rows a channel), taps
    // t = 0, 1, 2 in the same order. The seed's conv1.0 forward 4.72 -> 4.43 ms, conv2.0's
    // 7.71 -> 7.16 (interleaved), and the kernel compiles faster (1.29 -> 0.94 s).
    let top = p.istep.x * l.a + p.off.x;
    for (var ci = 0u; ci < p.cgx; ci++) {
      let plane = xg + ci * ihw;
      let x0 = row8(plane, top, l.b0);
      let x1 = row8(plane, top + 1, l.b0);
      let x2 = row8(plane, top + 2, l.b0);
      let x3 = row8(plane, top + 3, l.b0);
      {
        let wb = wt_at(gc.x, ci, 0, gc.y);
        let o0 = wt[wb + wq.x];
        let o1 = wt[wb + wq.y];
        let o2 = wt[wb + wq.z];
        let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
        let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
        let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
        let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
        acc0 += w0 * x0.a; acc1 += w1 * x0.a; acc2 += w2 * x0.a; acc3 += w3 * x0.a;
        acc4 += w0 * x0.b; acc5 += w1 * x0.b; acc6 += w2 * x0.b; acc7 += w3 * x0.b;
        acc8 += w0 * x1.a; acc9 += w1 * x1.a; acc10 += w2 * x1.a; acc11 += w3 * x1.a;
        acc12 += w0 * x1.b; acc13 += w1 * x1.b; acc14 += w2 * x1.b; acc15 += w3 * x1.b;
      }
      {
        let wb = wt_at(gc.x, ci, 1, gc.y);
        let o0 = wt[wb + wq.x];
        let o1 = wt[wb + wq.y];
        let o2 = wt[wb + wq.z];
        let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
        let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
        let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
        let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
        acc0 += w0 * x1.a; acc1 += w1 * x1.a; acc2 += w2 * x1.a; acc3 += w3 * x1.a;
        acc4 += w0 * x1.b; acc5 += w1 * x1.b; acc6 += w2 * x1.b; acc7 += w3 * x1.b;
        acc8 += w0 * x2.a; acc9 += w1 * x2.a; acc10 += w2 * x2.a; acc11 += w3 * x2.a;
        acc12 += w0 * x2.b; acc13 += w1 * x2.b; acc14 += w2 * x2.b; acc15 += w3 * x2.b;
      }
      {
        let wb = wt_at(gc.x, ci, 2, gc.y);
        let o0 = wt[wb + wq.x];
        let o1 = wt[wb + wq.y];
        let o2 = wt[wb + wq.z];
        let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
        let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
        let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
        let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
        acc0 += w0 * x2.a; acc1 += w1 * x2.a; acc2 += w2 * x2.a; acc3 += w3 * x2.a;
        acc4 += w0 * x2.b; acc5 += w1 * x2.b; acc6 += w2 * x2.b; acc7 += w3 * x2.b;
        acc8 += w0 * x3.a; acc9 += w1 * x3.a; acc10 += w2 * x3.a; acc11 += w3 * x3.a;
        acc12 += w0 * x3.b; acc13 += w1 * x3.b; acc14 += w2 * x3.b; acc15 += w3 * x3.b;
      }
    }
  } else {
    let n = u32(p.taps.x) * p.cgx;
    for (var k = 0u; k < n; k += 3u) {
      {
        let t = i32(k % u32(p.taps.x));
        let ci = k / u32(p.taps.x);
        let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
        let iz = iy + p.istep.x; // the same tap of row a + 1
        let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
        let row2 = xg + u32(clamp(iz, 0, p.in_size.x - 1) * p.in_size.y);
        let ok = (iy >= 0) & (iy < p.in_size.x);
        let ok2 = (iz >= 0) & (iz < p.in_size.x);
        let r = row + ci * ihw;
        let r2 = row2 + ci * ihw;
        let va = at4(r, ok, l.b0);
        let vb = at4(r, ok, l.b0 + 4);
        let vc = at4(r2, ok2, l.b0);
        let vd = at4(r2, ok2, l.b0 + 4);
        let x0 = taps3(at1(r, ok, l.b0 - 1), va, vb.x);
        let x1 = taps3(va.w, vb, at1(r, ok, l.b0 + 8));
        let x2 = taps3(at1(r2, ok2, l.b0 - 1), vc, vd.x);
        let x3 = taps3(vc.w, vd, at1(r2, ok2, l.b0 + 8));
        let wb = wt_at(gc.x, ci, t, gc.y);
        let o0 = wt[wb + wq.x];
        let o1 = wt[wb + wq.y];
        let o2 = wt[wb + wq.z];
        let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
        let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
        let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
        let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
        acc0 += w0 * x0; acc1 += w1 * x0; acc2 += w2 * x0; acc3 += w3 * x0;
        acc4 += w0 * x1; acc5 += w1 * x1; acc6 += w2 * x1; acc7 += w3 * x1;
        acc8 += w0 * x2; acc9 += w1 * x2; acc10 += w2 * x2; acc11 += w3 * x2;
        acc12 += w0 * x3; acc13 += w1 * x3; acc14 += w2 * x3; acc15 += w3 * x3;
      }
      {
        let live = k + 1u < n; // past the end: zero inputs and weights
        let kk = min(k + 1u, n - 1u);
        let t = i32(kk % u32(p.taps.x));
        let ci = kk / u32(p.taps.x);
        let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
        let iz = iy + p.istep.x; // the same tap of row a + 1
        let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
        let row2 = xg + u32(clamp(iz, 0, p.in_size.x - 1) * p.in_size.y);
        let ok = live & (iy >= 0) & (iy < p.in_size.x);
        let ok2 = live & (iz >= 0) & (iz < p.in_size.x);
        let r = row + ci * ihw;
        let r2 = row2 + ci * ihw;
        let va = at4(r, ok, l.b0);
        let vb = at4(r, ok, l.b0 + 4);
        let vc = at4(r2, ok2, l.b0);
        let vd = at4(r2, ok2, l.b0 + 4);
        let x0 = taps3(at1(r, ok, l.b0 - 1), va, vb.x);
        let x1 = taps3(va.w, vb, at1(r, ok, l.b0 + 8));
        let x2 = taps3(at1(r2, ok2, l.b0 - 1), vc, vd.x);
        let x3 = taps3(vc.w, vd, at1(r2, ok2, l.b0 + 8));
        let wb = wt_at(gc.x, ci, t, gc.y);
        let o0 = select(vec4f(0.0), wt[wb + wq.x], live);
        let o1 = select(vec4f(0.0), wt[wb + wq.y], live);
        let o2 = select(vec4f(0.0), wt[wb + wq.z], live);
        let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
        let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
        let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
        let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
        acc0 += w0 * x0; acc1 += w1 * x0; acc2 += w2 * x0; acc3 += w3 * x0;
        acc4 += w0 * x1; acc5 += w1 * x1; acc6 += w2 * x1; acc7 += w3 * x1;
        acc8 += w0 * x2; acc9 += w1 * x2; acc10 += w2 * x2; acc11 += w3 * x2;
        acc12 += w0 * x3; acc13 += w1 * x3; acc14 += w2 * x3; acc15 += w3 * x3;
      }
      {
        let live = k + 2u < n; // past the end: zero inputs and weights
        let kk = min(k + 2u, n - 1u);
        let t = i32(kk % u32(p.taps.x));
        let ci = kk / u32(p.taps.x);
        let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
        let iz = iy + p.istep.x; // the same tap of row a + 1
        let row = xg + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
        let row2 = xg + u32(clamp(iz, 0, p.in_size.x - 1) * p.in_size.y);
        let ok = live & (iy >= 0) & (iy < p.in_size.x);
        let ok2 = live & (iz >= 0) & (iz < p.in_size.x);
        let r = row + ci * ihw;
        let r2 = row2 + ci * ihw;
        let va = at4(r, ok, l.b0);
        let vb = at4(r, ok, l.b0 + 4);
        let vc = at4(r2, ok2, l.b0);
        let vd = at4(r2, ok2, l.b0 + 4);
        let x0 = taps3(at1(r, ok, l.b0 - 1), va, vb.x);
        let x1 = taps3(va.w, vb, at1(r, ok, l.b0 + 8));
        let x2 = taps3(at1(r2, ok2, l.b0 - 1), vc, vd.x);
        let x3 = taps3(vc.w, vd, at1(r2, ok2, l.b0 + 8));
        let wb = wt_at(gc.x, ci, t, gc.y);
        let o0 = select(vec4f(0.0), wt[wb + wq.x], live);
        let o1 = select(vec4f(0.0), wt[wb + wq.y], live);
        let o2 = select(vec4f(0.0), wt[wb + wq.z], live);
        let w0 = wmat(quadBroadcast(o0, 0u), quadBroadcast(o1, 1u), quadBroadcast(o2, 2u));
        let w1 = wmat(quadBroadcast(o1, 0u), quadBroadcast(o2, 1u), quadBroadcast(o0, 3u));
        let w2 = wmat(quadBroadcast(o2, 0u), quadBroadcast(o0, 2u), quadBroadcast(o1, 3u));
        let w3 = wmat(quadBroadcast(o0, 1u), quadBroadcast(o1, 2u), quadBroadcast(o2, 3u));
        acc0 += w0 * x0; acc1 += w1 * x0; acc2 += w2 * x0; acc3 += w3 * x0;
        acc4 += w0 * x1; acc5 += w1 * x1; acc6 += w2 * x1; acc7 += w3 * x1;
        acc8 += w0 * x2; acc9 += w1 * x2; acc10 += w2 * x2; acc11 += w3 * x2;
        acc12 += w0 * x3; acc13 += w1 * x3; acc14 += w2 * x3; acc15 += w3 * x3;
      }
    }
  }
  store_pool4(l, gc.x, gc.y, acc0, acc4, acc8, acc12);
  store_pool4(l, gc.x, gc.y + 4u, acc1, acc5, acc9, acc13);
  store_pool4(l, gc.x, gc.y + 8u, acc2, acc6, acc10, acc14);
  store_pool4(l, gc.x, gc.y + 12u, acc3, acc7, acc11, acc15);
}
