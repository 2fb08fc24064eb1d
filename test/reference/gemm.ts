// Reference matrix product, float64: C[i, j] = Σ_k A[i, k] · B[k, j], all row-major.
// Written as the definition (the sum innermost), independently of any GPU kernel.

export function gemm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, k: number): Float64Array {
  if (a.length !== m * k || b.length !== k * n) throw new Error(`gemm: A has ${a.length} values, B ${b.length}; want ${m * k} and ${k * n}`);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
      c[i * n + j] = s;
    }
  }
  return c;
}
