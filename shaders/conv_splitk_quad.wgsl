// The quad-sharing weight-gradient kernels (see conv_splitk.wgsl, whose helpers and bindings they
// use): all lanes of a workgroup own the same output channels and pixel chunk, so quad lane q loads
// dy of channels 4q.. and quadBroadcasts it to the other three. src/ops/conv_splitk.ts compiles this
// file after conv_splitk.wgsl, with `enable subgroups;`, only where the adapter has subgroups.

// Lanes per workgroup (a multiple of 4), of one channel block and chunk: row3_dw's (ci, row-tap
// block) pairs, s2q_dw's input-channel pairs.
override WGX: u32 = 16;
// s2q_dw: input channels a lane, 2 or 1 (fewer than 8 a group: 2 would leave a quad's lanes idle).
override CPL: u32 = 2;

// The quad's 16 channels of dy from each lane's own 4 (`own`: columns channels 4q.., rows pixels),
// as Dy4 (d_c: rows channels 4c.., columns pixels).
fn quad_dy(own: mat4x4f) -> Dy4 {
  return Dy4(transpose(mat4x4f(quadBroadcast(own[0], 0u), quadBroadcast(own[1], 0u), quadBroadcast(own[2], 0u), quadBroadcast(own[3], 0u))),
    transpose(mat4x4f(quadBroadcast(own[0], 1u), quadBroadcast(own[1], 1u), quadBroadcast(own[2], 1u), quadBroadcast(own[3], 1u))),
    transpose(mat4x4f(quadBroadcast(own[0], 2u), quadBroadcast(own[1], 2u), quadBroadcast(own[2], 2u), quadBroadcast(own[3], 2u))),
    transpose(mat4x4f(quadBroadcast(own[0], 3u), quadBroadcast(own[1], 3u), quadBroadcast(own[2], 3u), quadBroadcast(own[3], 3u))));
}

// Each of the lane's own 4 channels summed over its 4 pixels (the bias's share of a step).
fn pixel_sums(own: mat4x4f) -> vec4f {
  return vec4f((own[0].x + own[0].y) + (own[0].z + own[0].w), (own[1].x + own[1].y) + (own[1].z + own[1].w),
    (own[2].x + own[2].y) + (own[2].z + own[2].w), (own[3].x + own[3].y) + (own[3].z + own[3].w));
}

// 3-wide stride-1 padding-1 rows: a lane owns 16 output channels × 1 input channel × 3 row taps ×
// 3 column taps and steps through 4 output columns at a time. All lanes of a workgroup own the same
// output channels and pixel chunk (they differ in input channel and row-tap block), so quad lane q
// loads dy of channels 4q.. and quadBroadcasts it — exact for any subgroup size and lane layout.
// acc[4t + c] (mat3x4f: columns u, rows 4 output channels) for row taps t0 + t. The bias sums are
// each quad lane's own 4 channels of dy, summed before the broadcast (accq): 16 additions a step
// where summing the broadcast 16 channels × 4 pixels in every lane took 64 multiply-adds (the seed's
// conv2.0 weight gradient 11.6 -> 11.0 ms, conv1.0's 5.6 -> 5.4). One quad stores them.
// Two steps a trip (the second zero past the chunk's end: its dy and x are masked, so it adds +0),
// with bounds combined by `&`, not the short-circuit `&&`, which is control flow to SwiftShader:
// conv2.0 12.1 -> 11.1-11.2 ms, conv1.0 5.4-5.5 -> 4.6-4.8, and the kernel compiles in 0.5 s, not 1.3.
@compute @workgroup_size(WGX)
fn row3_dw(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let kcount = p.cgx * p.kblocks;
  let kgroups = (kcount + WGX - 1u) / WGX;
  let blk = (wg / kgroups) % (p.groups * p.blocks);
  let raw = (wg % kgroups) * WGX + li;
  // The chunk (and so the step loop) is workgroup-uniform, as quadBroadcast needs.
  let chunk = wg / (kgroups * p.groups * p.blocks);
  let o = Owner(chunk, blk / p.blocks, (blk % p.blocks) * 16u, min(raw, kcount - 1u), raw < kcount);
  let ci = o.k / p.kblocks;
  let t0 = i32(o.k % p.kblocks) * 3;
  let q = sl & 3u;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let cols = u32(p.out_size.y) / 4u;
  // Accumulators are separate variables, not an array (SwiftShader keeps a function-scope array
  // or struct in memory; separate variables go to registers): acc(4t + c) for row tap t0 + t,
  // output channels 4c...
  var acc0 = mat3x4f(); var acc1 = mat3x4f(); var acc2 = mat3x4f(); var acc3 = mat3x4f();
  var acc4 = mat3x4f(); var acc5 = mat3x4f(); var acc6 = mat3x4f(); var acc7 = mat3x4f();
  var acc8 = mat3x4f(); var acc9 = mat3x4f(); var acc10 = mat3x4f(); var acc11 = mat3x4f();
  var accq = vec4f();
  // Every quad holds one lane of each q; the one holding raw lane 0 stores the bias.
  let lead = (quadBroadcast(raw, 0u) == 0u) | (quadBroadcast(raw, 1u) == 0u) | (quadBroadcast(raw, 2u) == 0u) | (quadBroadcast(raw, 3u) == 0u);
  let s1 = min(p.steps, (chunk + 1u) * p.chunk_steps);
  for (var s = chunk * p.chunk_steps; s < s1; s += 2u) {
    {
      let b0 = i32(s % cols) * 4;
      let oy = i32((s / cols) % u32(p.out_size.x));
      let n = s / (cols * u32(p.out_size.x));
      let own = dy_rows(n, o.g, o.co0 + 4u * q, u32(oy * p.out_size.y + b0));
      let d = quad_dy(own);
      let xrow = (n * p.c_x + o.g * p.cgx + ci) * ihw;
      let ta = row_tap(xrow, oy, t0, b0, d, true);
      let tb = row_tap(xrow, oy, t0 + 1, b0, d, true);
      let tc = row_tap(xrow, oy, t0 + 2, b0, d, true);
      acc0 += ta.c0; acc1 += ta.c1; acc2 += ta.c2; acc3 += ta.c3;
      acc4 += tb.c0; acc5 += tb.c1; acc6 += tb.c2; acc7 += tb.c3;
      acc8 += tc.c0; acc9 += tc.c1; acc10 += tc.c2; acc11 += tc.c3;
      accq += pixel_sums(own);
    }
    {
      let live = s + 1u < s1;
      let sn = min(s + 1u, s1 - 1u);
      let b0 = i32(sn % cols) * 4;
      let oy = i32((sn / cols) % u32(p.out_size.x));
      let n = sn / (cols * u32(p.out_size.x));
      let own0 = dy_rows(n, o.g, o.co0 + 4u * q, u32(oy * p.out_size.y + b0));
      let z = vec4f(0.0);
      let own = mat4x4f(select(z, own0[0], live), select(z, own0[1], live), select(z, own0[2], live), select(z, own0[3], live));
      let d = quad_dy(own);
      let xrow = (n * p.c_x + o.g * p.cgx + ci) * ihw;
      let ta = row_tap(xrow, oy, t0, b0, d, live);
      let tb = row_tap(xrow, oy, t0 + 1, b0, d, live);
      let tc = row_tap(xrow, oy, t0 + 2, b0, d, live);
      acc0 += ta.c0; acc1 += ta.c1; acc2 += ta.c2; acc3 += ta.c3;
      acc4 += tb.c0; acc5 += tb.c1; acc6 += tb.c2; acc7 += tb.c3;
      acc8 += tc.c0; acc9 += tc.c1; acc10 += tc.c2; acc11 += tc.c3;
      accq += pixel_sums(own);
    }
  }
  row3_store_tap(o, ci, t0, Tap4(acc0, acc1, acc2, acc3));
  row3_store_tap(o, ci, t0 + 1, Tap4(acc4, acc5, acc6, acc7));
  row3_store_tap(o, ci, t0 + 2, Tap4(acc8, acc9, acc10, acc11));
  row3_store_bias(o, q, lead, accq);
}

// s2_dw's kernel = stride = 2×2 shape with row3_dw's quad sharing: a lane owns 16 output channels ×
// CPL input channels (2, or 1 below 8 a group) × 2×2 taps; all lanes of a workgroup own the same
// output channels and pixel chunk and differ in their input channels, so quad lane q loads dy of
// channels 4q.. and quadBroadcasts it: 4 vec4 loads a step where each s2_dw lane loads all 16. The
// seed's transconv1.0 weight gradient (16 channels, 8 lanes): 2.7 -> 1.8 ms at 16 chunks
// (bit-identical), 1.5-1.6 at 4; transconv2.0's (3 channels, one a lane: 3 lanes of a quad busy,
// where pairs would keep 2): 1.55 -> 1.1-1.2 ms, interleaved.
// acc(4·(2·cc + ky) + c): input channel ci0 + cc, row tap ky, output channels 4c.., as s2_dw.
fn s2q_store(o: Owner, ci: u32, ky: i32, c: u32, m: mat2x4f) {
  if (!o.live || ci >= p.cgx) { return; }
  for (var j = 0u; j < 4u; j++) {
    let co = o.co0 + c + j;
    if (co < p.og) {
      part[part_at(o.chunk, o.g * p.og + co, ci, ky, 0)] = m[0][j];
      part[part_at(o.chunk, o.g * p.og + co, ci, ky, 1)] = m[1][j];
    }
  }
}

@compute @workgroup_size(WGX)
fn s2q_dw(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let kgroups = (p.kblocks + WGX - 1u) / WGX;
  let blk = (wg / kgroups) % (p.groups * p.blocks);
  let raw = (wg % kgroups) * WGX + li;
  let chunk = wg / (kgroups * p.groups * p.blocks);
  let o = Owner(chunk, blk / p.blocks, (blk % p.blocks) * 16u, min(raw, p.kblocks - 1u), raw < p.kblocks);
  let ci0 = CPL * o.k;
  let q = sl & 3u;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let cols = u32(p.out_size.y) / 4u;
  var acc0 = mat2x4f(); var acc1 = mat2x4f(); var acc2 = mat2x4f(); var acc3 = mat2x4f();
  var acc4 = mat2x4f(); var acc5 = mat2x4f(); var acc6 = mat2x4f(); var acc7 = mat2x4f();
  var acc8 = mat2x4f(); var acc9 = mat2x4f(); var acc10 = mat2x4f(); var acc11 = mat2x4f();
  var acc12 = mat2x4f(); var acc13 = mat2x4f(); var acc14 = mat2x4f(); var acc15 = mat2x4f();
  var accq = vec4f();
  var accx = vec2f(); // x_bias: Σ x of input channels ci0, ci0 + 1
  let lead = (quadBroadcast(raw, 0u) == 0u) | (quadBroadcast(raw, 1u) == 0u) | (quadBroadcast(raw, 2u) == 0u) | (quadBroadcast(raw, 3u) == 0u);
  let ok1 = (CPL == 2u) & (ci0 + 1u < p.cgx);
  let s1 = min(p.steps, (chunk + 1u) * p.chunk_steps);
  for (var s = chunk * p.chunk_steps; s < s1; s++) {
    let b0 = i32(s % cols) * 4;
    let oy = i32((s / cols) % u32(p.out_size.x));
    let n = s / (cols * u32(p.out_size.x));
    let own = dy_rows(n, o.g, o.co0 + 4u * q, u32(oy * p.out_size.y + b0));
    let d = quad_dy(own);
    let x0 = (n * p.c_x + o.g * p.cgx + min(ci0, p.cgx - 1u)) * ihw + u32(2 * oy * p.in_size.y);
    let x1 = (n * p.c_x + o.g * p.cgx + min(ci0 + 1u, p.cgx - 1u)) * ihw + u32(2 * oy * p.in_size.y);
    let t0 = s2_taps(x0, true, 2 * b0);
    let t1 = s2_taps(x0 + u32(p.in_size.y), true, 2 * b0);
    acc0 += d.d0 * t0; acc1 += d.d1 * t0; acc2 += d.d2 * t0; acc3 += d.d3 * t0;
    acc4 += d.d0 * t1; acc5 += d.d1 * t1; acc6 += d.d2 * t1; acc7 += d.d3 * t1;
    accq += pixel_sums(own);
    if (p.x_bias != 0u) { accx.x += dot(t0[0] + t0[1] + t1[0] + t1[1], vec4f(1.0)); }
    if (CPL == 2u) { // a pipeline constant: with one channel a lane this compiles away
      let t2 = s2_taps(x1, ok1, 2 * b0);
      let t3 = s2_taps(x1 + u32(p.in_size.y), ok1, 2 * b0);
      acc8 += d.d0 * t2; acc9 += d.d1 * t2; acc10 += d.d2 * t2; acc11 += d.d3 * t2;
      acc12 += d.d0 * t3; acc13 += d.d1 * t3; acc14 += d.d2 * t3; acc15 += d.d3 * t3;
      if (p.x_bias != 0u) { accx.y += dot(t2[0] + t2[1] + t3[0] + t3[1], vec4f(1.0)); }
    }
  }
  s2q_store(o, ci0, 0, 0u, acc0); s2q_store(o, ci0, 0, 4u, acc1); s2q_store(o, ci0, 0, 8u, acc2); s2q_store(o, ci0, 0, 12u, acc3);
  s2q_store(o, ci0, 1, 0u, acc4); s2q_store(o, ci0, 1, 4u, acc5); s2q_store(o, ci0, 1, 8u, acc6); s2q_store(o, ci0, 1, 12u, acc7);
  if (CPL == 2u) { // with one channel a lane, ci0 + 1 is the next lane's
    s2q_store(o, ci0 + 1u, 0, 0u, acc8); s2q_store(o, ci0 + 1u, 0, 4u, acc9); s2q_store(o, ci0 + 1u, 0, 8u, acc10); s2q_store(o, ci0 + 1u, 0, 12u, acc11);
    s2q_store(o, ci0 + 1u, 1, 0u, acc12); s2q_store(o, ci0 + 1u, 1, 4u, acc13); s2q_store(o, ci0 + 1u, 1, 8u, acc14); s2q_store(o, ci0 + 1u, 1, 12u, acc15);
  }
  row3_store_bias(o, q, lead, accq);
  if (p.x_bias != 0u && o.live && o.co0 == 0u) {
    if (ci0 < p.cgx) { part[chunk * p.part_stride + p.dw_len + o.g * p.cgx + ci0] = accx.x; }
    if (ok1) { part[chunk * p.part_stride + p.dw_len + o.g * p.cgx + ci0 + 1u] = accx.y; }
  }
}

// row3_dw for 1 to 3 input channels a group (an RGB input), where row3_dw's lanes, one per input
// channel, would leave a quad's fourth idle: here a workgroup is one quad, and its lanes own 4
// output channels each (16 in all) × every input channel × 3×3 taps of one pixel chunk. Each lane
// loads its own 4 channels of dy, and the 9 input rows (3 channels × 3 row taps) are loaded 3 a
// lane and quadBroadcast. Two steps a trip, as row3_dw. The seed's conv1.0 weight gradient (3 input
// channels): 4.6-5.5 -> 4.1-4.2 ms at 16 chunks, interleaved, bit-identical (the same sums in the
// same order); the broadcasts take back part of what the idle lane cost.
// acc(3·ci + t): input channel ci, row tap t (mat3x4f: columns kx, rows the lane's 4 channels).
struct Row3 { before: f32, v: vec4f, after: f32 }

// Row r (= 3·ci + t) of the 9, which lane r % 4 loads as its (r / 4)-th; zero past the channels
// or taps, off the image, or where not `live` (a padding step).
fn row3c_load(n: u32, g: u32, r: u32, oy: i32, b0: i32, live: bool) -> Row3 {
  let ci = r / 3u;
  let t = i32(r % 3u);
  let iy = oy * p.stride.x - p.pad.x + t * p.dilation.x;
  let ok = live & (ci < p.cgx) & (t < p.kernel.x) & (iy >= 0) & (iy < p.in_size.x);
  let row = (n * p.c_x + g * p.cgx + min(ci, p.cgx - 1u)) * u32(p.in_size.x * p.in_size.y) + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y);
  return Row3(at1(row, ok, b0 - 1), at4(row, ok, b0), at1(row, ok, b0 + 4));
}

fn row3c_store(chunk: u32, co: vec4u, ok: vec4<bool>, ci: u32, t: i32, m: mat3x4f) {
  if (ci >= p.cgx || t >= p.kernel.x) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (ok[j]) {
      for (var u = 0; u < 3; u++) { part[part_at(chunk, co[j], ci, t, u)] = m[u][j]; }
    }
  }
}

@compute @workgroup_size(4)
fn row3c_dw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let q = sl & 3u;
  // Workgroups: 16-channel block fastest, then group, chunk.
  let blk = wg % p.blocks;
  let g = (wg / p.blocks) % p.groups;
  let chunk = wg / (p.groups * p.blocks);
  let c0 = 16u * blk + 4u * q;
  let cols = u32(p.out_size.y) / 4u;
  var acc0 = mat3x4f(); var acc1 = mat3x4f(); var acc2 = mat3x4f();
  var acc3 = mat3x4f(); var acc4 = mat3x4f(); var acc5 = mat3x4f();
  var acc6 = mat3x4f(); var acc7 = mat3x4f(); var acc8 = mat3x4f();
  var accb = vec4f();
  let s1 = min(p.steps, (chunk + 1u) * p.chunk_steps);
  for (var s = chunk * p.chunk_steps; s < s1; s += 2u) {
    {
      let b0 = i32(s % cols) * 4;
      let oy = i32((s / cols) % u32(p.out_size.x));
      let n = s / (cols * u32(p.out_size.x));
      let own = dy_rows(n, g, c0, u32(oy * p.out_size.y + b0));
      let d = transpose(own);
      let l0 = row3c_load(n, g, q, oy, b0, true);
      let l1 = row3c_load(n, g, q + 4u, oy, b0, true);
      let l2 = row3c_load(n, g, q + 8u, oy, b0, true);
      acc0 += d * taps3(quadBroadcast(l0.before, 0u), quadBroadcast(l0.v, 0u), quadBroadcast(l0.after, 0u));
      acc1 += d * taps3(quadBroadcast(l0.before, 1u), quadBroadcast(l0.v, 1u), quadBroadcast(l0.after, 1u));
      acc2 += d * taps3(quadBroadcast(l0.before, 2u), quadBroadcast(l0.v, 2u), quadBroadcast(l0.after, 2u));
      acc3 += d * taps3(quadBroadcast(l0.before, 3u), quadBroadcast(l0.v, 3u), quadBroadcast(l0.after, 3u));
      acc4 += d * taps3(quadBroadcast(l1.before, 0u), quadBroadcast(l1.v, 0u), quadBroadcast(l1.after, 0u));
      acc5 += d * taps3(quadBroadcast(l1.before, 1u), quadBroadcast(l1.v, 1u), quadBroadcast(l1.after, 1u));
      acc6 += d * taps3(quadBroadcast(l1.before, 2u), quadBroadcast(l1.v, 2u), quadBroadcast(l1.after, 2u));
      acc7 += d * taps3(quadBroadcast(l1.before, 3u), quadBroadcast(l1.v, 3u), quadBroadcast(l1.after, 3u));
      acc8 += d * taps3(quadBroadcast(l2.before, 0u), quadBroadcast(l2.v, 0u), quadBroadcast(l2.after, 0u));
      accb += pixel_sums(own);
    }
    {
      let live = s + 1u < s1;
      let sn = min(s + 1u, s1 - 1u);
      let b0 = i32(sn % cols) * 4;
      let oy = i32((sn / cols) % u32(p.out_size.x));
      let n = sn / (cols * u32(p.out_size.x));
      let own0 = dy_rows(n, g, c0, u32(oy * p.out_size.y + b0));
      let z = vec4f(0.0);
      let own = mat4x4f(select(z, own0[0], live), select(z, own0[1], live), select(z, own0[2], live), select(z, own0[3], live));
      let d = transpose(own);
      let l0 = row3c_load(n, g, q, oy, b0, live);
      let l1 = row3c_load(n, g, q + 4u, oy, b0, live);
      let l2 = row3c_load(n, g, q + 8u, oy, b0, live);
      acc0 += d * taps3(quadBroadcast(l0.before, 0u), quadBroadcast(l0.v, 0u), quadBroadcast(l0.after, 0u));
      acc1 += d * taps3(quadBroadcast(l0.before, 1u), quadBroadcast(l0.v, 1u), quadBroadcast(l0.after, 1u));
      acc2 += d * taps3(quadBroadcast(l0.before, 2u), quadBroadcast(l0.v, 2u), quadBroadcast(l0.after, 2u));
      acc3 += d * taps3(quadBroadcast(l0.before, 3u), quadBroadcast(l0.v, 3u), quadBroadcast(l0.after, 3u));
      acc4 += d * taps3(quadBroadcast(l1.before, 0u), quadBroadcast(l1.v, 0u), quadBroadcast(l1.after, 0u));
      acc5 += d * taps3(quadBroadcast(l1.before, 1u), quadBroadcast(l1.v, 1u), quadBroadcast(l1.after, 1u));
      acc6 += d * taps3(quadBroadcast(l1.before, 2u), quadBroadcast(l1.v, 2u), quadBroadcast(l1.after, 2u));
      acc7 += d * taps3(quadBroadcast(l1.before, 3u), quadBroadcast(l1.v, 3u), quadBroadcast(l1.after, 3u));
      acc8 += d * taps3(quadBroadcast(l2.before, 0u), quadBroadcast(l2.v, 0u), quadBroadcast(l2.after, 0u));
      accb += pixel_sums(own);
    }
  }
  let co = vec4u(c0) + vec4u(0u, 1u, 2u, 3u);
  let ok = co < vec4u(p.og);
  let cg = co + vec4u(g * p.og);
  row3c_store(chunk, cg, ok, 0u, 0, acc0); row3c_store(chunk, cg, ok, 0u, 1, acc1); row3c_store(chunk, cg, ok, 0u, 2, acc2);
  row3c_store(chunk, cg, ok, 1u, 0, acc3); row3c_store(chunk, cg, ok, 1u, 1, acc4); row3c_store(chunk, cg, ok, 1u, 2, acc5);
  row3c_store(chunk, cg, ok, 2u, 0, acc6); row3c_store(chunk, cg, ok, 2u, 1, acc7); row3c_store(chunk, cg, ok, 2u, 2, acc8);
  if (p.has_bias != 0u) {
    for (var j = 0u; j < 4u; j++) {
      if (ok[j]) { part[chunk * p.part_stride + p.dw_len + cg[j]] = accb[j]; }
    }
  }
}
