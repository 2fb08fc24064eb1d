// PyTorch's default initialisation for Conv2d / ConvTranspose2d: kaiming_uniform_(a=√5) on the
// weight, which is uniform(±1/√fan_in), and uniform(±1/√fan_in) on the bias — deterministic from a
// seed (the values differ from torch.manual_seed's, the distribution is the same).
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

export function initParams(model: Model, seed: number): Map<string, Float32Array> {
  const r = rng(seed ^ 0x5eed);
  const out = new Map<string, Float32Array>();
  for (const p of model.params) {
    const bound = 1 / Math.sqrt(p.fanIn);
    const n = p.shape.reduce((a, b) => a * b, 1);
    out.set(p.name, Float32Array.from({ length: n }, () => (2 * r() - 1) * bound));
  }
  return out;
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
