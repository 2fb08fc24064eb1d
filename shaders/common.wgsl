// Prepended to every kernel. WG is set from the TypeScript constant that also sizes the dispatch.
override WG: u32 = 64;

// Dispatches too large for one dimension are folded into y and z (at most 65,535 workgroups each);
// this undoes the fold so every kernel sees one flat invocation index.
fn flat_id(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + (gid.y + gid.z * nwg.y) * nwg.x * WG;
}

// WGSL lets compilers assume floats are never NaN, so `v != v` may be folded to false. The bit
// pattern test cannot be, and keeps NaN propagation (ReLU(NaN) = NaN, as PyTorch) on every backend.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}
