// Reference mean-squared-error loss in float64, PyTorch nn.MSELoss(reduction='mean'):
// L = (1/N) * sum_i (y_i - t_i)^2 over all N elements, so dL/dy_i = 2 (y_i - t_i) / N.

import { tensor, type Tensor } from './tensor.ts';

function checkSame(y: Tensor, t: Tensor): void {
  if (y.shape.join() !== t.shape.join()) throw new Error(`mse: shape [${y.shape}] != [${t.shape}]`);
  if (y.data.length === 0) throw new Error('mse: empty input');
}

export function mse(y: Tensor, t: Tensor): number {
  checkSame(y, t);
  let s = 0;
  for (let i = 0; i < y.data.length; i++) {
    const d = y.data[i]! - t.data[i]!;
    s += d * d;
  }
  return s / y.data.length;
}

export function mseBackward(y: Tensor, t: Tensor): Tensor {
  checkSame(y, t);
  const g = tensor(y.shape);
  const N = y.data.length;
  for (let i = 0; i < N; i++) g.data[i] = (2 * (y.data[i]! - t.data[i]!)) / N;
  return g;
}
