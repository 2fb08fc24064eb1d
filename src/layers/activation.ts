// Element-wise activations: one record each, sharing one factory. Their backward passes read the
// forward output (or, for GELU, its input), so a convolution may apply the fusable ones as it
// stores and no pre-activation tensor is kept.
import type { FusableActivation, Layer, LayerRecord } from './types.ts';
import { size } from '../graph/graph.ts';

export type ActivationKind = 'relu' | 'selu' | 'sigmoid' | 'tanh' | 'leakyrelu' | 'gelu';

/** Which saved tensor each backward pass reads: the output y, or (GELU) the input x. */
export const BACKWARD_FROM: Record<ActivationKind, 'x' | 'y'> = {
  relu: 'y', selu: 'y', sigmoid: 'y', tanh: 'y', leakyrelu: 'y', gelu: 'x',
};

type Slope = { slope: number };
type NoFields = Record<string, never>;

function activation<F extends NoFields | Slope>(kind: ActivationKind, doc: string, fields: LayerRecord<F>['fields'],
  torch: (f: F) => string, fusable: (f: F) => boolean): LayerRecord<F> {
  const slope = (f: F) => ('slope' in f ? f.slope : 0);
  return {
    type: kind, doc, fields,
    shape: (x) => x,
    params: () => [],
    buffers: () => [],
    forward(b, L, x) {
      const y = b.tensor('out', x.shape);
      b.node('forward', 'forward', 'activation.forward', { kind, count: size(x.shape), slope: slope(L.fields) }, { x }, { y });
      return { x, y };
    },
    backward(b, L, saved, dy, needDx) {
      if (!needDx) return undefined;
      const dx = b.tensor('grad_in', saved.x.shape);
      const from = BACKWARD_FROM[kind];
      b.node('backward', 'backward', 'activation.backward', { kind, count: size(dy.shape), slope: slope(L.fields) },
        { [from]: saved[from]!, dy }, { dx });
      return dx;
    },
    flops: () => ({ forward: 0, backwardInput: 0, backwardParams: 0 }),
    torch: (L: Layer<F>) => torch(L.fields),
    fusable: (f): FusableActivation | undefined => (fusable(f) ? { kind, slope: slope(f) } : undefined),
  };
}

const none = {} as LayerRecord<NoFields>['fields'];
const always = () => true;

export const relu = activation<NoFields>('relu', 'max(0, x)', none, () => 'nn.ReLU()', always);
export const selu = activation<NoFields>('selu', 'scale·(max(0, x) + min(0, α(eˣ − 1)))', none, () => 'nn.SELU()', always);
export const sigmoid = activation<NoFields>('sigmoid', '1 / (1 + e⁻ˣ)', none, () => 'nn.Sigmoid()', always);
export const tanh = activation<NoFields>('tanh', 'tanh(x)', none, () => 'nn.Tanh()', always);
// Its backward is computed from the output, which identifies the input's sign only for slope ≥ 0.
export const leakyrelu = activation<Slope>('leakyrelu', 'x for x > 0, slope·x otherwise',
  { slope: { kind: 'number', min: 0, default: 0.01, doc: 'negative_slope (≥ 0)' } },
  (f) => `nn.LeakyReLU(negative_slope=${f.slope})`, always);
// GELU's derivative is not a function of its output, so it keeps its input and is never fused.
export const gelu = activation<NoFields>('gelu', 'x·Φ(x), exact (erf) form', none, () => 'nn.GELU()', () => false);
