// Transposed 2-D convolution (PyTorch's ConvTranspose2d), gather form: each output pixel sums the
// input pixels whose scattered kernel window covers it. The same kernel is Conv2d's input gradient.

// (struct Conv, p, x, w [c_in, c_out, kh, kw], bias and y come from conv_common.wgsl)

// y[n,co,oy,ox] = bias[co] + sum x[n,ci,iy,ix] * w[ci,co,ky,kx] over oy = iy*s - p + ky (same in x).
// For a given oy only ky ≡ (oy + p) mod s can hit a whole iy, so ky steps by s from there: the
// zero-inserted rows of the textbook definition are never visited, and nothing is read out of range.
// Register-blocked: each invocation computes 4 output channels × 4 output columns that share a
// residue mod s (ox = r + s·m for 4 consecutive m). Those columns use the same kx taps and read 4
// consecutive input columns, so each weight serves 4 pixels and each input value 4 channels.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let sx = u32(p.stride.y);
  let mblocks = ((u32(p.out_size.y) + sx - 1u) / sx + 3u) / 4u;
  let cblocks = (p.c_out + 3u) / 4u;
  let per_row = sx * mblocks;
  if (i >= p.batch * cblocks * u32(p.out_size.x) * per_row) { return; }
  let m0 = i32(i % mblocks) * 4;
  let r = i32((i / mblocks) % sx);
  let oy = i32((i / per_row) % u32(p.out_size.x));
  let co0 = ((i / (per_row * u32(p.out_size.x))) % cblocks) * 4u;
  let n = i / (per_row * u32(p.out_size.x) * cblocks);
  let ox0 = r + p.stride.y * m0;
  let ihw = u32(p.in_size.x * p.in_size.y);
  let khw = u32(p.kernel.x * p.kernel.y);
  let co = out_channels(co0);
  let b = bias4(co);
  var acc0 = b;
  var acc1 = b;
  var acc2 = b;
  var acc3 = b;
  let ty = oy + p.pad.x;  // >= 0 since oy, pad >= 0
  let tx = ox0 + p.pad.y;
  for (var ci = 0u; ci < p.c_in; ci++) {
    let xbase = (n * p.c_in + ci) * ihw;
    let wb = (ci * p.c_out + co) * khw;
    for (var ky = ty % p.stride.x; ky < p.kernel.x; ky += p.stride.x) {
      let iy = (ty - ky) / p.stride.x;
      if (iy < 0 || iy >= p.in_size.x) { continue; }
      let row = xbase + u32(iy * p.in_size.y);
      for (var kx = tx % p.stride.y; kx < p.kernel.y; kx += p.stride.y) {
        let tap = u32(ky * p.kernel.y + kx);
        let wv = vec4f(w[wb.x + tap], w[wb.y + tap], w[wb.z + tap], w[wb.w + tap]);
        let ix = (tx - kx) / p.stride.y; // the column for m0; m0 + j reads ix + j
        acc0 += wv * load_x(row, ix);
        acc1 += wv * load_x(row, ix + 1);
        acc2 += wv * load_x(row, ix + 2);
        acc3 += wv * load_x(row, ix + 3);
      }
    }
  }
  store_y(n, co0, oy, ox0, acc0);
  store_y(n, co0, oy, ox0 + p.stride.y, acc1);
  store_y(n, co0, oy, ox0 + 2 * p.stride.y, acc2);
  store_y(n, co0, oy, ox0 + 3 * p.stride.y, acc3);
}
