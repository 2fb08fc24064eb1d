// Builds a training batch on the GPU: picks records of the resident dataset by a GPU-side order
// list, scales their bytes to floats and copies their labels. The dataset never leaves the GPU
// after its one upload.

struct Gather {
  batch: u32,
  record_size: u32,  // bytes per record (C*H*W), also floats per image
  base: u32,         // position of this batch's first record in `order`
  order_len: u32,    // positions wrap around modulo this
  divisor: f32,      // x = byte / divisor + shift (src/data/range.ts)
  shift: f32,
}

@group(0) @binding(0) var<uniform> p: Gather;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;  // the dataset's bytes, 4 per word
@group(0) @binding(2) var<storage, read> order: array<u32>;   // record index per position
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<u32>;  // one per record
@group(0) @binding(5) var<storage, read_write> y_labels: array<u32>; // one per batch row

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.batch * p.record_size) { return; }
  let b = i / p.record_size;
  let record = order[(p.base + b) % p.order_len];
  let at = record * p.record_size + i % p.record_size;
  let byte = (pixels[at / 4u] >> (8u * (at % 4u))) & 0xffu;
  x[i] = f32(byte) / p.divisor + p.shift;
  if (i % p.record_size == 0u) { y_labels[b] = labels[record]; }
}

// A dataset word's 4 bytes, scaled into the data range.
fn unpack(word: u32) -> vec4f {
  let bytes = vec4f(f32(word & 0xffu), f32((word >> 8u) & 0xffu), f32((word >> 16u) & 0xffu), f32(word >> 24u));
  return bytes / p.divisor + p.shift;
}

// The same for records whose size is a multiple of 4 (every image with an even width): one
// invocation per dataset word, so each byte-word and order entry is loaded once, not four times.
@group(0) @binding(6) var<storage, read_write> x4: array<vec4f>;

@compute @workgroup_size(WG)
fn main4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let words = p.record_size / 4u;
  if (i >= p.batch * words) { return; }
  let b = i / words;
  let record = order[(p.base + b) % p.order_len];
  x4[i] = unpack(pixels[record * words + i % words]);
  if (i % words == 0u) { y_labels[b] = labels[record]; }
}

// The same for records whose size is a multiple of 16 (CIFAR's 3072 bytes, MNIST's 784): four
// dataset words an invocation, one aligned vec4 load, and the record looked up once for all four.
// On a software adapter the per-invocation cost was most of main4 (the seed's batch of 32: 0.61 ->
// 0.25 ms).
@group(0) @binding(7) var<storage, read> pixels4: array<vec4u>;

@compute @workgroup_size(WG)
fn main16(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  let quads = p.record_size / 16u;
  if (i >= p.batch * quads) { return; }
  let b = i / quads;
  let record = order[(p.base + b) % p.order_len];
  let words = pixels4[record * quads + i % quads];
  x4[4u * i] = unpack(words.x);
  x4[4u * i + 1u] = unpack(words.y);
  x4[4u * i + 2u] = unpack(words.z);
  x4[4u * i + 3u] = unpack(words.w);
  if (i % quads == 0u) { y_labels[b] = labels[record]; }
}
