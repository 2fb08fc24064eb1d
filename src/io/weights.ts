// Weights and checkpoints as safetensors. Weights files hold exactly the model's parameters under
// PyTorch's names and layouts, so `model.load_state_dict(load_file(path), strict=True)` works;
// checkpoints add the optimizer state and where training stood, so a resumed run continues exactly.
import { ConfigError, FormatError } from '../errors.ts';
import type { Model } from '../nn/spec.ts';
import { parseSafetensors, serializeSafetensors, type Tensor } from './safetensors.ts';

/** Every tensor of the model's state_dict: parameters, then buffers (batchnorm statistics, int64 counters). */
export function stateEntries(model: Model): { name: string; shape: number[]; dtype: 'F32' | 'I64' }[] {
  return [...model.params.map((p) => ({ name: p.name, shape: p.shape, dtype: 'F32' as const })),
    ...model.buffers.map((b) => ({ name: b.name, shape: b.shape, dtype: b.dtype === 'i64' ? 'I64' as const : 'F32' as const }))];
}

export function serializeWeights(model: Model, values: Map<string, Float32Array>, metadata: Record<string, string> = {}): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const e of stateEntries(model)) {
    const data = values.get(e.name);
    if (!data) throw new ConfigError(`cannot save: no values for ${e.name}`);
    tensors.set(e.name, { shape: e.shape, data, dtype: e.dtype });
  }
  return serializeSafetensors(tensors, { format: 'pt', ...metadata });
}

/** Refuses NaN and ±inf, naming the tensor, how many and the first: a run must never start from them. */
export function checkFinite(name: string, data: Float32Array, source: string): void {
  let bad = 0, first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) { bad++; if (first < 0) first = i; }
  }
  if (bad > 0) {
    throw new ConfigError(`${source}: tensor ${name} holds ${bad} non-finite value${bad > 1 ? 's' : ''} (first at index ${first}: ${data[first]})`);
  }
}

export interface InitReport { values: Map<string, Float32Array>; loaded: string[]; fresh: string[]; ignored: string[] }

/**
 * Matches tensors to the model's state_dict. Strict (load_state_dict(strict=True)): every name, no
 * extras. Not strict (`--init`): a pretrained backbone plus a new head — missing tensors are
 * initialised fresh and extra ones ignored, both reported. A shape mismatch is refused either way,
 * as PyTorch does; every problem is listed in one line.
 */
export function matchState(model: Model, tensors: Map<string, Tensor>, source: string, strict = true): InitReport {
  const problems: string[] = [];
  const values = new Map<string, Float32Array>();
  const loaded: string[] = [], fresh: string[] = [];
  const entries = stateEntries(model);
  for (const e of entries) {
    const t = tensors.get(e.name);
    if (!t) {
      if (strict) problems.push(`missing ${e.name} [${e.shape.join(', ')}]`);
      else fresh.push(e.name);
    } else if (t.shape.join() !== e.shape.join()) {
      problems.push(`${e.name} has shape [${t.shape.join(', ')}], the model needs [${e.shape.join(', ')}]`);
    } else {
      checkFinite(e.name, t.data, source);
      values.set(e.name, t.data);
      loaded.push(e.name);
    }
  }
  const known = new Set(entries.map((e) => e.name));
  const ignored = [...tensors.keys()].filter((n) => !known.has(n));
  if (strict) for (const name of ignored) problems.push(`unexpected ${name}`);
  if (problems.length > 0) throw new ConfigError(`${source}: weights do not match the model: ${problems.join('; ')}`);
  if (!strict && loaded.length === 0) throw new ConfigError(`${source}: no tensor matches the model's names (it has ${[...tensors.keys()].slice(0, 4).join(', ')}…)`);
  return { values, loaded, fresh, ignored };
}

/** Strict: a weights file made for exactly this model. */
export function weightsFromTensors(model: Model, tensors: Map<string, Tensor>, source: string): Map<string, Float32Array> {
  return matchState(model, tensors, source, true).values;
}

export function parseWeights(model: Model, bytes: Uint8Array, source: string): Map<string, Float32Array> {
  return weightsFromTensors(model, parseSafetensors(bytes, source).tensors, source);
}

/** `--init`: whatever of the model's tensors the file has (see matchState). */
export function parseInit(model: Model, bytes: Uint8Array, source: string): InitReport {
  return matchState(model, parseSafetensors(bytes, source).tensors, source, false);
}

/** Everything a resumed run needs besides the data itself. */
export interface Checkpoint {
  params: Map<string, Float32Array>;
  /** Flat optimizer state buffers by name ('adam/m', 'adam/v', 'sgd/momentum'). */
  state: Map<string, Float32Array>;
  step: number;
  epoch: number;
  seed: number;
  optimizer: string; // JSON of the optimizer config, checked on resume
  shuffle: boolean;
  batch: number;
  dataSource: string;
  dataCount: number;
  /** SHA-256 of the training records (dataHash); '' in checkpoints made before it was stored. */
  dataHash: string;
  /** The current epoch's order list (derivable from seed and epoch; stored so it can be checked). */
  order: Uint32Array;
}

const STATE_PREFIX = 'optimizer.';

export function serializeCheckpoint(model: Model, c: Checkpoint): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const e of stateEntries(model)) tensors.set(e.name, { shape: e.shape, data: c.params.get(e.name)!, dtype: e.dtype });
  for (const [k, v] of c.state) tensors.set(`${STATE_PREFIX}${k}`, { shape: [v.length], data: v });
  // Record indices (< 2^24) are exact in float32.
  tensors.set('data.order', { shape: [c.order.length], data: Float32Array.from(c.order) });
  return serializeSafetensors(tensors, {
    kiln: 'checkpoint', model: JSON.stringify(model.spec), step: String(c.step), epoch: String(c.epoch), seed: String(c.seed),
    optimizer: c.optimizer, shuffle: String(c.shuffle), batch: String(c.batch), data_source: c.dataSource, data_count: String(c.dataCount),
    data_sha256: c.dataHash,
  });
}

export function parseCheckpoint(model: Model, bytes: Uint8Array, source: string): Checkpoint {
  const { tensors, metadata: m } = parseSafetensors(bytes, source);
  if (m.kiln !== 'checkpoint') throw new FormatError(`${source}: not a Kiln checkpoint (no kiln=checkpoint metadata); is it a weights file?`);
  if (m.model !== JSON.stringify(model.spec)) throw new ConfigError(`${source}: the checkpoint was made for a different model spec`);
  const state = new Map<string, Float32Array>();
  const weights = new Map<string, Tensor>();
  let order: Uint32Array | undefined;
  for (const [k, t] of tensors) {
    if (k.startsWith(STATE_PREFIX)) state.set(k.slice(STATE_PREFIX.length), t.data);
    else if (k === 'data.order') order = Uint32Array.from(t.data);
    else weights.set(k, t);
  }
  const int = (k: string) => {
    const v = Number(m[k]);
    if (!Number.isInteger(v) || v < 0) throw new FormatError(`${source}: metadata ${k}=${JSON.stringify(m[k])} is not a count`);
    return v;
  };
  if (!order) throw new FormatError(`${source}: checkpoint lacks data.order`);
  for (const [k, v] of state) checkFinite(`optimizer.${k}`, v, source);
  return {
    params: weightsFromTensors(model, weights, source), state, order,
    step: int('step'), epoch: int('epoch'), seed: int('seed'), batch: int('batch'), dataCount: int('data_count'),
    optimizer: m.optimizer ?? '', shuffle: m.shuffle === 'true', dataSource: m.data_source ?? '', dataHash: m.data_sha256 ?? '',
  };
}
