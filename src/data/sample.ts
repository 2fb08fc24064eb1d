// The embedded sample (data/README.md): 32×32 patches of six public-domain / CC0 photographs, in
// CIFAR-10's binary format, labelled by the photo they come from.

/** Label byte → source photo (skimage.data names, in the order build_sample.py assigns them). */
export const SAMPLE_CLASS_NAMES = ['astronaut', 'hubble_deep_field', 'rocket', 'coffee', 'chelsea', 'retina'] as const;
