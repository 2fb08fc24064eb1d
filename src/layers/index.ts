// The layer registry: one record per layer type (see types.ts for what a record must say). Adding
// a layer type is one record here plus its kernels; nothing else switches on type names.
import type { LayerRecord } from './types.ts';
import { conv2d, convtranspose2d } from './conv.ts';
import { linear, flatten } from './linear.ts';
import { avgpool2d, maxpool2d } from './pool.ts';
import { batchnorm2d, dropout } from './norm.ts';
import { upsample } from './upsample.ts';
import { gelu, leakyrelu, relu, selu, sigmoid, tanh } from './activation.ts';

// `any` is the one place field types are erased: each record is checked against its own fields
// where it is defined, and the spec reader validates raw JSON against `fields` before use.
// biome-ignore lint/suspicious/noExplicitAny: the registry's one erased field type (see above)
type AnyRecord = LayerRecord<any>;

export const LAYERS: Readonly<Record<string, AnyRecord>> = {
  conv2d, convtranspose2d, linear, flatten, maxpool2d, avgpool2d, upsample, batchnorm2d, dropout,
  relu, selu, sigmoid, tanh, leakyrelu, gelu,
};

export type { LayerRecord, Layer, Shape, Saved, LayerBuilder, ParamDecl, BufferDecl } from './types.ts';
