// Dropout (nn.Dropout in training mode): y = x · mask / (1 − p), with the mask drawn from Philox4x32-10
// (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011; the generator of PyTorch's
// CUDA RNG and of JAX's philox option). It is counter-based: a draw is a pure function of
// (key, counter), so the mask depends only on (seed, step, salt, element index) — nothing is stored,
// a resumed run redraws the same mask, and backward recomputes the forward's mask bit for bit.
//
//   key = (seed, salt), counter = (element index / 4, step, 0, 0); element i takes word i % 4.
//   Element i is dropped when that 32-bit word is below `threshold` = round(p · 2^32).
//
// Forward (x → y) and backward (dy → dx) are the same map, so both run `apply`.

struct Dropout {
  count: u32,
  seed: u32,
  step: u32,
  salt: u32,
  threshold: u32, // drop where the draw < threshold
  scale: f32,     // 1 / (1 − p); 0 for p = 1 (then y = x · 0, as PyTorch)
}

@group(0) @binding(0) var<uniform> p: Dropout;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x, or dy for backward
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y, or dx for backward

const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u; // the key schedule's Weyl increments (golden ratio, √3 − 1)
const PHILOX_W1 = 0xBB67AE85u;

// The 64-bit product a·b as (high word, low word). WGSL has no 32×32→64 multiply: the high word
// is assembled from 16-bit halves.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return vec2u(hi, a * b);
}

fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var n = 0u; n < 10u; n++) {
    if (n > 0u) { k += vec2u(PHILOX_W0, PHILOX_W1); }
    let p0 = mulhilo(PHILOX_M0, c.x);
    let p1 = mulhilo(PHILOX_M1, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

// One invocation per 4 elements: one Philox call, one word each.
@compute @workgroup_size(WG)
fn apply(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let quad = flat_id(gid, nwg);
  let first = 4u * quad;
  if (first >= p.count) { return; }
  let r = philox4x32_10(vec4u(quad, p.step, 0u, 0u), vec2u(p.seed, p.salt));
  for (var j = 0u; j < 4u; j++) {
    let i = first + j;
    if (i < p.count) { y[i] = x[i] * select(0.0, p.scale, r[j] >= p.threshold); }
  }
}
