// 2×2 max pooling with stride 2 and no padding — the pool of almost every convnet — as vec4 loads
// and stores: one invocation per 4 neighbouring outputs of a row reads the 2×8 input pixels under
// them as four vec4s. Loads, not arithmetic, bound a pool, and on software adapters every scalar
// load with a runtime index is an emulated gather, so this cuts the gathers per output 4-fold.
// Same results as maxpool2d.wgsl, bit for bit (max and select do not round). Requires an even input
// height and a width that is a multiple of 8 (src/ops/maxpool2d.ts checks). `Pool`, the uniform, is in
// maxpool2d_common.wgsl; one window's max and argmax, `window`, in pool2x2.wgsl.

@group(0) @binding(0) var<uniform> p: Pool;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> argmax4: array<vec4i>; // iy*W+ix within the plane
@group(0) @binding(4) var<storage, read> arg4: array<vec4i>;
@group(0) @binding(5) var<storage, read> g4: array<vec4f>;            // gradient w.r.t. y
@group(0) @binding(6) var<storage, read_write> dx4: array<vec4f>;
@group(0) @binding(7) var<storage, read> py4: array<vec4f>;           // the pool's output, read by backward_act

struct Block { plane: u32, oy: u32, q: u32, in0: u32, out: u32, at0: i32 }

// Invocation i → its 4 outputs (plane, oy, ox = 4q … 4q+3), the vec4 index of their input rows'
// first pixels (in0; the second row is in0 + W/4), of the outputs, and the first window's argmax index.
fn block_of(i: u32) -> Block {
  let qs = u32(p.out_size.y) / 4u;
  let q = i % qs;
  let oy = (i / qs) % u32(p.out_size.x);
  let plane = i / (qs * u32(p.out_size.x));
  let w = u32(p.in_size.y);
  let in0 = (plane * u32(p.in_size.x) * w + 2u * oy * w) / 4u + 2u * q;
  let out = (plane * u32(p.out_size.x * p.out_size.y) + oy * u32(p.out_size.y)) / 4u + q;
  return Block(plane, oy, q, in0, out, i32(2u * oy * w + 8u * q));
}

fn outputs4() -> u32 { return p.planes * u32(p.out_size.x) * (u32(p.out_size.y) / 4u); }

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= outputs4()) { return; }
  let k = block_of(i);
  let row = u32(p.in_size.y) / 4u;
  let r0a = x4[k.in0];
  let r0b = x4[k.in0 + 1u];
  let r1a = x4[k.in0 + row];
  let r1b = x4[k.in0 + row + 1u];
  let w = p.in_size.y;
  let o0 = window(r0a.xy, r1a.xy, k.at0, w);
  let o1 = window(r0a.zw, r1a.zw, k.at0 + 2, w);
  let o2 = window(r0b.xy, r1b.xy, k.at0 + 4, w);
  let o3 = window(r0b.zw, r1b.zw, k.at0 + 6, w);
  y4[k.out] = vec4f(o0.v, o1.v, o2.v, o3.v);
  argmax4[k.out] = vec4i(o0.at, o1.at, o2.at, o3.at);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= outputs4()) { return; }
  let k = block_of(i);
  let row = u32(p.in_size.y) / 4u;
  let r = route2x2(g4[k.out], arg4[k.out], k.at0, p.in_size.y);
  dx4[k.in0] = r[0];
  dx4[k.in0 + 1u] = r[1];
  dx4[k.in0 + row] = r[2];
  dx4[k.in0 + row + 1u] = r[3];
}

// The same, continued through the activation before the pool (ACT_GRAD). The activation's output
// matters only at the argmax, where it equals the pool's output, so the gradient goes through the
// activation's backward at the pool's resolution first and is then routed (see maxpool2d.wgsl).
@compute @workgroup_size(WG)
fn backward_act(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= outputs4()) { return; }
  let k = block_of(i);
  let row = u32(p.in_size.y) / 4u;
  let v = py4[k.out];
  let d = g4[k.out];
  let dy = vec4f(activation_grad(ACT_GRAD, d.x, v.x), activation_grad(ACT_GRAD, d.y, v.y),
    activation_grad(ACT_GRAD, d.z, v.z), activation_grad(ACT_GRAD, d.w, v.w));
  let r = route2x2(dy, arg4[k.out], k.at0, p.in_size.y);
  dx4[k.in0] = r[0];
  dx4[k.in0 + 1u] = r[1];
  dx4[k.in0 + row] = r[2];
  dx4[k.in0 + row + 1u] = r[3];
}
