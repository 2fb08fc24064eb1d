// Shape helpers shared by shape inference (layers/) and op bindings (ops/). Pure arithmetic: nothing
// here imports WGSL or touches a GPU, so a spec can be checked anywhere.
import { ShapeError } from '../errors.ts';

export type Pair = number | readonly [number, number];
export type Shape4 = readonly [number, number, number, number];

/** PyTorch accepts an int or an (h, w) pair for kernel, stride, padding and dilation; so do we. */
export function pair(op: string, field: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((!Array.isArray(v) && typeof v !== 'number') || p.some((x) => !Number.isInteger(x) || x < min)) {
    throw new ShapeError(`${op}: ${field} must be an integer ≥ ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

export function checkShape4(op: string, what: string, s: readonly number[]): Shape4 {
  if (s.length !== 4 || s.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(`${op}: ${what} must be 4-D [N, C, H, W] with positive sizes, got [${s.join(', ')}]`);
  }
  return s as unknown as Shape4;
}

export const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

export const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
