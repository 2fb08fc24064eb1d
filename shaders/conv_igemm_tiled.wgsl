// Implicit GEMM with workgroup-memory tiles: the shape real GPUs want (many workgroups, operands
// staged through shared memory, each thread a small register tile). A workgroup computes BM output
// pixels × BN output channels of one class (see conv_igemm_common.wgsl), stepping through
// K = input channels × taps BK at a time: the 64 threads gather a BM×BK tile of inputs (the
// implicit im2col: clamped and masked) and a BK×BN tile of relaid weights, then each thread
// accumulates TM pixels × 4 channels. Any geometry; tile sizes are pipeline overrides.

override BM: u32 = 64;
override BN: u32 = 32;
override BK: u32 = 16;
override TM: u32 = 8;   // pixels per thread, 4 or 8; each thread owns TM pixels × 4 channels (BM·BN = 256·TM)

var<workgroup> xs: array<f32, BM * BK>;  // [k][pixel]
var<workgroup> ws: array<f32, BK * BN>;  // [k][channel]

@compute @workgroup_size(64)
fn tiled(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let wg = workgroup_index(wid, nwg);
  let nblk = (p.c_y / p.og) * p.blocks;
  let gc = block_of(wg % nblk, BN);
  let m0 = (wg / nblk) * BM;
  let taps = u32(p.taps.x * p.taps.y);
  let kn = p.cgx * taps;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let tm0 = (li / (BN / 4u)) * TM;
  let tn0 = (li % (BN / 4u)) * 4u;
  // Register tile as 4×4 blocks (column: pixel, rows: 4 channels); acc1 holds pixels 4..7 when TM is 8.
  var acc0 = mat4x4f();
  var acc1 = mat4x4f();
  for (var k0 = 0u; k0 < kn; k0 += BK) {
    for (var e = li; e < BM * BK; e += 64u) {
      let k = k0 + e / BM;
      let l = lane_of(m0 + e % BM, 1u);
      let ci = min(k / taps, p.cgx - 1u);
      let t = i32((k % taps) / u32(p.taps.y));
      let u = i32(k % u32(p.taps.y));
      let iy = p.istep.x * l.a + p.off.x + p.tstep.x * t;
      let ix = p.istep.y * l.b0 + p.off.y + p.tstep.y * u;
      let ok = k < kn && iy >= 0 && iy < p.in_size.x && ix >= 0 && ix < p.in_size.y;
      let at = (l.n * p.c_x + gc.x * p.cgx + ci) * ihw + u32(clamp(iy, 0, p.in_size.x - 1) * p.in_size.y + clamp(ix, 0, p.in_size.y - 1));
      xs[e] = select(0.0, x[at], ok);
    }
    for (var e = li; e < BK * BN; e += 64u) {
      let k = k0 + e / BN;
      // Relaid row of (group, ci, t, u) is group·cgx4·taps + k; rows past kn are read as zeros.
      let f = (p.w_off * 4u) + (gc.x * p.cgx4 * taps + min(k, kn - 1u)) * p.cop + gc.y + e % BN;
      ws[e] = select(0.0, wt[f / 4u][f % 4u], k < kn);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let wb = kk * BN + tn0;
      let b = vec4f(ws[wb], ws[wb + 1u], ws[wb + 2u], ws[wb + 3u]);
      let xb = kk * BM + tm0;
      let a = vec4f(xs[xb], xs[xb + 1u], xs[xb + 2u], xs[xb + 3u]);
      acc0 += mat4x4f(b * a.x, b * a.y, b * a.z, b * a.w);
      if (TM == 8u) {
        let a1 = vec4f(xs[xb + 4u], xs[xb + 5u], xs[xb + 6u], xs[xb + 7u]);
        acc1 += mat4x4f(b * a1.x, b * a1.y, b * a1.z, b * a1.w);
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TM; i++) {
    let l = lane_of(m0 + tm0 + i, 1u);
    store4(l, gc.x, gc.y + tn0, l.b0, select(acc0[i % 4u], acc1[i % 4u], i >= 4u));
  }
}
