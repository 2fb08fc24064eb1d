// Reference elementwise activations in float64, PyTorch semantics (nn.ReLU, nn.SELU, nn.Sigmoid,
// nn.Tanh). Backward functions take the forward *input* x and the upstream gradient dy.
// Forms are chosen to stay finite for large |x| (no exp of a large positive argument).

// Published SELU constants (Klambauer et al. 2017), as used by PyTorch.
export const SELU_ALPHA = 1.6732632423543772848170429916717;
export const SELU_SCALE = 1.0507009873554804934193349852946;

function map(x: Float64Array, f: (v: number) => number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

function map2(x: Float64Array, dy: Float64Array, f: (v: number, g: number) => number): Float64Array {
  if (x.length !== dy.length) throw new Error(`length mismatch ${x.length} vs ${dy.length}`);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i], dy[i]);
  return out;
}

// relu(NaN) = NaN as in PyTorch; a bare `x > 0 ? x : 0` would silently turn NaN into 0.
export const relu = (x: Float64Array) => map(x, (v) => (Number.isNaN(v) ? v : v > 0 ? v : 0));
// Gradient is 0 at x = 0 (PyTorch's threshold_backward uses x > 0).
export const reluBackward = (x: Float64Array, dy: Float64Array) => map2(x, dy, (v, g) => (v > 0 ? g : 0));

// expm1 keeps precision for small negative x; it saturates to -1 rather than overflowing.
export const selu = (x: Float64Array) =>
  map(x, (v) => SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Math.expm1(v)));
export const seluBackward = (x: Float64Array, dy: Float64Array) =>
  map2(x, dy, (v, g) => g * (v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(v)));

// Only ever exponentiate a non-positive number, so neither branch can overflow.
function sigmoid1(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}
export const sigmoid = (x: Float64Array) => map(x, sigmoid1);
export const sigmoidBackward = (x: Float64Array, dy: Float64Array) =>
  map2(x, dy, (v, g) => {
    const s = sigmoid1(v);
    return g * s * (1 - s);
  });

// Math.tanh saturates to ±1 cleanly.
export const tanh = (x: Float64Array) => map(x, Math.tanh);
export const tanhBackward = (x: Float64Array, dy: Float64Array) =>
  map2(x, dy, (v, g) => {
    const t = Math.tanh(v);
    return g * (1 - t * t);
  });
