// What a layer type must say, in one record: its fields, shape rule, parameters and buffers with
// PyTorch names and init, the graph nodes of its forward and backward passes, its FLOPs and its
// PyTorch twin. The registry (index.ts) is typed so a record that forgets any of these does not
// compile. Records import no WGSL: they name passes, and only the runner loads kernels.
import type { Graph, Node, Phase, Tensor } from '../graph/graph.ts';
import type { PassArgs, PassName } from '../ops/passes.ts';
import type { ActivationKind } from './activation.ts';
import type { PoolGeometry } from '../geometry/pool.ts';

/** A shape without the batch dimension: [C, H, W] for images, [F] for feature vectors. */
export type Shape = readonly number[];

/**
 * One field of a layer type. A field with neither `default` nor `optional` is required; an optional
 * one stays undefined when absent (maxpool2d's stride, which then equals its kernel).
 */
export type FieldSpec = { doc: string; optional?: boolean } & (
  | { kind: 'int'; min: number; default?: number }
  | { kind: 'number'; min?: number; max?: number; above?: number; below?: number; default?: number }
  | { kind: 'pair'; min: number; default?: number | [number, number] }
  | { kind: 'bool'; default?: boolean }
  | { kind: 'number-or-null'; min?: number; max?: number; default?: number | null });

export type Fields = Record<string, FieldSpec>;

/** PyTorch's default initialisations, as far as Kiln's layers need them. */
export type Init = { kind: 'uniform'; bound: number } | { kind: 'const'; value: number };

export interface ParamDecl { name: string; shape: number[]; init: Init }
export interface BufferDecl { name: string; shape: number[]; dtype: 'f32' | 'i64'; init: number }

/** What a layer's activation says about fusing into the convolution or linear layer before it. */
export interface FusableActivation { kind: ActivationKind; slope: number }

/**
 * A max pool a convolution applies after its (fused) activation as it stores: its geometry. The
 * convolution's y is then the pooled output, and it also writes the argmax.
 */
export interface FusedPool { g: PoolGeometry }

/** An activation's backward folded into the next layer's backward: the activation and its output. */
export interface FusedGrad extends FusableActivation { y: Tensor }

/**
 * A 2×2 stride-2 max pool just before a layer — and maybe the activation before the pool — whose
 * backward passes that layer's input-gradient store continues through: the pool's geometry, its
 * argmax and output (at an argmax, the activation's output too).
 */
export interface FusedPoolGrad { g: PoolGeometry; argmax: Tensor; y: Tensor; act?: FusableActivation }

/** One layer after validation: its resolved fields, shapes in and out, and its parameters. */
export interface Layer<F = Record<string, unknown>> {
  index: number;
  name: string;
  type: string;
  fields: F;
  inShape: Shape;
  outShape: Shape;
  params: ParamDecl[];
  buffers: BufferDecl[];
  /** `"frozen": true` in the spec: parameters get no gradient and no update. */
  frozen: boolean;
}

/** Tensors a layer's forward pass leaves for its backward pass. */
export interface Saved {
  x: Tensor;
  y: Tensor;
  [k: string]: Tensor | undefined;
}

/** The graph-building services a record's forward and backward use. */
export interface LayerBuilder {
  readonly graph: Graph;
  readonly batch: number;
  readonly mode: 'train' | 'eval';
  /** The run's seed (dropout's generator is keyed by it). */
  readonly seed: number;
  /** A new transient tensor `${layer}/${suffix}` of `shape` (batch dimension included). */
  tensor(suffix: string, shape: readonly number[], dtype?: 'f32' | 'i32' | 'u32'): Tensor;
  /** The parameter `${layer}.${suffix}` (a view into the flat parameter buffer). */
  param(suffix: string): Tensor;
  /** Its gradient, or undefined when the layer is frozen (no gradient is computed). */
  grad(suffix: string): Tensor | undefined;
  /** The buffer `${layer}.${suffix}` (batchnorm running statistics). */
  buffer(suffix: string): Tensor;
  /** Adds a node labelled `${layer}/${part}`. */
  node<K extends PassName>(phase: Phase, part: string, pass: K, args: PassArgs[K],
    reads: Node['reads'], writes: Node['writes']): void;
}

export interface Flops {
  forward: number;
  /** The input gradient (skipped for the first layer that needs none). */
  backwardInput: number;
  /** The parameter gradients (skipped when frozen). */
  backwardParams: number;
}

export interface LayerRecord<F> {
  readonly type: string;
  readonly doc: string;
  readonly fields: { readonly [K in keyof F]-?: FieldSpec };
  /** Output shape for input `x`; throws a ShapeError naming what does not fit. */
  shape(x: Shape, f: F): Shape;
  params(x: Shape, f: F): ParamDecl[];
  buffers(x: Shape, f: F): BufferDecl[];
  /**
   * Adds the forward nodes; `fuse` is a following activation this layer applies as it stores y, and
   * `pool` a max pool after that (only offered to records with `fusesPool`).
   */
  forward(b: LayerBuilder, L: Layer<F>, x: Tensor, fuse?: FusableActivation, pool?: FusedPool): Saved;
  /**
   * Adds the backward nodes; returns the input gradient when `needDx`. With `fuseGrad`, the layer
   * before this one is an activation whose backward this layer applies as it stores (reading that
   * activation's output `y`), and the gradient returned is at the activation's input. With
   * `poolGrad` (records with `fusesPoolGrad`), the layer before is a max pool (and maybe an activation
   * before that) whose backward passes it applies, returning the gradient at their input.
   */
  backward(b: LayerBuilder, L: Layer<F>, saved: Saved, dy: Tensor, needDx: boolean, fuseGrad?: FusedGrad, poolGrad?: FusedPoolGrad): Tensor | undefined;
  /** Floating-point operations per pass for a batch of `batch`. */
  flops(L: Layer<F>, batch: number): Flops;
  /** Its PyTorch constructor, one line of Python (`nn.Conv2d(3, 16, kernel_size=(3, 3), …)`). */
  torch(L: Layer<F>): string;
  /** Set on activations a convolution may apply as it stores (fusion). */
  fusable?(f: F): FusableActivation | undefined;
  /** Set on layers that can apply a following fusable activation themselves. */
  readonly fusesActivation?: boolean;
  /** Set on layers that can also apply a 2×2 stride-2 max pool after that activation (or after themselves). */
  readonly fusesPool?: boolean;
  /** Set on layers whose input-gradient store can also apply a 2×2 max pool's backward (and an activation's before it). */
  readonly fusesPoolGrad?: boolean;
  /** Set on layers whose backward can also apply the backward of a fusable activation just before them. */
  readonly fusesActivationGrad?: boolean;
}
