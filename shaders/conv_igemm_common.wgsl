// Shared by the implicit-GEMM convolution kernels (conv_igemm_sg.wgsl, _row3, _s2, _tiled),
// prepended to each after common.wgsl: the geometry of one "class" of output pixels, the bindings,
// and the masked stores. NCHW f32; every vec2 is (height, width).
//
// A convolution is one class. A transposed convolution with stride s is s_h·s_w classes, one per
// output residue (oy mod s, ox mod s): within a class only taps congruent to it reach whole input
// pixels, so each class is an ordinary stride-1 correlation over a sub-grid of the output, with its
// own taps. In both cases, for grid position (a, b) and tap (t, u):
//   output pixel (first + ostep·(a, b)),  input pixel (istep·(a, b) + off + tstep·(t, u)),
// and the weights were relaid (conv_igemm_relayout.wgsl) per class as [group][ci][t][u][co], co
// fastest and padded to the channel block, so 4 output channels are one aligned vec4.

struct Igemm {
  batch: u32,
  c_x: u32,       // channels of x (all groups)
  c_y: u32,       // channels of y
  cgx: u32,       // channels of x per group: the reduction runs over these
  cgx4: u32,      // cgx rounded up to 4 (the relaid weights are zero past cgx)
  og: u32,        // channels of y per group
  cop: u32,       // og rounded up to the channel block: length of a relaid weight row
  blocks: u32,    // channel blocks per group
  has_bias: u32,
  w_off: u32,     // where this class's relaid weights start, in vec4s
  lanes: u32,     // batch × grid rows × column blocks (a lane owns one column block of one row)
  in_size: vec2i,
  out_size: vec2i,
  grid: vec2i,    // output positions of this class
  first: vec2i,
  ostep: vec2i,
  istep: vec2i,
  off: vec2i,
  taps: vec2i,
  tstep: vec2i,
}

@group(0) @binding(0) var<uniform> p: Igemm;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4f>;    // the same x, for aligned row loads
@group(0) @binding(3) var<storage, read> wt: array<vec4f>;    // relaid weights
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // [c_y], read when has_bias
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> y4: array<vec4f>;
// With ACT_GRAD (an input-gradient pass fused with the backward of the activation before the layer):
// that activation's output, shaped like y, read where y is written. Placeholders otherwise.
@group(0) @binding(7) var<storage, read> fy: array<f32>;
@group(0) @binding(8) var<storage, read> fy4: array<vec4f>;

// Dispatches are folded into y and z past 65,535 workgroups (see Kernel.grid); this unfolds them.
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + (wid.y + wid.z * nwg.y) * nwg.x;
}

// Where a lane works: image n, grid row a, first grid column b0, and whether it has work at all
// (lanes past the end recompute the last lane's pixels so that every subgroup stays full, and
// store nothing).
struct Lane { n: u32, a: i32, b0: i32, live: bool }

fn lane_of(raw: u32, cols: u32) -> Lane {
  let lane = min(raw, p.lanes - 1u);
  let col_blocks = (u32(p.grid.y) + cols - 1u) / cols;
  let a = (lane / col_blocks) % u32(p.grid.x);
  return Lane(lane / (col_blocks * u32(p.grid.x)), i32(a), i32((lane % col_blocks) * cols), raw < p.lanes);
}

// Channel block `blk` of all groups → (group, first channel within the group).
fn block_of(blk: u32, size: u32) -> vec2u {
  return vec2u(blk / p.blocks, (blk % p.blocks) * size);
}

// The bias of 4 channels (zeros without a bias, or past the group's end).
fn bias4(g: u32, c0: u32) -> vec4f {
  if (p.has_bias == 0u) { return vec4f(0.0); }
  let c = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.og - 1u)) + g * p.og;
  return vec4f(bias[c.x], bias[c.y], bias[c.z], bias[c.w]);
}

// Stores 4 channels (c0..c0+3 of group g) of one output pixel through bias and activation (or, with
// ACT_GRAD, the fused activation backward),
// skipping channels past the group's end and columns past the class grid.
fn store4(l: Lane, g: u32, c0: u32, b: i32, v: vec4f) {
  if (!l.live || b >= p.grid.y) { return; }
  let oy = p.first.x + p.ostep.x * l.a;
  let ox = p.first.y + p.ostep.y * b;
  let plane = u32(p.out_size.x * p.out_size.y);
  let at = (l.n * p.c_y + g * p.og + c0) * plane + u32(oy * p.out_size.y + ox);
  let vb = v + bias4(g, c0);
  for (var j = 0u; j < 4u; j++) {
    if (c0 + j < p.og) {
      let k = at + j * plane;
      if (ACT_GRAD != 0u) { y[k] = activation_grad(ACT_GRAD, vb[j], fy[k]); } else { y[k] = activate(vb[j]); }
    }
  }
}

// Stores a 4-channel × 4-column block (matrix column: output column) as one vec4 per channel:
// for classes whose output columns are contiguous (first 0, step 1) in rows of whole vec4s.
fn store_row4(l: Lane, g: u32, c0: u32, b: i32, m: mat4x4f) {
  if (!l.live || b >= p.grid.y) { return; }
  let oy = p.first.x + p.ostep.x * l.a;
  let plane = u32(p.out_size.x * p.out_size.y);
  let at = ((l.n * p.c_y + g * p.og + c0) * plane + u32(oy * p.out_size.y + b)) / 4u;
  let bv = bias4(g, c0);
  let t = transpose(m);
  for (var j = 0u; j < 4u; j++) {
    if (c0 + j < p.og) {
      let v = t[j] + vec4f(bv[j]);
      let k = at + j * (plane / 4u);
      if (ACT_GRAD != 0u) {
        let f = fy4[k];
        y4[k] = vec4f(activation_grad(ACT_GRAD, v[0], f[0]), activation_grad(ACT_GRAD, v[1], f[1]),
          activation_grad(ACT_GRAD, v[2], f[2]), activation_grad(ACT_GRAD, v[3], f[3]));
      } else {
        y4[k] = vec4f(activate(v.x), activate(v.y), activate(v.z), activate(v.w));
      }
    }
  }
}
