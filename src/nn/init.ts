// PyTorch's default initialisations (as each layer record declares them: uniform(±1/√fan_in) for
// conv and linear weights and biases, ones and zeros for batchnorm), deterministic from a seed (the
// values differ from torch.manual_seed's, the distribution is the same), and the data order.
import type { Model } from './spec.ts';

/** mulberry32: small, fast, and good enough for init and shuffles. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parameters by PyTorch name, drawn in spec order (so adding a frozen flag changes no values). */
export function initParams(model: Model, seed: number): Map<string, Float32Array> {
  const r = rng(seed ^ 0x5eed);
  const out = new Map<string, Float32Array>();
  for (const L of model.layers) {
    for (const p of L.params) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const init = p.init;
      out.set(`${L.name}.${p.name}`, init.kind === 'uniform'
        ? Float32Array.from({ length: n }, () => (2 * r() - 1) * init.bound)
        : new Float32Array(n).fill(init.value));
    }
  }
  return out;
}

/** Buffers (batchnorm running statistics) at their initial values, by PyTorch name. */
export function initBuffers(model: Model): Map<string, Float32Array> {
  return new Map(model.buffers.map((b) => [b.name, new Float32Array(b.shape.reduce((x, y) => x * y, 1)).fill(b.init)]));
}

/** Fisher–Yates permutation of 0..n−1 for epoch `epoch` of a run seeded with `seed`. */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const r = rng((seed * 1_000_003 + epoch * 7919 + 1) >>> 0);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
