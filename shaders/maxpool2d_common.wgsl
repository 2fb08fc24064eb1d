// The uniform both max-pool shaders read (maxpool2d.wgsl, maxpool2d_k2.wgsl): one struct, so the
// vec4 2×2 path and the general one cannot disagree on a field. Every vec2 is (height, width).

struct Pool {
  planes: u32,      // batch * channels
  in_size: vec2i,
  out_size: vec2i,
  kernel: vec2i,
  stride: vec2i,
  pad: vec2i,
}
