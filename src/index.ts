// Kiln's public API, the same in a browser, a Web Worker and Node (Node adds Dawn and file loaders
// in './node.ts'). The CLI and the demo use nothing else. Everything here is free of Node built-ins.

// Errors: every failure Kiln diagnoses is a KilnError naming what is at fault.
export { KilnError, ShapeError, FormatError, ConfigError, GpuError, NonFiniteError, WriteError } from './errors.ts';

// Devices.
export { openDevice, openBrowserDevice, describeAdapter, type Gpu, type DeviceOptions } from './gpu/device.ts';

// Models: JSON specs, presets, the layer registry.
export { buildModel, LOSSES, type Model, type ModelSpec, type LayerSpec, type LossKind, type Target, type ParamInfo } from './nn/spec.ts';
export { CAE_SPEC, classifierSpec, PRESETS } from './nn/presets.ts';
export { LAYERS } from './layers/index.ts';
export { initParams, initBuffers } from './nn/init.ts';
export { stepFlops } from './nn/flops.ts';

// Data.
export { dataset, classCount, type Dataset } from './train/dataset.ts';
export { DATA_RANGES, rangeScale, bytesToFloats, floatsToBytes, type DataRange } from './data/range.ts';
export { toChw, labelledSet, type Rgba } from './data/images.ts';
export { parseCifarBatch, parseCifarTarGz, concatCifar, CIFAR_PIXELS, CIFAR_CLASS_NAMES, type CifarSet } from './data/cifar.ts';
export { SAMPLE_CLASS_NAMES } from './data/sample.ts';

// Training, evaluation, prediction.
export { Trainer, defaultRange, rangeWarning, type TrainerOptions } from './train/trainer.ts';
export { Evaluator, type EvalResult } from './train/evaluate.ts';
export { Predictor, type Prediction, type PredictorOptions } from './train/predict.ts';
export type { OptimizerConfig } from './graph/autograd.ts';
export type { StepStatus, LossCallback } from './run/losses.ts';

// Tuning.
export { tune, type TuneEntry, type TuneMode, type TuneOptions, type TuneResult } from './tune/tuner.ts';
export { runBench, type BenchOptions, type BenchResult } from './bench/run.ts';
export { memoryCache, adapterFacts, type TuneCache } from './tune/cache.ts';
export { indexedDbCache } from './tune/cache_idb.ts';

// Files as bytes (safetensors with PyTorch's names; checkpoints).
export { parseSafetensors, serializeSafetensors } from './io/safetensors.ts';
export { serializeWeights, parseWeights, parseInit, serializeCheckpoint, parseCheckpoint, type Checkpoint, type InitReport } from './io/weights.ts';

// Plans, for inspection.
export { describePlan, type Plan } from './plan/plan.ts';
export { VERSION } from './version.ts';
