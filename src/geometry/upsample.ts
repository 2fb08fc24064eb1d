// Nearest-neighbour upsampling geometry (nn.Upsample(scale_factor=s, mode='nearest') with an integer
// scale): the output is the input with every pixel repeated s_h × s_w times.
import { checkShape4, pair, type Pair, type Shape4 } from './util.ts';

export interface UpsampleOptions { scale: Pair }

export interface UpsampleGeometry {
  planes: number; // batch × channels
  inShape: Shape4;
  outShape: Shape4;
  scale: [number, number];
}

export function upsampleGeometry(input: readonly number[], o: UpsampleOptions, op = 'upsample'): UpsampleGeometry {
  const [n, c, h, w] = checkShape4(op, 'input', input);
  const scale = pair(op, 'scale', o.scale, 1);
  return { planes: n * c, inShape: [n, c, h, w], outShape: [n, c, h * scale[0], w * scale[1]], scale };
}
