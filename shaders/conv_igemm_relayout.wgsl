// Lays a convolution's weights out again for the implicit-GEMM kernels: per class (see
// conv_igemm_common.wgsl) as [group][ci][t][u][co], output channels fastest and padded with zeros to
// the kernel's channel block, input channels padded with zeros to a multiple of 4. Then 4 output
// channels are one aligned vec4, and a tap's rows for 4 input channels are a fixed stride apart.
// Works for conv2d weights [out, in/groups, kh, kw] and conv_transpose2d weights [in, out/groups,
// kh, kw] alike: only the strides s_co, s_ci, s_g differ. A few thousand floats per step.
// Every channel block (16, 32, a tile's BN) is a multiple of 4, so cop and each class's dst are.

struct Relayout {
  count: u32,     // floats to write: groups × cgx4 × taps.x × taps.y × cop
  cgx: u32,
  cgx4: u32,
  og: u32,
  cop: u32,
  s_co: u32,      // stride in w of an output channel within a group
  s_ci: u32,      // ... of an input channel within a group
  s_g: u32,       // ... of a group
  dst: u32,       // where this class's weights start in wt (floats)
  taps: vec2i,    // the class's taps
  kfirst: vec2i,  // kernel tap of class tap 0
  kstep: vec2i,   // kernel taps per class tap (negative for a flipped axis)
  kernel: vec2i,  // (kh, kw)
}

@group(0) @binding(0) var<uniform> p: Relayout;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wt4: array<vec4f>;

// Four consecutive output channels an invocation, one vec4 store (cop and dst are multiples of 4):
// on a software adapter the index divisions, done once per float, were most of the pass.
@compute @workgroup_size(WG)
fn relayout(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = 4u * flat_id(gid, nwg);
  if (i >= p.count) { return; }
  let co = i % p.cop;
  let rest = i / p.cop;
  let u = i32(rest % u32(p.taps.y));
  let t = i32((rest / u32(p.taps.y)) % u32(p.taps.x));
  let ci = (rest / u32(p.taps.x * p.taps.y)) % p.cgx4;
  let g = rest / (u32(p.taps.x * p.taps.y) * p.cgx4);
  var v = vec4f(0.0);
  if (ci < p.cgx) {
    let k = (p.kfirst + p.kstep * vec2i(t, u));
    let at = g * p.s_g + ci * p.s_ci + u32(k.x * p.kernel.y + k.y);
    for (var j = 0u; j < 4u; j++) {
      if (co + j < p.og) { v[j] = w[at + (co + j) * p.s_co]; }
    }
  }
  wt4[(p.dst + i) / 4u] = v;
}
