// The messages between a page and Kiln's training worker (kiln/worker). Requests carry an id and get
// exactly one reply with that id; events flow from the worker whenever something happens. Large
// payloads (image bytes, weights, checkpoints, loss batches) are typed arrays sent as transferables,
// so each crosses the thread boundary once without a copy. Types only, plus two small helpers.
import type { DeviceOptions } from '../gpu/device.ts';
import type { DataRange } from '../data/range.ts';
import type { OptimizerConfig } from '../graph/autograd.ts';
import type { ModelSpec } from '../nn/spec.ts';
import type { TuneMode } from '../tune/tuner.ts';

/** A preset by name (`classes` for the classifier), or a model spec as JSON. */
export type ModelChoice = { preset: 'cae' | 'classifier'; classes?: number; name?: string } | { spec: ModelSpec; name?: string };

/** Images as bytes in the model's input layout (C·H·W each, CHW order), with one label byte each for classifiers. */
export interface DataBytes {
  pixels: Uint8Array;
  labels?: Uint8Array;
  classNames?: readonly string[];
  /** Where it came from, for messages (a file or folder name). */
  source: string;
}

export interface StartOptions {
  model: ModelChoice;
  train: DataBytes;
  /** Held-out images: evaluated (loss, accuracy, confusion) every `evalEveryMs` and at every epoch end. */
  test?: DataBytes;
  /** How many of the first held-out images get per-image results (predicted classes, reconstructions). */
  show?: number;
  batch: number;
  /** Default: Adam with `lr`. */
  optimizer?: OptimizerConfig;
  lr?: number;
  range?: DataRange;
  seed?: number;
  shuffle?: boolean;
  /** Kernel tuning (Trainer.create): 'cached' by default, cached in IndexedDB. */
  tune?: TuneMode;
  tuneBudgetMs?: number;
  /** Per-layer GPU time (needs 'timestamp-query'); one step in 10 is timed. */
  profile?: boolean;
  /** Live evaluation at most this often (default 3000 ms), and never more than ~a quarter of the time. */
  evalEveryMs?: number;
  /** Stop after this many epochs without a lower held-out loss (the best epoch's weights are kept either way). */
  earlyStop?: { patience: number };
  /** Stop after this many epochs. */
  maxEpochs?: number;
  /** Emit a `checkpoint` event (bytes) at every epoch end and on every pause. */
  autoCheckpoint?: boolean;
  /** With autoCheckpoint: skip epoch-end checkpoints closer than this to the last one (tiny epochs). */
  checkpointMinMs?: number;
  /** Start from these weights (.safetensors bytes). */
  init?: Uint8Array;
  /** Continue from this checkpoint: batch, optimizer, seed and shuffling are taken from it. */
  resume?: Uint8Array;
  /** The checkpoint's file name, for messages. */
  resumeSource?: string;
  onNonFinite?: 'stop' | 'skip';
}

export interface DeviceInfo {
  adapter: string;
  isSoftware: boolean;
  hasTimestamps: boolean;
  /** The limits the device's plans are checked against. */
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface RunInfo {
  model: { name: string; paramCount: number; target: 'input' | 'label'; classes?: number; outputActivation?: string; input: number[]; layers: string[] };
  /** The settings in force (from the checkpoint when resuming). */
  batch: number;
  optimizer: OptimizerConfig;
  range: DataRange;
  seed: number;
  stepsPerEpoch: number;
  /** Steps already trained (a resumed checkpoint's step, else 0). */
  step: number;
  trainCount: number;
  testCount: number;
  classNames?: readonly string[];
}

export interface EvalReport {
  /** Steps the evaluated weights had seen. */
  step: number;
  epoch: number;
  /** True when taken at the end of epoch `epoch` (training held still meanwhile). */
  epochEnd: boolean;
  loss: number;
  accuracy?: number;
  records: number;
  /** How long the evaluation took. */
  ms?: number;
  /** classes × classes counts, row = true class, column = predicted. */
  confusion?: Uint32Array;
  /** Predicted class of each shown held-out image. */
  predicted?: Uint8Array;
  /** Probability of the predicted class of each shown image. */
  confidence?: Float32Array;
  /** Reconstructions of the shown held-out images (autoencoders), CHW bytes each. */
  images?: Uint8Array;
}

export interface DecodeRequest {
  /** One entry per class (subfolder), in label order. */
  classes: { name: string; files: Blob[]; names?: string[] }[];
  /** C, H, W of the model input the images are resized to. */
  shape: readonly number[];
  /** The folder's name, for messages. */
  source?: string;
}

export interface Decoded {
  pixels: Uint8Array;
  labels: Uint8Array;
  classNames: string[];
  count: number;
  /** Images per class, in label order. */
  perClass: number[];
  /** Files that could not be decoded as images. */
  skipped: { name: string; className: string; reason: string }[];
}

export interface PredictResult {
  count: number;
  classes?: Uint8Array;
  probabilities?: Float32Array;
  images?: Uint8Array;
  /** The inputs as the model saw them (CHW bytes), when decoded from files. */
  inputs?: Uint8Array;
}

export type RunState = 'idle' | 'starting' | 'running' | 'pausing' | 'paused' | 'stopped' | 'lost' | 'failed';

export type Request =
  | { type: 'init'; device?: DeviceOptions }
  | { type: 'start'; options: StartOptions }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'set-lr'; lr: number }
  | { type: 'evaluate' }
  | { type: 'predict'; pixels: Uint8Array }
  | { type: 'predict-files'; files: Blob[] }
  | { type: 'decode'; request: DecodeRequest }
  | { type: 'weights'; best?: boolean }
  | { type: 'load-weights'; bytes: Uint8Array; source?: string }
  | { type: 'checkpoint' }
  | { type: 'restore'; bytes: Uint8Array; source?: string }
  | { type: 'recover' }
  | { type: 'lose-device' }
  | { type: 'dispose' };

export interface Replies {
  init: DeviceInfo;
  start: RunInfo;
  pause: { step: number };
  resume: undefined;
  stop: undefined;
  'set-lr': { lr: number; rebuilt: boolean };
  evaluate: EvalReport;
  predict: PredictResult;
  'predict-files': PredictResult & { skipped: { name: string; reason: string }[] };
  decode: Decoded;
  weights: { bytes: Uint8Array; step: number; epoch?: number } | undefined;
  'load-weights': undefined;
  checkpoint: { bytes: Uint8Array; step: number };
  restore: { step: number };
  recover: RunInfo;
  'lose-device': undefined;
  dispose: undefined;
}

export type RequestType = Request['type'];

export interface Events {
  /** With 'lost': `step` is the step of the checkpoint kept for `recover`. */
  state: { state: RunState; message?: string; step?: number };
  /** Losses of consecutive steps as they were read back: losses[i] is step `steps[i]`'s. */
  losses: { steps: Uint32Array; losses: Float32Array };
  progress: { step: number; epoch: number; stepsPerEpoch: number; imagesPerSecond?: number; lr: number };
  eval: EvalReport;
  epoch: { epoch: number; step: number; loss?: number; accuracy?: number };
  best: { epoch: number; step: number; loss: number; accuracy?: number };
  checkpoint: { bytes: Uint8Array; step: number; epoch: number; why: 'epoch' | 'pause' };
  stopped: { why: 'early-stop' | 'max-epochs' | 'non-finite'; message: string; bestEpoch?: number };
  profile: { totals: [string, number][]; steps: number };
  error: { message: string };
}

export type EventName = keyof Events;

export type ToWorker = Request & { id: number };
export type FromWorker =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } }
  | { event: EventName; data: unknown };

/** The ArrayBuffers under a message's typed arrays (each once), to transfer instead of copy. */
export function transferables(...values: unknown[]): Transferable[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number): void => {
    if (!v || typeof v !== 'object' || depth > 4) return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) out.add(v.buffer);
      return;
    }
    if (v instanceof Blob) return;
    for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x, depth + 1);
  };
  for (const v of values) visit(v, 0);
  return [...out];
}

/** A view that owns exactly its bytes (a subarray of a larger buffer would transfer all of it). */
export function own<T extends Uint8Array | Float32Array | Uint32Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}
