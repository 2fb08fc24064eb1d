// Built-in models. `cae` is the seed's convolutional autoencoder with the seed's PyTorch names.
import type { ModelSpec } from './spec.ts';

export const CAE_SPEC: ModelSpec = {
  input: [3, 32, 32],
  layers: [
    { name: 'conv1.0', type: 'conv2d', out: 16, kernel: 3, stride: 1, padding: 1 },
    { name: 'conv1.1', type: 'selu' },
    { name: 'conv1.2', type: 'maxpool2d', kernel: 2, stride: 2 },
    { name: 'conv2.0', type: 'conv2d', out: 32, kernel: 3, stride: 1, padding: 1 },
    { name: 'conv2.1', type: 'selu' },
    { name: 'conv2.2', type: 'maxpool2d', kernel: 2, stride: 2 },
    { name: 'transconv1.0', type: 'convtranspose2d', out: 16, kernel: 2, stride: 2, padding: 0, outputPadding: 0 },
    { name: 'transconv1.1', type: 'relu' },
    { name: 'transconv2.0', type: 'convtranspose2d', out: 3, kernel: 2, stride: 2, padding: 0, outputPadding: 0 },
    { name: 'transconv2.1', type: 'sigmoid' },
  ],
};

/**
 * A small CIFAR-style convnet: three conv–batchnorm–ReLU–max-pool blocks (16, 32, 64 channels),
 * dropout, and a linear classifier, trained with cross-entropy on the labels. `classes`: 10 for
 * CIFAR-10, or the data's own count (the embedded sample has 6).
 */
export function classifierSpec(classes = 10): ModelSpec {
  const block = (i: number, out: number) => [
    { name: `conv${i}`, type: 'conv2d', out, kernel: 3, padding: 1, bias: false },
    { name: `bn${i}`, type: 'batchnorm2d' },
    { name: `relu${i}`, type: 'relu' },
    { name: `pool${i}`, type: 'maxpool2d', kernel: 2 },
  ];
  return {
    input: [3, 32, 32],
    loss: 'cross_entropy',
    layers: [...block(1, 16), ...block(2, 32), ...block(3, 64),
      { name: 'flatten', type: 'flatten' }, { name: 'drop', type: 'dropout', p: 0.25 }, { name: 'fc', type: 'linear', out: classes }],
  };
}

/** Presets by name; each takes the data's class count (used by label-target models). */
export const PRESETS: Record<string, (o: { classes?: number }) => ModelSpec> = {
  cae: () => CAE_SPEC,
  classifier: (o) => classifierSpec(o.classes),
};
