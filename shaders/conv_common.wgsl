// Shared by conv2d.wgsl and conv_transpose2d.wgsl (prepended to each): the geometry struct, the
// bindings both read and write, and the padded load / masked store of the register-blocked kernels.
// NCHW f32; every vec2 is (height, width).

struct Conv {
  batch: u32,
  c_in: u32,       // channels of x (the tensor indexed with stride and padding)
  c_out: u32,      // channels of y / g
  has_bias: u32,
  in_size: vec2i,  // spatial size of x
  out_size: vec2i, // spatial size of y / g
  kernel: vec2i,
  stride: vec2i,
  pad: vec2i,
  dilation: vec2i,   // spacing of the kernel taps on x
  tap_step: vec2i,   // stride / gcd(stride, dilation): the taps hitting one transposed-conv output are this far apart
  group_in: u32,     // channels of x per group (c_in / groups)
  group_out: u32,    // channels of y per group (c_out / groups)
  chunk_images: u32, // gradient sums: images per chunk (the batch is split so enough threads run)
  chunks: u32,
  reduce_len: u32,   // sum_chunks: elements per chunk
}

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;     // [c_out], read when has_bias
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// With ACT_GRAD (an input-gradient pass fused with the backward of the activation before the layer):
// that activation's output, shaped like y. Bound to a placeholder otherwise, and never read.
@group(0) @binding(10) var<storage, read> fy: array<f32>;

// Set when a block of 4 output channels can span groups (several groups, group_out not a multiple
// of 4, depthwise for one): each lane then reads x from its own group's channels. Otherwise the four
// channels share one group, so every x value loaded serves all four — the only path compiled then.
override MIXED_GROUPS: bool = false;

// Output channels co0..co0+3, clamped to the last one: loads stay in range, store_y skips the extras.
fn out_channels(co0: u32) -> vec4u {
  return min(vec4u(co0, co0 + 1u, co0 + 2u, co0 + 3u), vec4u(p.c_out - 1u));
}

// The group of each of 4 output channels: one division when they share it (no MIXED_GROUPS).
fn group_of(co: vec4u) -> vec4u {
  if (MIXED_GROUPS) { return co / p.group_out; }
  return vec4u(co.x / p.group_out);
}

// The bias of 4 output channels, or zeros for a convolution without one.
fn bias4(co: vec4u) -> vec4f {
  if (p.has_bias == 0u) { return vec4f(0.0); }
  return vec4f(bias[co.x], bias[co.y], bias[co.z], bias[co.w]);
}

// x at column ix of a row, or the zero padding outside it. Branch-free: the index is clamped into
// the row and the value masked, so neighbouring invocations never diverge on the border.
fn load_x(row: u32, ix: i32) -> f32 {
  let v = x[row + u32(clamp(ix, 0, p.in_size.y - 1))];
  return select(0.0, v, ix >= 0 && ix < p.in_size.y);
}

// Column ix of the x row each of 4 output channels reads (rows[j] for channel j), as load_x. Without
// MIXED_GROUPS the four rows are one row, loaded once.
fn load_x4(rows: vec4u, ix: i32) -> vec4f {
  if (!MIXED_GROUPS) { return vec4f(load_x(rows.x, ix)); }
  let c = u32(clamp(ix, 0, p.in_size.y - 1));
  let v = vec4f(x[rows.x + c], x[rows.y + c], x[rows.z + c], x[rows.w + c]);
  return select(vec4f(0.0), v, ix >= 0 && ix < p.in_size.y);
}

// Writes 4 output channels (co0..co0+3) of one pixel through the fused activation (or, with
// ACT_GRAD, the fused activation backward), skipping channels and columns past the end.
fn store_y(n: u32, co0: u32, oy: i32, ox: i32, v: vec4f) {
  if (ox >= p.out_size.y) { return; }
  let ohw = u32(p.out_size.x * p.out_size.y);
  let at = (n * p.c_out + co0) * ohw + u32(oy * p.out_size.y + ox);
  for (var j = 0u; j < 4u; j++) {
    if (co0 + j < p.c_out) {
      let k = at + j * ohw;
      if (ACT_GRAD != 0u) { y[k] = activation_grad(ACT_GRAD, v[j], fy[k]); } else { y[k] = activate(v[j]); }
    }
  }
}
