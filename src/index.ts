// Kiln's public API, the same in a browser and in Node (Node adds `openNodeDevice` from
// './node.ts'). The CLI and the demo use nothing else.
export { KilnError, ShapeError, FormatError, ConfigError, GpuError } from './errors.ts';
export { openDevice, openBrowserDevice, describeAdapter, type Gpu, type DeviceOptions } from './gpu/device.ts';
export { buildModel, CAE_SPEC, PRESETS, type Model, type ModelSpec, type LayerSpec } from './nn/spec.ts';
export { initParams } from './nn/init.ts';
export { Trainer, defaultRange, rangeWarning, type TrainerOptions, type Dataset } from './train/trainer.ts';
export { Predictor, type Prediction, type PredictorOptions } from './train/predict.ts';
export type { OptimizerConfig } from './graph/autograd.ts';
export type { DataRange } from './ops/gather.ts';
export { describePlan, type Plan } from './plan/plan.ts';
export { parseSafetensors, serializeSafetensors } from './io/safetensors.ts';
export { serializeWeights, parseWeights, serializeCheckpoint, parseCheckpoint, type Checkpoint } from './io/weights.ts';
export { parseCifarBatch, parseCifarTarGz, concatCifar, CIFAR_PIXELS, type CifarSet } from './data/cifar.ts';
