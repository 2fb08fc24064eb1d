// Central finite-difference gradient checker in float64: df/dx_i ≈ (f(x+εe_i) − f(x−εe_i)) / 2ε
// with ε = 1e-6, which has O(ε²) truncation error and ~1e-10 relative rounding error for the
// well-scaled functions tested here. Every element is compared, and the worst mismatch (by how far
// it exceeds its tolerance) is reported with its position so a failure says exactly where.

export interface GradCheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
}

export interface GradMismatch {
  input: number; // which of the inputs
  index: number; // flat element index within it
  analytic: number;
  numeric: number;
  error: number; // |analytic - numeric|
  tolerance: number; // atol + rtol * |numeric|
}

export interface GradCheckResult {
  ok: boolean;
  worst: GradMismatch | null; // largest error/tolerance ratio over all elements
  message: string;
}

/**
 * `f` reads the current contents of `inputs` (which are perturbed in place and restored);
 * `grads[k]` is the analytic gradient of f with respect to `inputs[k]`.
 */
export function checkGradients(
  f: (inputs: Float64Array[]) => number,
  inputs: Float64Array[],
  grads: Float64Array[],
  opts: GradCheckOptions = {},
): GradCheckResult {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3 } = opts;
  if (inputs.length !== grads.length) throw new Error('checkGradients: inputs/grads count mismatch');
  let worst: GradMismatch | null = null;
  let worstRatio = -1;
  let ok = true;
  for (let k = 0; k < inputs.length; k++) {
    const x = inputs[k]!;
    if (grads[k]!.length !== x.length) throw new Error(`checkGradients: grad ${k} has wrong length`);
    for (let i = 0; i < x.length; i++) {
      const orig = x[i]!;
      x[i] = orig + eps;
      const fp = f(inputs);
      x[i] = orig - eps;
      const fm = f(inputs);
      x[i] = orig;
      const numeric = (fp - fm) / (2 * eps);
      const analytic = grads[k]![i]!;
      const error = Math.abs(analytic - numeric);
      const tolerance = atol + rtol * Math.abs(numeric);
      // NaN anywhere is a failure and must also win the "worst" slot.
      const ratio = Number.isNaN(error) ? Infinity : error / tolerance;
      if (!(error <= tolerance)) ok = false;
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worst = { input: k, index: i, analytic, numeric, error, tolerance };
      }
    }
  }
  const message = worst
    ? `${ok ? 'ok' : 'MISMATCH'}: worst at input ${worst.input}[${worst.index}]: analytic ${worst.analytic}, ` +
      `numeric ${worst.numeric}, |diff| ${worst.error.toExponential(3)} vs tol ${worst.tolerance.toExponential(3)}`
    : 'no elements checked';
  return { ok: ok && worst !== null, worst, message };
}
