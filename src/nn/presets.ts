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

/** Presets by name; each takes the data's class count (used by label-target models). */
export const PRESETS: Record<string, (o: { classes?: number }) => ModelSpec> = {
  cae: () => CAE_SPEC,
};
