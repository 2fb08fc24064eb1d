// Floating-point work of one training step, counted from the model (2 FLOPs per multiply-add), so
// benchmarks can quote GFLOP/s. Convolutions dominate; each has a forward, an input-gradient and a
// weight-gradient pass of equal size (the first layer skips its input gradient).
import type { Model } from './spec.ts';

export function stepFlops(model: Model, batch: number): { forward: number; backward: number; total: number } {
  let forward = 0, backward = 0;
  const firstParam = model.layers.findIndex((l) => l.params.length > 0);
  for (const L of model.layers) {
    const t = L.spec.type;
    if (t === 'conv2d' || t === 'convtranspose2d') {
      const w = L.params[0]!.shape;
      const macs = t === 'conv2d'
        ? batch * L.outShape[0] * L.outShape[1] * L.outShape[2] * w[1]! * w[2]! * w[3]!
        : batch * L.inShape[0] * L.inShape[1] * L.inShape[2] * w[1]! * w[2]! * w[3]!;
      forward += 2 * macs;
      backward += 2 * macs * (L.index > firstParam ? 2 : 1);
    }
  }
  return { forward, backward, total: forward + backward };
}
