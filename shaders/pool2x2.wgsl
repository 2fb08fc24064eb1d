// 2×2 max-pool windows in registers, shared by the vec4 2×2 pool (maxpool2d_k2.wgsl) and the
// convolutions that pool as they store, or route an input gradient through a pool as they store
// (conv_igemm_row3.wgsl): so both pick the same maximum and argmax, and route the same way.

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

// window() for 4 channels at once (component k: channel k): a, b the window's top row, c, d its
// bottom row — the same comparisons in the same order, so per channel the same maximum and argmax.
// A conv's register tile holds a pixel's channels as one vector, so pooling this way needs no
// transposes and no per-channel loop (the seed's conv1.0 forward 7.5-7.7 -> 6.6-6.7 ms).
fn is_nan4(v: vec4f) -> vec4<bool> { return (bitcast<vec4u>(v) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u); }
fn better4(v: vec4f, best: vec4f) -> vec4<bool> { return (v > best) | (is_nan4(v) & !is_nan4(best)); }

struct Best4 { v: vec4f, at: vec4i }

fn window4(a: vec4f, b: vec4f, c: vec4f, d: vec4f, at: i32, w: i32) -> Best4 {
  var v = a;
  var i = vec4i(at);
  let c1 = better4(b, v);
  v = select(v, b, c1);
  i = select(i, vec4i(at + 1), c1);
  let c2 = better4(c, v);
  v = select(v, c, c2);
  i = select(i, vec4i(at + w), c2);
  let c3 = better4(d, v);
  return Best4(select(v, d, c3), select(i, vec4i(at + w + 1), c3));
}

// The gradient dy of 4 side-by-side windows (argmaxes a: iy·W + ix within the plane) routed to the
// 2 × 8 input pixels under them, whose top-left pixel is `base` in a plane of width w: the top
// row's 8 values are [0], [1], the bottom row's [2], [3]. The windows do not overlap, so each pixel takes its one window's
// gradient where it was the argmax and 0 elsewhere: written directly, no gather, no atomics.
fn route2x2(dy: vec4f, a: vec4i, base: i32, w: i32) -> array<vec4f, 4> {
  let b = base + w;
  return array<vec4f, 4>(
    vec4f(select(0.0, dy.x, a.x == base), select(0.0, dy.x, a.x == base + 1), select(0.0, dy.y, a.y == base + 2), select(0.0, dy.y, a.y == base + 3)),
    vec4f(select(0.0, dy.z, a.z == base + 4), select(0.0, dy.z, a.z == base + 5), select(0.0, dy.w, a.w == base + 6), select(0.0, dy.w, a.w == base + 7)),
    vec4f(select(0.0, dy.x, a.x == b), select(0.0, dy.x, a.x == b + 1), select(0.0, dy.y, a.y == b + 2), select(0.0, dy.y, a.y == b + 3)),
    vec4f(select(0.0, dy.z, a.z == b + 4), select(0.0, dy.z, a.z == b + 5), select(0.0, dy.w, a.w == b + 6), select(0.0, dy.w, a.w == b + 7)));
}
