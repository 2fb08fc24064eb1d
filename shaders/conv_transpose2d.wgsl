// Transposed 2-D convolution (PyTorch's ConvTranspose2d), gather form: each output pixel sums the
// input pixels whose scattered kernel window covers it. The same kernel is Conv2d's input gradient.

// (struct Conv, p, x, w [c_in, c_out / groups, kh, kw], bias and y come from conv_common.wgsl)

// y[n,co,oy,ox] = bias[co] + sum x[n,ci,iy,ix] * w[ci,c,ky,kx] over the input channels ci of co's
// group (co = grp*group_out + c, ci = grp*group_in + …) and oy = iy*s - p + ky*d (same in x).
// For a given oy only the taps with ky*d ≡ oy + p (mod s) hit a whole iy; they are tap_step =
// s / gcd(s, d) apart, so ky steps by that from the first: the zero-inserted rows of the textbook
// definition are never visited, and nothing is read out of range.
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
  let grp = group_of(co);
  let xc = n * p.c_in + grp * p.group_in;                              // each channel's first x channel
  let wc = (grp * p.group_in * p.group_out + co - grp * p.group_out) * khw; // …and its weights for it
  let b = bias4(co);
  var acc0 = b;
  var acc1 = b;
  var acc2 = b;
  var acc3 = b;
  let ty = oy + p.pad.x;  // >= 0 since oy, pad >= 0
  let tx = ox0 + p.pad.y;
  let ky0 = first_tap(ty, p.stride.x, p.dilation.x, p.tap_step.x, p.kernel.x);
  let kx0 = first_tap(tx, p.stride.y, p.dilation.y, p.tap_step.y, p.kernel.y);
  // The input row and column of the first taps (exact: the taps were chosen so s divides), and how
  // far back each next tap reads: tap_step·d/s rows or columns. No division inside the loops.
  let iy0 = (ty - ky0 * p.dilation.x) / p.stride.x;
  let ix0 = (tx - kx0 * p.dilation.y) / p.stride.y; // the column for m0; m0 + j reads ix + j
  let back = p.tap_step * p.dilation / p.stride;
  for (var ci = 0u; ci < p.group_in; ci++) {
    let xbase = (xc + ci) * ihw;
    let wb = wc + ci * p.group_out * khw;
    var iy = iy0;
    for (var ky = ky0; ky < p.kernel.x; ky += p.tap_step.x) {
      if (iy >= 0 && iy < p.in_size.x) {
        let row = xbase + u32(iy * p.in_size.y);
        var ix = ix0;
        for (var kx = kx0; kx < p.kernel.y; kx += p.tap_step.y) {
          let tap = u32(ky * p.kernel.y + kx);
          let wv = vec4f(w[wb.x + tap], w[wb.y + tap], w[wb.z + tap], w[wb.w + tap]);
          acc0 += wv * load_x4(row, ix);
          acc1 += wv * load_x4(row, ix + 1);
          acc2 += wv * load_x4(row, ix + 2);
          acc3 += wv * load_x4(row, ix + 3);
          ix -= back.y;
        }
      }
      iy -= back.x;
    }
  }
  store_y(n, co0, oy, ox0, acc0);
  store_y(n, co0, oy, ox0 + p.stride.y, acc1);
  store_y(n, co0, oy, ox0 + 2 * p.stride.y, acc2);
  store_y(n, co0, oy, ox0 + 3 * p.stride.y, acc3);
}

// The first tap k (in [0, step)) with t - k*d divisible by s; `none` when no tap ever is (then t is
// not a multiple of gcd(s, d) and the pixel gets only the bias). Taps k + step, k + 2·step… follow.
fn first_tap(t: i32, s: i32, d: i32, step: i32, none: i32) -> i32 {
  if (d == 1) { return t % s; }
  for (var k = 0; k < step; k++) {
    if ((t - k * d) % s == 0) { return k; }
  }
  return none;
}
