// BatchNorm2d (PyTorch semantics): per channel c, statistics over the N·H·W values x[n, c, :, :].
// Training: y = (x − mean)·invstd·γ + β with the batch mean and biased variance, invstd = 1/√(var + eps);
// running_mean/var move towards the batch mean and the *unbiased* variance by `momentum`.
// Evaluation: the same with the running statistics.
//
// Reductions are deterministic and parallel for few channels with many values each: a channel's M
// values (in n, h, w order) are dealt into `parts` fixed interleaved parts (part k: values k, k + K,
// k + 2K, …, so neighbouring invocations read neighbouring addresses); each invocation reduces one
// part (two passes over it: mean, then squared deviations), and one invocation per channel merges
// the parts in order with Chan et al.'s pairwise update, which never forms E[x²] − E[x]².
//
// `saved` holds 4 floats per channel: mean and invstd (written by forward), then mean(dy) and
// mean(dy·x̂) (written by backward for its last pass).

struct BatchNorm {
  channels: u32,
  plane: u32,     // H * W
  count: u32,     // values per channel: M = N * H * W
  parts: u32,     // K, parts per channel (K ≤ M, so none is empty)
  total: u32,     // N * C * H * W
  affine: u32,    // γ and β are bound (else γ = 1, β = 0)
  eps: f32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> p: BatchNorm;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;          // γ [C]
@group(0) @binding(4) var<storage, read> bias: array<f32>;            // β [C]
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;   // [C · parts · 2]
@group(0) @binding(6) var<storage, read> partial_in: array<f32>;
@group(0) @binding(7) var<storage, read_write> saved: array<f32>;     // [C · 4]
@group(0) @binding(8) var<storage, read> saved_in: array<f32>;
@group(0) @binding(9) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(10) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(11) var<storage, read> g: array<f32>;              // gradient w.r.t. y
@group(0) @binding(12) var<storage, read_write> dx: array<f32>;
@group(0) @binding(13) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(14) var<storage, read_write> dbias: array<f32>;

// How many of a channel's values part k holds: those j < M with j ≡ k (mod K).
fn part_size(k: u32) -> u32 { return (p.count - k + p.parts - 1u) / p.parts; }

// Where the j-th value of channel c (in n, h, w order) lives in NCHW.
fn at(c: u32, j: u32) -> u32 {
  return ((j / p.plane) * p.channels + c) * p.plane + j % p.plane;
}

// Per part: its mean and the sum of squared deviations from it (M2).
@compute @workgroup_size(WG)
fn stats_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.channels * p.parts) { return; }
  let c = t / p.parts;
  let k = t % p.parts;
  var sum = 0.0;
  for (var j = k; j < p.count; j += p.parts) { sum += x[at(c, j)]; }
  let mean = sum / f32(part_size(k));
  var m2 = 0.0;
  for (var j = k; j < p.count; j += p.parts) { let d = x[at(c, j)] - mean; m2 += d * d; }
  partial[2u * t] = mean;
  partial[2u * t + 1u] = m2;
}

// Per channel: merges its parts in order, saves mean and invstd, and updates the running statistics.
@compute @workgroup_size(WG)
fn stats_finish(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_id(gid, nwg);
  if (c >= p.channels) { return; }
  var n = 0u;
  var mean = 0.0;
  var m2 = 0.0;
  for (var k = 0u; k < p.parts; k++) {
    let nb = part_size(k);
    let at_k = 2u * (c * p.parts + k);
    let d = partial_in[at_k] - mean;
    let n_ab = n + nb;
    let wb = f32(nb) / f32(n_ab);
    mean += d * wb;
    m2 += partial_in[at_k + 1u] + d * d * f32(n) * wb;
    n = n_ab;
  }
  let var_biased = m2 / f32(p.count);
  saved[4u * c] = mean;
  saved[4u * c + 1u] = 1.0 / sqrt(var_biased + p.eps);
  let m = p.momentum;
  running_mean[c] = (1.0 - m) * running_mean[c] + m * mean;
  running_var[c] = (1.0 - m) * running_var[c] + m * (m2 / f32(p.count - 1u));
}

fn gamma(c: u32) -> f32 { return select(1.0, weight[c], p.affine != 0u); }
fn beta(c: u32) -> f32 { return select(0.0, bias[c], p.affine != 0u); }

@compute @workgroup_size(WG)
fn normalize_train(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.total) { return; }
  let c = (i / p.plane) % p.channels;
  y[i] = (x[i] - saved_in[4u * c]) * saved_in[4u * c + 1u] * gamma(c) + beta(c);
}

@compute @workgroup_size(WG)
fn normalize_eval(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.total) { return; }
  let c = (i / p.plane) % p.channels;
  y[i] = (x[i] - running_mean[c]) * (1.0 / sqrt(running_var[c] + p.eps)) * gamma(c) + beta(c);
}

// Backward, per part: Σ dy and Σ dy·(x − mean).
@compute @workgroup_size(WG)
fn grad_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.channels * p.parts) { return; }
  let c = t / p.parts;
  let mean = saved_in[4u * c];
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var j = t % p.parts; j < p.count; j += p.parts) {
    let a = at(c, j);
    sdy += g[a];
    sdyx += g[a] * (x[a] - mean);
  }
  partial[2u * t] = sdy;
  partial[2u * t + 1u] = sdyx;
}

// Per channel, the part sums in order: (Σ dy, Σ dy·x̂) = (dβ, dγ).
fn grad_sums(c: u32) -> vec2f {
  var s = vec2f(0.0);
  for (var k = 0u; k < p.parts; k++) {
    let at_k = 2u * (c * p.parts + k);
    s += vec2f(partial_in[at_k], partial_in[at_k + 1u]);
  }
  return vec2f(s.x, s.y * saved[4u * c + 1u]);
}

fn save_grad_means(c: u32, s: vec2f) {
  saved[4u * c + 2u] = s.x / f32(p.count);
  saved[4u * c + 3u] = s.y / f32(p.count);
}

@compute @workgroup_size(WG)
fn grad_finish(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_id(gid, nwg);
  if (c >= p.channels) { return; }
  save_grad_means(c, grad_sums(c));
}

@compute @workgroup_size(WG)
fn grad_finish_affine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_id(gid, nwg);
  if (c >= p.channels) { return; }
  let s = grad_sums(c);
  save_grad_means(c, s);
  dbias[c] = s.x;
  dweight[c] = s.y;
}

// dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), x̂ = (x − mean)·invstd.
@compute @workgroup_size(WG)
fn grad_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg);
  if (i >= p.total) { return; }
  let c = (i / p.plane) % p.channels;
  let invstd = saved_in[4u * c + 1u];
  let xhat = (x[i] - saved_in[4u * c]) * invstd;
  dx[i] = gamma(c) * invstd * (g[i] - saved_in[4u * c + 2u] - xhat * saved_in[4u * c + 3u]);
}
