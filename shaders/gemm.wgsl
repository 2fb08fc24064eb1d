// C[M, N] = A[M, K] · B[K, N], all row-major f32. Two kernel families:
//   sg_32x8   register tiles for adapters where loads, not arithmetic, cost (SwiftShader): a lane
//             owns 32 rows × 8 columns of C as 4×4 mat4x4f blocks and steps K 4 at a time with
//             vec4 loads. All lanes of a workgroup own the same 32 rows, so A's rows are loaded once
//             per quad (8 per lane) and quadBroadcast — exact for any subgroup size and any mapping
//             of invocations to lanes. No workgroup memory, no barriers. K and N multiples of 4.
//   tiled     workgroup-memory tiles (the real-GPU shape): 64 threads stage a TBM×TBK tile of A and
//             a TBK×TBN tile of B, then each accumulates a TT×TT register tile. Any sizes.
// Every load is clamped into range and masked; stores are masked.

struct Gemm {
  m: u32,
  n: u32,
  k: u32,
  col_blocks: u32, // workgroups along N
}

@group(0) @binding(0) var<uniform> p: Gemm;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> a4: array<vec4f>;
@group(0) @binding(5) var<storage, read> b4: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> c4: array<vec4f>;

fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + (wid.y + wid.z * nwg.y) * nwg.x;
}

override TBM: u32 = 64;
override TBN: u32 = 64;
override TBK: u32 = 8;
override TT: u32 = 8;   // each thread owns TT × TT of C, TT 4 or 8 (TBM·TBN = 64·TT²)

var<workgroup> at: array<f32, TBM * TBK>; // [k][row]
var<workgroup> bt: array<f32, TBK * TBN>; // [k][col]

@compute @workgroup_size(64)
fn tiled(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let wg = workgroup_index(wid, nwg);
  let m0 = (wg / p.col_blocks) * TBM;
  let n0 = (wg % p.col_blocks) * TBN;
  let tm0 = (li / (TBN / TT)) * TT;
  let tn0 = (li % (TBN / TT)) * TT;
  // The thread's tile as 4×4 blocks (column: row of C, over 4 columns); acc[2r + c] for TT = 8.
  var acc: array<mat4x4f, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += TBK) {
    for (var e = li; e < TBM * TBK; e += 64u) {
      let row = m0 + e % TBM;
      let k = k0 + e / TBM;
      at[e] = select(0.0, a[min(row, p.m - 1u) * p.k + min(k, p.k - 1u)], row < p.m && k < p.k);
    }
    for (var e = li; e < TBK * TBN; e += 64u) {
      let col = n0 + e % TBN;
      let k = k0 + e / TBN;
      bt[e] = select(0.0, b[min(k, p.k - 1u) * p.n + min(col, p.n - 1u)], col < p.n && k < p.k);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TBK; kk++) {
      let ai = kk * TBM + tm0;
      let bi = kk * TBN + tn0;
      let a0 = vec4f(at[ai], at[ai + 1u], at[ai + 2u], at[ai + 3u]);
      let b0 = vec4f(bt[bi], bt[bi + 1u], bt[bi + 2u], bt[bi + 3u]);
      acc[0] += mat4x4f(b0 * a0.x, b0 * a0.y, b0 * a0.z, b0 * a0.w);
      if (TT == 8u) {
        let a1 = vec4f(at[ai + 4u], at[ai + 5u], at[ai + 6u], at[ai + 7u]);
        let b1 = vec4f(bt[bi + 4u], bt[bi + 5u], bt[bi + 6u], bt[bi + 7u]);
        acc[1] += mat4x4f(b1 * a0.x, b1 * a0.y, b1 * a0.z, b1 * a0.w);
        acc[2] += mat4x4f(b0 * a1.x, b0 * a1.y, b0 * a1.z, b0 * a1.w);
        acc[3] += mat4x4f(b1 * a1.x, b1 * a1.y, b1 * a1.z, b1 * a1.w);
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TT; i++) {
    for (var j = 0u; j < TT; j++) {
      let row = m0 + tm0 + i;
      let col = n0 + tn0 + j;
      if (row < p.m && col < p.n) { c[row * p.n + col] = acc[2u * (i / 4u) + j / 4u][i % 4u][j % 4u]; }
    }
  }
}

// ---- subgroup kernels: src/ops/gemm.ts compiles what follows only with `enable subgroups;` ----

override WGX: u32 = 64; // lanes per workgroup (a multiple of 4): 8·WGX columns share 32 rows

// B's rows 4kk..4kk+3 at columns 4·col4.. as matrix columns (clamped: those columns are not stored).
fn b_rows(kk: u32, col4: u32) -> mat4x4f {
  let n4 = p.n / 4u;
  let r = 4u * kk * n4 + min(col4, n4 - 1u);
  return mat4x4f(b4[r], b4[r + n4], b4[r + 2u * n4], b4[r + 3u * n4]);
}

// Block k of sg_32x8's tile (rows 4·(k / 2).., columns 4·(k % 2)..; column i of m is row i).
fn store_32x8(m0: u32, n0: u32, k: u32, m: mat4x4f) {
  let col = n0 + 4u * (k % 2u);
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + 4u * (k / 2u) + i;
    if (row < p.m && col < p.n) { c4[(row * p.n + col) / 4u] = m[i]; }
  }
}

// acc(2·rb + cb): column i is row 4rb + i of the lane's 32, over columns 4cb.. of its 8.
@compute @workgroup_size(WGX)
fn sg_32x8(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sl: u32) {
  let wg = workgroup_index(wid, nwg);
  let m0 = (wg / p.col_blocks) * 32u;
  let n0 = ((wg % p.col_blocks) * WGX + li) * 8u;
  let q = sl & 3u;
  let k4 = p.k / 4u;
  // Lane q loads rows 8q..8q+7 of the 32 (clamped: rows past M are computed, not stored).
  let ra = min(vec4u(m0 + 8u * q) + vec4u(0u, 1u, 2u, 3u), vec4u(p.m - 1u)) * k4;
  let rb = min(vec4u(m0 + 8u * q + 4u) + vec4u(0u, 1u, 2u, 3u), vec4u(p.m - 1u)) * k4;
  var acc0 = mat4x4f(); var acc1 = mat4x4f(); var acc2 = mat4x4f(); var acc3 = mat4x4f();
  var acc4 = mat4x4f(); var acc5 = mat4x4f(); var acc6 = mat4x4f(); var acc7 = mat4x4f();
  var acc8 = mat4x4f(); var acc9 = mat4x4f(); var acc10 = mat4x4f(); var acc11 = mat4x4f();
  var acc12 = mat4x4f(); var acc13 = mat4x4f(); var acc14 = mat4x4f(); var acc15 = mat4x4f();
  for (var kk = 0u; kk < k4; kk++) {
    let o0 = a4[ra.x + kk];
    let o1 = a4[ra.y + kk];
    let o2 = a4[ra.z + kk];
    let o3 = a4[ra.w + kk];
    let o4 = a4[rb.x + kk];
    let o5 = a4[rb.y + kk];
    let o6 = a4[rb.z + kk];
    let o7 = a4[rb.w + kk];
    let b0 = b_rows(kk, n0 / 4u);
    let b1 = b_rows(kk, n0 / 4u + 1u);
    // Rows 4r..4r+3 as matrix columns (each A[row, 4kk..4kk+3]), from lane r / 2.
    let r0 = mat4x4f(quadBroadcast(o0, 0u), quadBroadcast(o1, 0u), quadBroadcast(o2, 0u), quadBroadcast(o3, 0u));
    let r1 = mat4x4f(quadBroadcast(o4, 0u), quadBroadcast(o5, 0u), quadBroadcast(o6, 0u), quadBroadcast(o7, 0u));
    let r2 = mat4x4f(quadBroadcast(o0, 1u), quadBroadcast(o1, 1u), quadBroadcast(o2, 1u), quadBroadcast(o3, 1u));
    let r3 = mat4x4f(quadBroadcast(o4, 1u), quadBroadcast(o5, 1u), quadBroadcast(o6, 1u), quadBroadcast(o7, 1u));
    let r4 = mat4x4f(quadBroadcast(o0, 2u), quadBroadcast(o1, 2u), quadBroadcast(o2, 2u), quadBroadcast(o3, 2u));
    let r5 = mat4x4f(quadBroadcast(o4, 2u), quadBroadcast(o5, 2u), quadBroadcast(o6, 2u), quadBroadcast(o7, 2u));
    let r6 = mat4x4f(quadBroadcast(o0, 3u), quadBroadcast(o1, 3u), quadBroadcast(o2, 3u), quadBroadcast(o3, 3u));
    let r7 = mat4x4f(quadBroadcast(o4, 3u), quadBroadcast(o5, 3u), quadBroadcast(o6, 3u), quadBroadcast(o7, 3u));
    acc0 += b0 * r0; acc1 += b1 * r0; acc2 += b0 * r1; acc3 += b1 * r1;
    acc4 += b0 * r2; acc5 += b1 * r2; acc6 += b0 * r3; acc7 += b1 * r3;
    acc8 += b0 * r4; acc9 += b1 * r4; acc10 += b0 * r5; acc11 += b1 * r5;
    acc12 += b0 * r6; acc13 += b1 * r6; acc14 += b0 * r7; acc15 += b1 * r7;
  }
  store_32x8(m0, n0, 0u, acc0); store_32x8(m0, n0, 1u, acc1);
  store_32x8(m0, n0, 2u, acc2); store_32x8(m0, n0, 3u, acc3);
  store_32x8(m0, n0, 4u, acc4); store_32x8(m0, n0, 5u, acc5);
  store_32x8(m0, n0, 6u, acc6); store_32x8(m0, n0, 7u, acc7);
  store_32x8(m0, n0, 8u, acc8); store_32x8(m0, n0, 9u, acc9);
  store_32x8(m0, n0, 10u, acc10); store_32x8(m0, n0, 11u, acc11);
  store_32x8(m0, n0, 12u, acc12); store_32x8(m0, n0, 13u, acc13);
  store_32x8(m0, n0, 14u, acc14); store_32x8(m0, n0, 15u, acc15);
}
