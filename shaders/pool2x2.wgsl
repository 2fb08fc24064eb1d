// One 2×2 max-pool window, from registers: shared by the vec4 2×2 pool (maxpool2d_k2.wgsl) and the
// convolution that pools as it stores (conv_igemm_row3.wgsl), so the two pick the same maximum and
// the same argmax, bit for bit.

// The first maximum in row-major order wins; a NaN wins and stays (as maxpool2d.wgsl, and PyTorch).
// `|` and `&`, not `||` and `&&`: WGSL's short-circuit operators are control flow, which software
// adapters run as masked branches; the selects below are branch-free for the same reason.
fn better(v: f32, best: f32) -> bool { return (v > best) | (is_nan(v) & !is_nan(best)); }

struct Best { v: f32, at: i32 }

fn window(a: vec2f, b: vec2f, at: i32, w: i32) -> Best {
  var v = a.x;
  var i = at;
  let c1 = better(a.y, v);
  v = select(v, a.y, c1);
  i = select(i, at + 1, c1);
  let c2 = better(b.x, v);
  v = select(v, b.x, c2);
  i = select(i, at + w, c2);
  let c3 = better(b.y, v);
  return Best(select(v, b.y, c3), select(i, at + w + 1, c3));
}
