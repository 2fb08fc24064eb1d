// How image bytes map to the floats a model sees, in one place: the GPU gather (through its
// uniform), the predictor's input upload and its output conversion back to bytes all use this.

/** [0, 1] pairs with a Sigmoid output, [−1, 1] with Tanh. */
export type DataRange = '0,1' | '-1,1';

export const DATA_RANGES: readonly DataRange[] = ['0,1', '-1,1'];

/** x = byte / divisor + shift. */
export function rangeScale(range: DataRange): { divisor: number; shift: number } {
  return range === '0,1' ? { divisor: 255, shift: 0 } : { divisor: 127.5, shift: -1 };
}

/** Bytes (0–255) to model inputs. */
export function bytesToFloats(bytes: ArrayLike<number>, range: DataRange): Float32Array {
  const { divisor, shift } = rangeScale(range);
  return Float32Array.from(bytes, (b) => b / divisor + shift);
}

/** Model outputs back to bytes, clamped into the range and rounded. */
export function floatsToBytes(values: ArrayLike<number>, range: DataRange): Uint8Array {
  const { divisor, shift } = rangeScale(range);
  return Uint8Array.from(values, (v) => Math.round(Math.min(255, Math.max(0, (v - shift) * divisor))));
}

/** The data range an output activation pairs with: Sigmoid's (0, 1) needs [0, 1] images, Tanh's [−1, 1]. */
export function defaultRange(model: { outputActivation?: string }): DataRange {
  return model.outputActivation === 'tanh' ? '-1,1' : '0,1';
}
