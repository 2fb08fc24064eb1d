// Reference for dropout: Philox4x32-10 written from its published definition (Salmon, Moraes, Dror,
// Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011, and Random123's philox.h), with
// BigInt for the 32×32→64-bit products, so it shares nothing with the WGSL's 16-bit-halves version.
//
// One Philox round on counter (c0, c1, c2, c3) and key (k0, k1):
//   (hi0, lo0) = M0 · c0,  (hi1, lo1) = M1 · c2        (full 64-bit products)
//   counter ← (hi1 ⊕ c1 ⊕ k0, lo1, hi0 ⊕ c3 ⊕ k1, lo0)
// with the key bumped by the Weyl constants (W0, W1) before every round but the first.
//
// Kiln's mask (the contract the GPU must reproduce): key = (seed, salt), counter = (⌊i/4⌋, step, 0, 0),
// element i uses output word i mod 4 and is dropped when that word < round(p·2^32) (never kept at p = 1).

const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const MASK32 = 0xffffffffn;

export type Words4 = [number, number, number, number];

export function philox4x32(counter: Words4, key: [number, number], rounds = 10): Words4 {
  let [c0, c1, c2, c3] = counter.map(BigInt) as [bigint, bigint, bigint, bigint];
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const p0 = M0 * c0, p1 = M1 * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ BigInt(k0), p1 & MASK32, (p0 >> 32n) ^ c3 ^ BigInt(k1), p0 & MASK32];
  }
  return [Number(c0), Number(c1), Number(c2), Number(c3)];
}

export interface DropoutKey { p: number; seed: number; step: number; salt: number }

/** keep[i] = 1 where element i survives. */
export function dropoutMask(count: number, k: DropoutKey): Uint8Array {
  const keep = new Uint8Array(count);
  if (k.p === 1) return keep;
  const threshold = Math.min(2 ** 32 - 1, Math.round(k.p * 2 ** 32));
  for (let block = 0; block * 4 < count; block++) {
    const words = philox4x32([block, k.step, 0, 0], [k.seed, k.salt]);
    for (let j = 0; j < 4 && block * 4 + j < count; j++) keep[block * 4 + j] = words[j]! >= threshold ? 1 : 0;
  }
  return keep;
}

/** y = x·mask/(1 − p) in float64; also dx from dy (the same map). p = 1 gives x·0. */
export function dropout(x: ArrayLike<number>, keep: Uint8Array, p: number): Float64Array {
  const out = new Float64Array(x.length);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * (keep[i] ? scale : 0);
  return out;
}
