// Floating-point work of one training step, summed from the layer records (2 FLOPs per
// multiply-add; element-wise layers count 0, as is usual for GFLOP/s figures), so benchmarks can
// quote GFLOP/s. Backward passes count only what the plan runs: no input gradient below the lowest
// trainable layer, no parameter gradients for frozen layers.
import { LAYERS } from '../layers/index.ts';
import { lowestTrainable } from '../graph/autograd.ts';
import type { Model } from './spec.ts';

export function stepFlops(model: Model, batch: number): { forward: number; backward: number; total: number } {
  let forward = 0, backward = 0;
  const lowest = lowestTrainable(model);
  for (const L of model.layers) {
    const f = LAYERS[L.type]!.flops(L, batch);
    forward += f.forward;
    if (L.index > lowest) backward += f.backwardInput;
    if (L.index >= lowest && !L.frozen && L.params.length > 0) backward += f.backwardParams;
  }
  return { forward, backward, total: forward + backward };
}

/** Forward FLOPs only (evaluation and prediction). */
export function forwardFlops(model: Model, batch: number): number {
  return model.layers.reduce((a, L) => a + LAYERS[L.type]!.flops(L, batch).forward, 0);
}
