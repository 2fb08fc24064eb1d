// Model specs: a PyTorch-like sequential JSON description, validated and shape-inferred when loaded,
// so a bad spec is refused with a message naming the layer before anything touches the GPU.
import { ConfigError, ShapeError } from '../errors.ts';
import { conv2dGeometry } from '../ops/conv2d.ts';
import { convTranspose2dGeometry } from '../ops/conv_transpose2d.ts';
import { maxpool2dGeometry } from '../ops/maxpool2d.ts';
import type { Pair } from '../ops/dispatch.ts';
import type { Activation } from '../ops/activation.ts';

export type LayerType = 'conv2d' | 'convtranspose2d' | 'maxpool2d' | Activation;
const TYPES: readonly LayerType[] = ['conv2d', 'convtranspose2d', 'maxpool2d', 'relu', 'selu', 'sigmoid', 'tanh'];
const FIELDS: Record<LayerType, readonly string[]> = {
  conv2d: ['out', 'kernel', 'stride', 'padding'],
  convtranspose2d: ['out', 'kernel', 'stride', 'padding', 'outputPadding'],
  maxpool2d: ['kernel', 'stride', 'padding'],
  relu: [], selu: [], sigmoid: [], tanh: [],
};

export interface LayerSpec {
  name?: string;
  type: LayerType;
  out?: number;
  kernel?: Pair;
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
}

export interface ModelSpec { input: [number, number, number]; layers: LayerSpec[] }

export interface ParamInfo { name: string; shape: number[]; fanIn: number }

/** One layer after validation: its resolved name, CHW shapes in and out, and its parameters. */
export interface Layer {
  index: number;
  name: string;
  spec: LayerSpec;
  inShape: [number, number, number];
  outShape: [number, number, number];
  params: ParamInfo[]; // [weight, bias] for convolutions, [] otherwise
}

export interface Model {
  spec: ModelSpec;
  layers: Layer[];
  params: ParamInfo[];
  paramCount: number;
  /** The last layer's activation, which decides the data range ([0, 1] for sigmoid, [−1, 1] for tanh). */
  outputActivation: Activation | undefined;
}

/** The seed's convolutional autoencoder, with the seed's PyTorch parameter names. */
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

export const PRESETS: Record<string, ModelSpec> = { cae: CAE_SPEC };

const isPair = (v: unknown): boolean =>
  typeof v === 'number' || (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'));

/** Validates `raw` (parsed JSON) as a model spec; `source` names the file in messages. */
export function buildModel(raw: unknown, source = 'model spec'): Model {
  const fail = (msg: string): never => { throw new ConfigError(`${source}: ${msg}`); };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a JSON object with "input" and "layers"');
  const r = raw as Record<string, unknown>;
  const input = r.input;
  if (!Array.isArray(input) || input.length !== 3 || !input.every((d) => Number.isInteger(d) && d > 0)) {
    fail(`"input" must be [channels, height, width] of positive integers, got ${JSON.stringify(input)}`);
  }
  if (!Array.isArray(r.layers) || r.layers.length === 0) fail('"layers" must be a non-empty array');
  const layers: Layer[] = [];
  const names = new Set<string>();
  let shape = [...(input as number[])] as [number, number, number];
  (r.layers as unknown[]).forEach((l, index) => {
    const where = `layer ${index}`;
    if (typeof l !== 'object' || l === null) fail(`${where} must be an object`);
    const ls = l as Record<string, unknown>;
    const type = ls.type as LayerType;
    if (!TYPES.includes(type)) fail(`${where}: unknown type ${JSON.stringify(ls.type)} (one of ${TYPES.join(', ')})`);
    const name = ls.name === undefined ? String(index) : ls.name;
    if (typeof name !== 'string' || name === '' || names.has(name)) fail(`${where}: name ${JSON.stringify(name)} is empty or repeated`);
    names.add(name as string);
    const at = `${where} (${name}, ${type})`;
    for (const k of Object.keys(ls)) {
      if (k !== 'type' && k !== 'name' && !FIELDS[type].includes(k)) fail(`${at}: unknown field "${k}"`);
    }
    for (const k of ['kernel', 'stride', 'padding', 'outputPadding']) {
      if (ls[k] !== undefined && !isPair(ls[k])) fail(`${at}: "${k}" must be a number or [h, w]`);
    }
    const spec = ls as unknown as LayerSpec;
    const inShape = shape;
    let params: ParamInfo[] = [];
    try {
      if (type === 'conv2d' || type === 'convtranspose2d') {
        if (!Number.isInteger(spec.out) || spec.out! < 1) fail(`${at}: "out" must be a positive integer`);
        if (spec.kernel === undefined) fail(`${at}: "kernel" is required`);
        const k = typeof spec.kernel === 'number' ? [spec.kernel, spec.kernel] : spec.kernel!;
        const out = spec.out!;
        const x = [1, ...inShape];
        const g = type === 'conv2d'
          ? conv2dGeometry(x, [out, inShape[0], k[0]!, k[1]!], spec, name as string)
          : convTranspose2dGeometry(x, [inShape[0], out, k[0]!, k[1]!], spec, name as string);
        shape = [out, g.outSize[0], g.outSize[1]];
        // PyTorch computes fan_in from weight.size(1): `in` for Conv2d, but `out` for ConvTranspose2d.
        const w = type === 'conv2d' ? [out, inShape[0], k[0]!, k[1]!] : [inShape[0], out, k[0]!, k[1]!];
        const fanIn = w[1]! * w[2]! * w[3]!;
        params = [{ name: `${name}.weight`, shape: w, fanIn }, { name: `${name}.bias`, shape: [out], fanIn }];
      } else if (type === 'maxpool2d') {
        if (spec.kernel === undefined) fail(`${at}: "kernel" is required`);
        const g = maxpool2dGeometry([1, ...inShape], { kernel: spec.kernel!, stride: spec.stride, padding: spec.padding }, name as string);
        shape = [g.outShape[1], g.outShape[2], g.outShape[3]];
      }
    } catch (e) {
      if (e instanceof ShapeError) fail(`${at}: ${e.message}`);
      throw e;
    }
    layers.push({ index, name: name as string, spec, inShape, outShape: shape, params });
  });
  const last = layers[layers.length - 1]!;
  if (last.outShape.join() !== (input as number[]).join()) {
    fail(`output shape [${last.outShape.join(', ')}] (after layer ${last.index}, ${last.name}) must equal the input shape ` +
      `[${(input as number[]).join(', ')}] for an autoencoder`);
  }
  const params = layers.flatMap((l) => l.params);
  if (params.length === 0) fail('no layer has parameters to train (add a conv2d or convtranspose2d)');
  const lastType = last.spec.type;
  return {
    spec: raw as ModelSpec, layers, params,
    paramCount: params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0),
    outputActivation: lastType === 'sigmoid' || lastType === 'tanh' || lastType === 'relu' || lastType === 'selu' ? lastType : undefined,
  };
}
