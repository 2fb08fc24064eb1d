// Reference nearest-neighbour upsampling, float64, nn.Upsample(scale_factor=(sh, sw), mode='nearest')
// with integer factors: y[n, c, oy, ox] = x[n, c, floor(oy/sh), floor(ox/sw)]. Backward scatters
// each output gradient back to the input pixel it was copied from.

import { tensor, type Tensor } from './tensor.ts';

export function upsampleNearest(x: Tensor, scale: [number, number]): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [sh, sw] = scale;
  const y = tensor([N, C, H * sh, W * sw]);
  const OH = H * sh, OW = W * sw;
  for (let nc = 0; nc < N * C; nc++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        y.data[(nc * OH + oy) * OW + ox] = x.data[(nc * H + Math.floor(oy / sh)) * W + Math.floor(ox / sw)]!;
      }
  return y;
}

export function upsampleNearestBackward(dy: Tensor, inputShape: number[], scale: [number, number]): Tensor {
  const [N, C, H, W] = inputShape as [number, number, number, number];
  const [sh, sw] = scale;
  const OH = H * sh, OW = W * sw;
  if (dy.shape.join() !== [N, C, OH, OW].join()) throw new Error(`upsampleNearestBackward: dy shape [${dy.shape}]`);
  const dx = tensor(inputShape);
  for (let nc = 0; nc < N * C; nc++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        dx.data[(nc * H + Math.floor(oy / sh)) * W + Math.floor(ox / sw)]! += dy.data[(nc * OH + oy) * OW + ox]!;
      }
  return dx;
}
