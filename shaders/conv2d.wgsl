// 2-D convolution (cross-correlation, PyTorch's Conv2d): forward, and the weight and bias gradients.
// Its input gradient is a transposed convolution and lives in conv_transpose2d.wgsl.

// (struct Conv, p, x, w [c_out, c_in / groups, kh, kw], bias and y come from conv_common.wgsl)
@group(0) @binding(5) var<storage, read> g: array<f32>;        // gradient w.r.t. y
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;
@group(0) @binding(7) var<storage, read_write> db: array<f32>;
@group(0) @binding(8) var<storage, read> part: array<f32>;       // per-chunk partial sums
@group(0) @binding(9) var<storage, read_write> total: array<f32>;

// y[n,co,oy,ox] = bias[co] + sum_{c,ky,kx} x[n, grp*gi + c, oy*s-p+ky*d, ox*s-p+kx*d] * w[co,c,ky,kx]
// where grp = co / group_out is co's group and gi = group_in its number of input channels.
// Register-blocked: each invocation computes 4 output channels × 4 neighbouring pixels of a row,
// so each input value loaded serves 4 channels and each weight serves 4 pixels (0.5 loads per
// multiply-add instead of 2). Loads, not arithmetic, bound a direct convolution on most GPUs and
// on SwiftShader especially. Channel indices past c_out are clamped for loading and never stored.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let xblocks = (u32(p.out_size.y) + 3u) / 4u;
  let cblocks = (p.c_out + 3u) / 4u;
  if (i >= p.batch * cblocks * u32(p.out_size.x) * xblocks) { return; }
  let ox0 = i32(i % xblocks) * 4;
  let oy = i32((i / xblocks) % u32(p.out_size.x));
  let co0 = ((i / (xblocks * u32(p.out_size.x))) % cblocks) * 4u;
  let n = i / (xblocks * u32(p.out_size.x) * cblocks);
  let ihw = u32(p.in_size.x * p.in_size.y);
  let khw = u32(p.kernel.x * p.kernel.y);
  let co = out_channels(co0);
  let wstride = p.group_in * khw;
  let xc = n * p.c_in + group_of(co) * p.group_in; // each channel's first x channel
  let b = bias4(co);
  var acc0 = b;
  var acc1 = b;
  var acc2 = b;
  var acc3 = b;
  for (var ci = 0u; ci < p.group_in; ci++) {
    let xbase = (xc + ci) * ihw;
    for (var ky = 0; ky < p.kernel.x; ky++) {
      let iy = oy * p.stride.x - p.pad.x + ky * p.dilation.x;
      if (iy < 0 || iy >= p.in_size.x) { continue; }
      let row = xbase + u32(iy * p.in_size.y);
      for (var kx = 0; kx < p.kernel.y; kx++) {
        let wi = ci * khw + u32(ky * p.kernel.y + kx);
        let wv = vec4f(w[co.x * wstride + wi], w[co.y * wstride + wi], w[co.z * wstride + wi], w[co.w * wstride + wi]);
        let ix = ox0 * p.stride.y - p.pad.y + kx * p.dilation.y;
        acc0 += wv * load_x4(row, ix);
        acc1 += wv * load_x4(row, ix + p.stride.y);
        acc2 += wv * load_x4(row, ix + 2 * p.stride.y);
        acc3 += wv * load_x4(row, ix + 3 * p.stride.y);
      }
    }
  }
  store_y(n, co0, oy, ox0, acc0);
  store_y(n, co0, oy, ox0 + 1, acc1);
  store_y(n, co0, oy, ox0 + 2, acc2);
  store_y(n, co0, oy, ox0 + 3, acc3);
}

// dw[co,c,ky,kx] = sum_{n,oy,ox} g[n,co,oy,ox] * x[n, grp*gi + c, oy*s-p+ky*d, ox*s-p+kx*d]
// (grp, gi as in forward; a transposed convolution's weight gradient is this same sum with x and g
// swapped.) Register-blocked: each invocation owns one tap (ky, kx) for 4 output × 4 input channels
// of a group, so every loaded g serves 4 input channels and every loaded x serves 4 output channels
// (with MIXED_GROUPS each output channel loads its own group's x). There are few such blocks (36 for
// the seed's first layer), so the batch is split into chunks, each summed by its own invocations
// into dw[chunk]; sum_chunks adds them up when there is more than one.
@compute @workgroup_size(WG)
fn grad_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let khw = u32(p.kernel.x * p.kernel.y);
  let iblocks = (p.group_in + 3u) / 4u;
  let oblocks = (p.c_out + 3u) / 4u;
  let blocks = oblocks * iblocks * khw;
  let flat = flat_id(gid, nwg);
  if (flat >= blocks * p.chunks) { return; }
  let chunk = flat / blocks;
  let i = flat % blocks;
  let n0 = chunk * p.chunk_images;
  let n1 = min(p.batch, n0 + p.chunk_images);
  let kx = i32(i % u32(p.kernel.y));
  let ky = i32((i / u32(p.kernel.y)) % u32(p.kernel.x));
  let ci0 = ((i / khw) % iblocks) * 4u;
  let co0 = (i / (khw * iblocks)) * 4u;
  let ci = min(vec4u(ci0, ci0 + 1u, ci0 + 2u, ci0 + 3u), vec4u(p.group_in - 1u));
  let co = out_channels(co0);
  let xc = group_of(co) * p.group_in; // each output channel's first x channel
  let ihw = u32(p.in_size.x * p.in_size.y);
  let ohw = u32(p.out_size.x * p.out_size.y);
  let ky_d = ky * p.dilation.x; // the tap's offset on x
  let kx_d = kx * p.dilation.y;
  // The output rows and columns whose tap (ky, kx) lands inside x: the loops below need no
  // bounds tests, so invocations on the border never diverge from the rest.
  let oy_lo = first_inside(ky_d, p.pad.x, p.stride.x);
  let oy_hi = min(p.out_size.x, last_inside(ky_d, p.pad.x, p.stride.x, p.in_size.x) + 1);
  let ox_lo = first_inside(kx_d, p.pad.y, p.stride.y);
  let ox_hi = min(p.out_size.y, last_inside(kx_d, p.pad.y, p.stride.y, p.in_size.y) + 1);
  // Summed per image, then across images: two short chains instead of one of N·H·W terms keep
  // float32 rounding error near that of a pairwise sum (it mattered at batch 32 on 32×32 images).
  var acc0 = vec4f(0.0); // acc_j[k]: output channel co0 + j, input channel ci0 + k
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var n = n0; n < n1; n++) {
    let xb0 = (n * p.c_in + xc.x + ci) * ihw; // x rows of output channel j: xb_j (all xb0 unless MIXED_GROUPS)
    let xb1 = (n * p.c_in + xc.y + ci) * ihw;
    let xb2 = (n * p.c_in + xc.z + ci) * ihw;
    let xb3 = (n * p.c_in + xc.w + ci) * ihw;
    let gb = (n * p.c_out + co) * ohw;
    var s0 = vec4f(0.0);
    var s1 = vec4f(0.0);
    var s2 = vec4f(0.0);
    var s3 = vec4f(0.0);
    for (var oy = oy_lo; oy < oy_hi; oy++) {
      let iy = oy * p.stride.x - p.pad.x + ky_d;
      for (var ox = ox_lo; ox < ox_hi; ox++) {
        let ix = ox * p.stride.y - p.pad.y + kx_d;
        let xo = u32(iy * p.in_size.y + ix);
        let go = u32(oy * p.out_size.y + ox);
        let xv = vec4f(x[xb0.x + xo], x[xb0.y + xo], x[xb0.z + xo], x[xb0.w + xo]);
        var xv1 = xv;
        var xv2 = xv;
        var xv3 = xv;
        if (MIXED_GROUPS) {
          xv1 = vec4f(x[xb1.x + xo], x[xb1.y + xo], x[xb1.z + xo], x[xb1.w + xo]);
          xv2 = vec4f(x[xb2.x + xo], x[xb2.y + xo], x[xb2.z + xo], x[xb2.w + xo]);
          xv3 = vec4f(x[xb3.x + xo], x[xb3.y + xo], x[xb3.z + xo], x[xb3.w + xo]);
        }
        s0 += g[gb.x + go] * xv;
        s1 += g[gb.y + go] * xv1;
        s2 += g[gb.z + go] * xv2;
        s3 += g[gb.w + go] * xv3;
      }
    }
    acc0 += s0;
    acc1 += s1;
    acc2 += s2;
    acc3 += s3;
  }
  let tap = u32(ky * p.kernel.y + kx);
  let out = chunk * p.c_out * p.group_in * khw;
  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var j = 0u; j < 4u; j++) {
    for (var k = 0u; k < 4u; k++) {
      if (co0 + j < p.c_out && ci0 + k < p.group_in) { dw[out + ((co0 + j) * p.group_in + ci0 + k) * khw + tap] = accs[j][k]; }
    }
  }
}

// The smallest o ≥ 0 with o*s - pad + k ≥ 0, and the largest with o*s - pad + k ≤ size - 1
// (k: the tap's offset, its index times the dilation).
fn first_inside(k: i32, pad: i32, s: i32) -> i32 { return max(0, (pad - k + s - 1) / s); }
fn last_inside(k: i32, pad: i32, s: i32, size: i32) -> i32 {
  let t = size - 1 + pad - k;
  return select(-1, t / s, t >= 0);
}

// db[co] = sum_{n,oy,ox} g[n,co,oy,ox], per chunk of the batch like grad_weight (into db[chunk]).
@compute @workgroup_size(WG)
fn grad_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let flat = flat_id(gid, nwg);
  if (flat >= p.c_out * p.chunks) { return; }
  let chunk = flat / p.c_out;
  let co = flat % p.c_out;
  let ohw = u32(p.out_size.x * p.out_size.y);
  var acc = 0.0;
  for (var n = chunk * p.chunk_images; n < min(p.batch, (chunk + 1u) * p.chunk_images); n++) {
    let base = (n * p.c_out + co) * ohw;
    var plane = 0.0; // per-image partial sums, as in grad_weight
    for (var j = 0u; j < ohw; j++) { plane += g[base + j]; }
    acc += plane;
  }
  db[flat] = acc;
}

// total[i] = sum over chunks of part[chunk][i], in a fixed order (deterministic, no atomics).
@compute @workgroup_size(WG)
fn sum_chunks(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.reduce_len) { return; }
  var acc = 0.0;
  for (var c = 0u; c < p.chunks; c++) { acc += part[c * p.reduce_len + i]; }
  total[i] = acc;
}
