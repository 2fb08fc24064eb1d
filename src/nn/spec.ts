// Model specs: a PyTorch-like sequential JSON description, validated and shape-inferred through the
// layer registry when loaded, so a bad spec is refused with one line naming the layer and field
// before anything touches the GPU. Nothing here loads WGSL: a spec can be checked anywhere.
import { ConfigError, ShapeError } from '../errors.ts';
import { LAYERS, type BufferDecl, type Layer, type ParamDecl, type Shape } from '../layers/index.ts';
import { readFields } from '../layers/fields.ts';
import type { ActivationKind } from '../layers/activation.ts';

export type LossKind = 'mse' | 'l1' | 'bce' | 'cross_entropy';
export type Target = 'input' | 'label';
export const LOSSES: readonly LossKind[] = ['mse', 'l1', 'bce', 'cross_entropy'];
const TARGETS: readonly Target[] = ['input', 'label'];

/** One layer as written in JSON: its type, optional name and `frozen`, and its own fields. */
export interface LayerSpec { type: string; name?: string; frozen?: boolean; [field: string]: unknown }

export interface ModelSpec {
  input: [number, number, number];
  layers: LayerSpec[];
  /** Default 'mse'. */
  loss?: LossKind;
  /** Default 'label' for cross_entropy, 'input' (reconstruction) otherwise. */
  target?: Target;
}

/** A parameter or buffer with its full PyTorch name (`conv1.0.weight`). */
export interface ParamInfo extends ParamDecl { layer: string; trainable: boolean }
export interface BufferInfo extends BufferDecl { layer: string }

export interface Model {
  spec: ModelSpec;
  layers: Layer[];
  /** Trainable parameters first, then frozen ones (the flat buffer's order). */
  params: ParamInfo[];
  buffers: BufferInfo[];
  paramCount: number;
  trainableCount: number;
  input: Shape;
  output: Shape;
  loss: LossKind;
  target: Target;
  /** For label targets: the classes the output can tell apart (2 for a single binary output). */
  classes?: number;
  /** The last layer's activation, which decides the data range ([0, 1] for sigmoid, [−1, 1] for tanh). */
  outputActivation: ActivationKind | undefined;
}

const COMMON = ['type', 'name', 'frozen'];

export { CAE_SPEC, PRESETS } from './presets.ts';
const TOP = ['input', 'layers', 'loss', 'target'];

/** Validates `raw` (parsed JSON) as a model spec; `source` names the file in messages. */
export function buildModel(raw: unknown, source = 'model spec'): Model {
  const fail = (msg: string): never => { throw new ConfigError(`${source}: ${msg}`); };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a JSON object with "input" and "layers"');
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!TOP.includes(k)) fail(`unknown field "${k}" (fields: ${TOP.join(', ')})`);
  const input = r.input;
  if (!Array.isArray(input) || input.length !== 3 || !input.every((d) => Number.isInteger(d) && d > 0)) {
    fail(`"input" must be [channels, height, width] of positive integers, got ${JSON.stringify(input)}`);
  }
  if (r.loss !== undefined && !LOSSES.includes(r.loss as LossKind)) fail(`"loss" must be one of ${LOSSES.join(', ')}, got ${JSON.stringify(r.loss)}`);
  const loss = (r.loss ?? 'mse') as LossKind;
  if (r.target !== undefined && !TARGETS.includes(r.target as Target)) fail(`"target" must be input or label, got ${JSON.stringify(r.target)}`);
  const target = (r.target ?? (loss === 'cross_entropy' ? 'label' : 'input')) as Target;
  if (loss === 'cross_entropy' && target !== 'label') fail('"loss": "cross_entropy" needs "target": "label" (class indices)');
  if (!Array.isArray(r.layers) || r.layers.length === 0) fail('"layers" must be a non-empty array');

  const layers: Layer[] = [];
  const names = new Set<string>();
  let shape: Shape = [...(input as number[])];
  (r.layers as unknown[]).forEach((l, index) => {
    const where = `layer ${index}`;
    if (typeof l !== 'object' || l === null || Array.isArray(l)) fail(`${where} must be an object`);
    const ls = l as Record<string, unknown>;
    const record = typeof ls.type === 'string' ? LAYERS[ls.type] : undefined;
    if (!record) fail(`${where}: unknown type ${JSON.stringify(ls.type)} (one of ${Object.keys(LAYERS).join(', ')})`);
    const name = ls.name === undefined ? String(index) : ls.name;
    if (typeof name !== 'string' || name === '' || names.has(name)) fail(`${where}: name ${JSON.stringify(name)} is empty or repeated`);
    names.add(name as string);
    const at = `${source}: ${where} (${name}, ${ls.type})`;
    if (ls.frozen !== undefined && typeof ls.frozen !== 'boolean') fail(`${where} (${name}, ${ls.type}): "frozen" must be true or false`);
    const fields = readFields(at, record!.fields, ls, COMMON);
    const inShape = shape;
    let outShape: Shape, params: ParamDecl[], buffers: BufferDecl[];
    try {
      outShape = record!.shape(inShape, fields);
      params = record!.params(inShape, fields);
      buffers = record!.buffers(inShape, fields);
    } catch (e) {
      if (e instanceof ShapeError) throw new ConfigError(`${at}: ${e.message}`);
      throw e;
    }
    layers.push({ index, name: name as string, type: record!.type, fields, inShape, outShape, params, buffers, frozen: ls.frozen === true });
    shape = outShape;
  });

  const last = layers[layers.length - 1]!;
  const after = `(after layer ${last.index}, ${last.name})`;
  let classes: number | undefined;
  if (target === 'input' && shape.join() !== (input as number[]).join()) {
    fail(`output shape [${shape.join(', ')}] ${after} must equal the input shape [${(input as number[]).join(', ')}] when the target is the input (an autoencoder)`);
  }
  if (target === 'label') {
    if (shape.length !== 1) fail(`output shape [${shape.join(', ')}] ${after} must be a class vector [classes] for "target": "label" (end with flatten and linear)`);
    const c = shape[0]!;
    if (loss === 'cross_entropy' && c < 2) fail(`output shape [${c}] ${after}: cross_entropy needs at least 2 classes`);
    classes = c === 1 ? 2 : c;
  }

  const all = layers.flatMap((L) => L.params.map((p) => ({ ...p, name: `${L.name}.${p.name}`, layer: L.name, trainable: !L.frozen })));
  const params = [...all.filter((p) => p.trainable), ...all.filter((p) => !p.trainable)];
  if (!params.some((p) => p.trainable)) fail('no layer has parameters to train (add a conv2d, convtranspose2d, linear or batchnorm2d, or unfreeze one)');
  const count = (ps: ParamInfo[]) => ps.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  const lastType = last.type as ActivationKind;
  return {
    spec: raw as ModelSpec, layers, params,
    buffers: layers.flatMap((L) => L.buffers.map((b) => ({ ...b, name: `${L.name}.${b.name}`, layer: L.name }))),
    paramCount: count(params), trainableCount: count(params.filter((p) => p.trainable)),
    input: [...(input as number[])], output: shape, loss, target, classes,
    outputActivation: ['sigmoid', 'tanh', 'relu', 'selu', 'leakyrelu', 'gelu'].includes(lastType) ? lastType : undefined,
  };
}
