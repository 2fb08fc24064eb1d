// The non-finite guard. Each step records in its status slot whether its loss, a gradient or an
// updated parameter is NaN or ±inf (by bit pattern: compilers may fold `x != x` away), and the
// first element at fault. The optimizer skips a flagged step, and a step that corrupted the
// parameters anyway is undone from a snapshot taken before it, so the weights on the GPU are always
// the last good ones. The status ring is read back with the loss ring: no extra synchronisation.

struct Guard {
  count: u32,        // elements to check
  status_index: u32, // this step's slot ×2 in `status`: [code bits, first bad element]
  code: u32,         // the bit this check sets: 1 loss, 2 gradient, 4 parameter
  sticky: u32,       // 1: a flagged step halts all later updates (stop); 0: only itself (skip)
  offset: u32,       // first element of `values` to check (the loss check looks at this step's ring slot)
  also: u32,         // 1: this save also opens the step's slot; 2: this restore also settles the halt
  n: vec3u,          // save and restore: vec4s of each of the up to three tensors copied (0: none)
}

@group(0) @binding(0) var<uniform> p: Guard;
@group(0) @binding(1) var<storage, read_write> status: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> halt: array<atomic<u32>>; // [0]: set once a stop-mode step failed
@group(0) @binding(3) var<storage, read> values: array<u32>;             // f32 bits

fn non_finite(bits: u32) -> bool { return (bits & 0x7f800000u) == 0x7f800000u; }

// Flags the step when any of `values` is not finite, keeping the smallest index found.
@compute @workgroup_size(WG)
fn check(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.count || !non_finite(values[p.offset + i])) { return; }
  atomicOr(&status[p.status_index], p.code);
  atomicMin(&status[p.status_index + 1u], i);
}

// Opens this step's slot: no flags yet, no bad element. Done by invocation 0 of the step's first
// save (`also` bit 1): one dispatch fewer than a pass of its own, and the slot is open before
// anything can flag it, since every check comes after the saves.
fn open_slot(i: u32) {
  if (i != 0u || (p.also & 1u) == 0u) { return; }
  atomicStore(&status[p.status_index], 0u);
  atomicStore(&status[p.status_index + 1u], 0xffffffffu);
}

// Last in the step: a flagged step in stop mode halts every later update. Done by invocation 0 of
// the step's last restore (`also` bit 2). The other invocations of that restore may see the halt
// word before or after it is set; either way they restore, since it is set only when the status
// they also read is nonzero.
fn settle(i: u32) {
  if (i != 0u || (p.also & 2u) == 0u) { return; }
  if (p.sticky != 0u && atomicLoad(&status[p.status_index]) != 0u) { atomicStore(&halt[0], 1u); }
}

// The same check four words an invocation, for counts that are multiples of 4 (the flat parameter
// and optimizer-state buffers; src/ops/guard.ts picks it): on software adapters per-invocation cost
// and scalar gathers dominate passes this small, and the status word is then touched once per 4
// elements. Same results as the scalar entry.
@group(0) @binding(4) var<storage, read> values4: array<vec4u>;

@compute @workgroup_size(WG)
fn check4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.count / 4u) { return; }
  let bad = (values4[i] & vec4u(0x7f800000u)) == vec4u(0x7f800000u);
  if (!any(bad)) { return; }
  let first = select(select(select(3u, 2u, bad[2]), 1u, bad[1]), 0u, bad[0]);
  atomicOr(&status[p.status_index], p.code);
  atomicMin(&status[p.status_index + 1u], 4u * i + first);
}

// Snapshots and restores copy up to three tensors a dispatch — the parameters and the optimizer's
// state (Adam's m and v) are three flat buffers of one length — as vec4s (below): s0..s2 to
// d0..d2, n vec4s each (a missing one binds placeholders, n 0). Three pairs, the status and the
// halt word are 8 storage buffers, WebGPU's default limit per stage. The host lays the flat buffers
// out in whole vec4s (PARAM_ALIGN), and checks.
@group(0) @binding(5) var<storage, read> s0: array<vec4u>;
@group(0) @binding(6) var<storage, read> s1: array<vec4u>;
@group(0) @binding(7) var<storage, read> s2: array<vec4u>;
@group(0) @binding(8) var<storage, read_write> d0: array<vec4u>;
@group(0) @binding(9) var<storage, read_write> d1: array<vec4u>;
@group(0) @binding(10) var<storage, read_write> d2: array<vec4u>;

// Grid-stride copies, tensor by tensor: invocation i copies vec4s i, i + s, i + 2s... of each, s being
// the invocations (a sixteenth of the vec4s). On a software adapter the per-workgroup cost was most
// of these passes: the seed's restore, which copies nothing in a good step, took 0.22 ms as 23
// workgroups and 0.075 ms as 6.
fn copies() -> u32 { return (p.n.x + p.n.y + p.n.z + 15u) / 16u; }
fn copy_all(i: u32) {
  let s = copies();
  for (var j = i; j < p.n.x; j += s) { d0[j] = s0[j]; }
  for (var j = i; j < p.n.y; j += s) { d1[j] = s1[j]; }
  for (var j = i; j < p.n.z; j += s) { d2[j] = s2[j]; }
}

// Snapshot before the step: copies the live state (s) to the snapshot (d) unless a stop-mode
// failure already froze the state.
@compute @workgroup_size(WG)
fn save(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  open_slot(i);
  if (i >= copies() || atomicLoad(&halt[0]) != 0u) { return; }
  copy_all(i);
}

// After the step: puts the snapshot (s) back into the live state (d) when this step was flagged or
// the run is halted, so nothing non-finite survives a step.
@compute @workgroup_size(WG)
fn restore(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  settle(i);
  if (i >= copies() || (atomicLoad(&status[p.status_index]) == 0u && atomicLoad(&halt[0]) == 0u)) { return; }
  copy_all(i);
}
