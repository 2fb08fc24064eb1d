// Weights and checkpoints as safetensors. Weights files hold exactly the model's parameters under
// PyTorch's names and layouts, so `model.load_state_dict(load_file(path), strict=True)` works;
// checkpoints add the optimizer state and where training stood, so a resumed run continues exactly.
import { ConfigError, FormatError } from '../errors.ts';
import type { Model } from '../nn/spec.ts';
import { parseSafetensors, serializeSafetensors, type Tensor } from './safetensors.ts';

export function serializeWeights(model: Model, params: Map<string, Float32Array>, metadata: Record<string, string> = {}): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const p of model.params) tensors.set(p.name, { shape: p.shape, data: params.get(p.name)! });
  return serializeSafetensors(tensors, { format: 'pt', ...metadata });
}

/** Checks names and shapes as load_state_dict(strict=True) does; the message lists every mismatch. */
export function weightsFromTensors(model: Model, tensors: Map<string, Tensor>, source: string): Map<string, Float32Array> {
  const problems: string[] = [];
  const out = new Map<string, Float32Array>();
  for (const p of model.params) {
    const t = tensors.get(p.name);
    if (!t) problems.push(`missing ${p.name} [${p.shape.join(', ')}]`);
    else if (t.shape.join() !== p.shape.join()) problems.push(`${p.name} has shape [${t.shape.join(', ')}], the model needs [${p.shape.join(', ')}]`);
    else out.set(p.name, t.data);
  }
  const known = new Set(model.params.map((p) => p.name));
  for (const name of tensors.keys()) if (!known.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length > 0) throw new ConfigError(`${source}: weights do not match the model: ${problems.join('; ')}`);
  return out;
}

export function parseWeights(model: Model, bytes: Uint8Array, source: string): Map<string, Float32Array> {
  return weightsFromTensors(model, parseSafetensors(bytes, source).tensors, source);
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
  /** The current epoch's order list (derivable from seed and epoch; stored so it can be checked). */
  order: Uint32Array;
}

const STATE_PREFIX = 'optimizer.';

export function serializeCheckpoint(model: Model, c: Checkpoint): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const p of model.params) tensors.set(p.name, { shape: p.shape, data: c.params.get(p.name)! });
  for (const [k, v] of c.state) tensors.set(`${STATE_PREFIX}${k}`, { shape: [v.length], data: v });
  // Record indices (< 2^24) are exact in float32.
  tensors.set('data.order', { shape: [c.order.length], data: Float32Array.from(c.order) });
  return serializeSafetensors(tensors, {
    kiln: 'checkpoint', model: JSON.stringify(model.spec), step: String(c.step), epoch: String(c.epoch), seed: String(c.seed),
    optimizer: c.optimizer, shuffle: String(c.shuffle), batch: String(c.batch), data_source: c.dataSource, data_count: String(c.dataCount),
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
  return {
    params: weightsFromTensors(model, weights, source), state, order,
    step: int('step'), epoch: int('epoch'), seed: int('seed'), batch: int('batch'), dataCount: int('data_count'),
    optimizer: m.optimizer ?? '', shuffle: m.shuffle === 'true', dataSource: m.data_source ?? '',
  };
}
