// The unpooling store shared by the register-tiled row kernels (row3: a conv's input gradient,
// conv.transposed; s2: a k2 s2 transposed conv's, conv.forward), included after
// conv_igemm_common.wgsl and pool2x2.wgsl. The kernels store 4-channel × 4-column blocks through
// store_block, which is store_row4 unless UNPOOL.

// UNPOOL (an input-gradient pass): the layer before this conv is a 2×2 stride-2
// max pool (and, with ACT_GRAD, the activation before that), and the gradient is carried through
// their backward passes as it is stored: through the activation's backward at the pool's resolution
// (its output there is the pool's output, py4), then routed to each window's argmax (arg4) — the
// maxpool2d_k2 backward_act arithmetic, so the result equals this pass then that one bit for bit.
// y4 is then the gradient at the activation's input, 4× the pixels. A pipeline constant: the
// unpooling store compiles away where it is off.
override UNPOOL: bool = false;
@group(0) @binding(10) var<storage, read> arg4: array<vec4i>;
@group(0) @binding(11) var<storage, read> py4: array<vec4f>;

// A 4-channel × 4-column block (as store_row4 takes it) through the pool's and activation's
// backward: each channel's 4 values are 4 windows, whose 2 × 8 pixels get two vec4s a row.
fn store_unpool4(l: Lane, g: u32, c0: u32, b: i32, m: mat4x4f) {
  if (!l.live || b >= p.grid.y) { return; }
  let plane = u32(p.out_size.x * p.out_size.y);
  let at = ((l.n * p.c_y + g * p.og + c0) * plane + u32(l.a * p.out_size.y + b)) / 4u;
  let w = 2 * p.out_size.y; // the pool's input width
  let row = u32(w) / 4u;
  let first = ((l.n * p.c_y + g * p.og + c0) * 4u * plane + u32(2 * l.a * w + 2 * b)) / 4u;
  let t = transpose(m);
  for (var j = 0u; j < 4u; j++) {
    if (c0 + j < p.og) {
      let k = at + j * (plane / 4u);
      let v = t[j];
      let y = py4[k];
      let d = vec4f(activation_grad(ACT_GRAD, v.x, y.x), activation_grad(ACT_GRAD, v.y, y.y),
        activation_grad(ACT_GRAD, v.z, y.z), activation_grad(ACT_GRAD, v.w, y.w));
      let r = route2x2(d, arg4[k], 2 * l.a * w + 2 * b, w);
      let f = first + j * plane; // 4·plane floats a channel, in vec4s
      y4[f] = r[0];
      y4[f + 1u] = r[1];
      y4[f + row] = r[2];
      y4[f + row + 1u] = r[3];
    }
  }
}

fn store_block(l: Lane, g: u32, c0: u32, b: i32, m: mat4x4f) {
  if (UNPOOL) { store_unpool4(l, g, c0, b, m); } else { store_row4(l, g, c0, b, m); }
}
