// Mean losses fused with their gradient: MSE, L1, BCE (on probabilities) and cross-entropy (on
// logits), against a float target shaped like y or against integer labels, one per row. y is
// [batch, values]; only the first `rows` rows count (a short last batch), the rest get dy = 0.
//
// Two passes, no atomics, fixed summation order (bit-reproducible): the first writes dy and `parts`
// partial sums of the loss; `finish` (one workgroup) adds them up in a fixed order, divides by the
// element (or row) count and writes loss[loss_index] — and, with ACC, the number of rows whose
// prediction equals the label into correct[correct_index].
//
// NaN: WGSL lets compilers assume floats are never NaN, so comparisons, min/max and sign cannot be
// trusted with one. Every place a NaN could be dropped tests bits (is_nan) instead; a NaN in y or
// the target reaches the loss. Values PyTorch refuses (BCE's y outside [0, 1], a label out of
// range) give NaN too, never a finite loss — and a bad label is never used as an index.

override KIND: u32 = 0;   // 0 mse, 1 l1, 2 bce, 3 cross_entropy (LOSS_CODES in src/ops/loss.ts)
override TARGET: u32 = 0; // 0: target_ is a float tensor shaped like y; 1: labels, one u32 per row
override GRAD: bool = true; // write dy (evaluation turns it off and binds no real dy)
override ACC: u32 = 0;    // 0: no accuracy; 1: C = 1 rows are probabilities (y > 0.5); 2: logits (y > 0)

struct Loss {
  total: u32,         // batch × values: the length of y and dy
  values: u32,        // C: values per row (classes for cross-entropy)
  rows: u32,          // valid leading rows this step, 1 ≤ rows ≤ batch
  parts: u32,         // partial sums the first pass writes
  count: u32,         // what the mean divides by: rows × values, or rows for cross-entropy
  loss_index: u32,    // slot of `loss` for this step (the trainer keeps a ring)
  correct_index: u32, // slot of `correct`
  grad_scale: f32,    // d mean / d term: 2/count for MSE, 1/count otherwise (host float64)
}

@group(0) @binding(0) var<uniform> p: Loss;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> target_: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>; // [parts]
@group(0) @binding(6) var<storage, read> partial_in: array<f32>;
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;
@group(0) @binding(8) var<storage, read_write> correct: array<f32>; // counts, exact up to 2^24

// A quiet NaN built from a runtime value, so no compiler can fold it (a NaN constant is a WGSL error).
fn poison(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) | 0x7fc00000u); }

fn is_finite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; }

// A label selects a class (C > 1) or is the binary target itself (C = 1): valid below max(C, 2).
fn label_ok(l: u32) -> bool { return l < max(p.values, 2u); }

// The target of element i: the float target, the one-hot of the row's label, or the label (C = 1).
fn target_at(i: u32) -> f32 {
  if (TARGET == 0u) { return target_[i]; }
  let row = i / p.values;
  let l = labels[row];
  let t = select(select(0.0, 1.0, l == i - row * p.values), f32(l), p.values == 1u);
  return select(poison(t), t, label_ok(l));
}

// PyTorch's max(log(v), -100) for v in [0, 1]. WGSL's log(0) is indeterminate and GPUs may flush
// subnormals, so log never sees either: a v below the smallest normal is scaled by 2^24 (exact)
// and the argument floored at 2^-126. A true subnormal thus gets its exact log (as on a CPU); zero,
// or a subnormal flushed to zero, gets log(2^-126) - 24 ln 2 ≈ -104, clamped to -100 like
// PyTorch's log(0) = -inf. v < 0 (outside BCE's domain) is NaN.
fn log_clamped(v: f32) -> f32 {
  if (is_nan(v) || v < 0.0) { return poison(v); }
  let tiny = v < 0x1p-126f;
  let s = select(v, v * 16777216.0, tiny);
  return max(log(max(s, 0x1p-126f)) - select(0.0, 16.635532333438686, tiny), -100.0); // 24 ln 2
}

// One element's loss term and gradient (before grad_scale) for the element-wise losses.
fn term(v: f32, t: f32) -> vec2f {
  let d = v - t;
  switch KIND {
    case 1u: { return vec2f(abs(d), select(sign(d), d, is_nan(d))); }
    case 2u: {
      let l = (t - 1.0) * log_clamped(1.0 - v) - t * log_clamped(v);
      return vec2f(l, d / max((1.0 - v) * v, 1e-12)); // aten's binary_cross_entropy_backward
    }
    default: { return vec2f(d * d, d); } // mse; grad_scale holds the 2
  }
}

// MSE, L1, BCE: a grid-stride loop, so neighbouring invocations touch neighbouring elements.
@compute @workgroup_size(WG)
fn pointwise(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let part = flat_id(gid, nwg);
  if (part >= p.parts) { return; }
  let valid = p.rows * p.values;
  let end = select(valid, p.total, GRAD); // without dy there is nothing to zero past the valid rows
  var acc = 0.0;
  for (var i = part; i < end; i += p.parts) {
    if (i < valid) {
      let r = term(y[i], target_at(i));
      acc += r.x;
      // With ACT_GRAD, dy continues through the output activation (its backward reads y alone).
      if (GRAD) { dy[i] = activation_grad(ACT_GRAD, p.grad_scale * r.y, y[i]); }
    } else if (GRAD) {
      dy[i] = 0.0;
    }
  }
  partial[part] = acc;
}

// The same as vec4s, for a float target whose rows are whole vec4s (values a multiple of 4, so the
// valid rows end on a vec4 too; src/ops/loss.ts picks this entry then): on software adapters an
// element-wise pass is bound by per-invocation cost and scalar gathers (1.5 → 1.0 ms measured on
// the seed's MSE on SwiftShader). The 4 terms of a vec4 are added in order, so the sum is as fixed
// as the scalar pass's, though rounded differently.
@group(0) @binding(9) var<storage, read> y4: array<vec4f>;
@group(0) @binding(10) var<storage, read> target4: array<vec4f>;
@group(0) @binding(11) var<storage, read_write> dy4: array<vec4f>;

@compute @workgroup_size(WG)
fn pointwise4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let part = flat_id(gid, nwg);
  if (part >= p.parts) { return; }
  let valid = p.rows * p.values / 4u;
  let end = select(valid, p.total / 4u, GRAD);
  var acc = 0.0;
  for (var i = part; i < end; i += p.parts) {
    if (i < valid) {
      let v = y4[i];
      let t = target4[i];
      // Written out per component, not as a loop over v[k]: software adapters keep a vector
      // indexed by a loop variable in memory (0.99 -> 0.79 ms for the seed's MSE + sigmoid
      // gradient). The sum still takes the components in order.
      let r0 = term(v.x, t.x);
      let r1 = term(v.y, t.y);
      let r2 = term(v.z, t.z);
      let r3 = term(v.w, t.w);
      acc += r0.x;
      acc += r1.x;
      acc += r2.x;
      acc += r3.x;
      if (GRAD) {
        dy4[i] = vec4f(activation_grad(ACT_GRAD, p.grad_scale * r0.y, v.x), activation_grad(ACT_GRAD, p.grad_scale * r1.y, v.y),
          activation_grad(ACT_GRAD, p.grad_scale * r2.y, v.z), activation_grad(ACT_GRAD, p.grad_scale * r3.y, v.w));
      }
    } else if (GRAD) {
      dy4[i] = vec4f(0.0);
    }
  }
  partial[part] = acc;
}

// Cross-entropy: one invocation per row of logits. A stable log-softmax (max subtracted); a NaN or
// infinite maximum makes the row's loss and gradient NaN, as in PyTorch (inf - inf), without
// trusting exp or log with a non-finite argument.
@compute @workgroup_size(WG)
fn softmax_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg);
  if (row * p.values >= p.total) { return; }
  let base = row * p.values;
  if (row >= p.rows) {
    if (GRAD) { for (var c = 0u; c < p.values; c++) { dy[base + c] = 0.0; } }
    partial[row] = 0.0;
    return;
  }
  var m = y[base];
  for (var c = 1u; c < p.values; c++) {
    let v = y[base + c];
    if (!is_nan(m) && (is_nan(v) || v > m)) { m = v; }
  }
  let bad = !is_finite(m);
  let mf = select(m, 0.0, bad); // keeps exp and log on finite arguments; the row is NaN anyway
  var s = 0.0;
  for (var c = 0u; c < p.values; c++) { s += exp(y[base + c] - mf); }
  let lse = log(s); // log-sum-exp minus the max
  var l = 0.0;
  var tsum = 1.0;
  var k = 0u;
  if (TARGET == 1u) {
    k = labels[row];
    let ok = k < p.values; // out of range: never an index; the row's loss and gradient are NaN
    l = lse - (y[base + select(0u, k, ok)] - mf);
    if (!ok) { l = poison(l); }
  } else {
    tsum = 0.0;
    for (var c = 0u; c < p.values; c++) {
      let t = target_[base + c];
      tsum += t;
      l += t * (lse - (y[base + c] - mf));
    }
  }
  let row_nan = bad || is_nan(l);
  if (GRAD) {
    for (var c = 0u; c < p.values; c++) {
      let sm = exp(y[base + c] - mf) / s;
      var t: f32;
      if (TARGET == 1u) { t = select(0.0, 1.0, c == k); } else { t = target_[base + c]; }
      let g = p.grad_scale * (sm * tsum - t);
      dy[base + c] = select(g, poison(g), row_nan);
    }
  }
  partial[row] = select(l, poison(l), row_nan);
}

// Whether row r's prediction equals its label: torch.argmax (first maximum wins; a NaN counts as
// the maximum, the first one) for C > 1, a threshold for C = 1.
fn row_correct(r: u32) -> bool {
  let base = r * p.values;
  let l = labels[r];
  if (p.values == 1u) {
    let v = y[base];
    let pred = select(0u, 1u, !is_nan(v) && v > select(0.0, 0.5, ACC == 1u));
    return pred == l;
  }
  var best = y[base];
  var arg = 0u;
  for (var c = 1u; c < p.values; c++) {
    let v = y[base + c];
    if (!is_nan(best) && (is_nan(v) || v > best)) { best = v; arg = c; }
  }
  return arg == l;
}

var<workgroup> wsum: array<f32, WG>;
var<workgroup> wcount: array<u32, WG>;

// One workgroup: each invocation sums a fixed stride of the partials, then invocation 0 adds the
// WG sums in order.
@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) li: u32) {
  var acc = 0.0;
  for (var i = li; i < p.parts; i += WG) { acc += partial_in[i]; }
  wsum[li] = acc;
  var n = 0u;
  if (ACC != 0u) {
    for (var r = li; r < p.rows; r += WG) { n += select(0u, 1u, row_correct(r)); }
  }
  wcount[li] = n;
  workgroupBarrier();
  if (li == 0u) {
    var total = 0.0;
    var hits = 0u;
    for (var k = 0u; k < WG; k++) { total += wsum[k]; hits += wcount[k]; }
    loss[p.loss_index] = total / f32(p.count);
    if (ACC != 0u) { correct[p.correct_index] = f32(hits); }
  }
}
