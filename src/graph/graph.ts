// The training step as data: tensors (typed handles) and nodes. A node names a pass (a key of the
// pass table in src/ops/passes.ts), its arguments, and the tensors it reads and writes; the runner
// resolves the pass and builds its dispatches. Nothing here knows WGSL, so a graph can be built,
// printed and planned without a GPU.
import type { PassArgs, PassName } from '../ops/passes.ts';

/**
 * Where a tensor lives. `transient` tensors (activations, their gradients, argmax, scratch) share
 * reusable slots planned by liveness; the rest persist across steps in buffers of their own kind.
 */
export type Residence =
  | 'transient'
  | 'param'   // trainable and frozen parameters, one flat f32 buffer
  | 'grad'    // gradients of the trainable parameters, same layout
  | 'state'   // optimizer state (Adam moments, SGD momentum), same layout
  | 'buffer'  // non-trained model state kept in the weights file (batchnorm running statistics)
  | 'data' | 'labels' | 'order' // the resident dataset: bytes, one u32 label per record, the epoch's order
  | 'loss'    // the loss ring (and per-step status words), read back asynchronously
  | 'io';     // uploaded by the host each run (a predictor's input batch)

export type DType = 'f32' | 'u32' | 'i32' | 'u8';
const BYTES: Record<DType, number> = { f32: 4, u32: 4, i32: 4, u8: 1 };

export interface TensorInfo {
  id: number;
  name: string;          // e.g. 'conv1.0/out', 'conv1.0/grad_in', 'conv1.0.weight'
  shape: number[];
  dtype: DType;
  residence: Residence;
  bytes: number;
  /** A range of another (persistent) tensor: each parameter is a view into the flat parameter buffer. */
  view?: { of: number; offset: number };
}

/**
 * A typed handle to a tensor. `shape` is the shape the holder sees: a flatten gives a handle with a
 * new shape on the same storage (same id), so reshapes cost nothing.
 */
export interface Tensor {
  readonly id: number;
  readonly shape: readonly number[];
}

export type Phase = 'data' | 'forward' | 'loss' | 'backward' | 'optimizer' | 'guard';

/** One pass of one layer: which pass, with what arguments, on which tensors. */
export interface Node<K extends PassName = PassName> {
  label: string;  // names the layer and pass: 'conv2.0/backward/dw' — used for GPU labels and profiles
  layer: string;  // the layer name, or 'data' / 'loss' / 'optimizer'
  phase: Phase;
  pass: K;
  args: PassArgs[K];
  /** The pass's named inputs and outputs (names as the pass declares them). */
  reads: Record<string, Tensor>;
  writes: Record<string, Tensor>;
}

/** What the host knows about a step without reading anything back from the GPU. */
export interface StepContext {
  step: number;      // 1-based, counted over the whole run
  batchBase: number; // position in the order list of this batch's first record
  lossSlot: number;  // where in the loss ring this step's loss goes
  rows: number;      // valid rows of this batch (evaluation's last batch may be short)
  /** Batchnorm's num_batches_tracked after this step (momentum=None averages over it); default: step. */
  tracked?: number;
}

export const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

export class Graph {
  readonly tensors: TensorInfo[] = [];
  readonly nodes: Node[] = [];

  tensor(name: string, shape: readonly number[], residence: Residence = 'transient', dtype: DType = 'f32'): Tensor {
    const id = this.tensors.length;
    this.tensors.push({ id, name, shape: [...shape], dtype, residence, bytes: size(shape) * BYTES[dtype] });
    return { id, shape: [...shape] };
  }

  /** A view of `of` starting at element `offset` (which must respect storage offset alignment). */
  view(name: string, shape: readonly number[], of: Tensor, offset: number): Tensor {
    const base = this.info(of);
    const t = this.tensor(name, shape, base.residence, base.dtype);
    this.tensors[t.id]!.view = { of: of.id, offset };
    return t;
  }

  /** The same storage seen with another shape of equal size (flatten). */
  reshape(t: Tensor, shape: readonly number[]): Tensor {
    if (size(shape) !== size(t.shape)) throw new Error(`reshape of ${this.info(t).name}: [${t.shape}] to [${shape}] changes its size`);
    return { id: t.id, shape: [...shape] };
  }

  info(t: Tensor | number): TensorInfo {
    return this.tensors[typeof t === 'number' ? t : t.id]!;
  }

  /** The first persistent tensor (not a view) called `name`. */
  find(name: string): Tensor | undefined {
    const t = this.tensors.find((x) => x.name === name && !x.view);
    return t && { id: t.id, shape: t.shape };
  }

  node<K extends PassName>(n: Node<K>): void {
    this.nodes.push(n as unknown as Node);
  }
}

/** Tensor ids a node reads and writes, for liveness. */
export const readIds = (n: Node): number[] => Object.values(n.reads).map((t) => t.id);
export const writeIds = (n: Node): number[] => Object.values(n.writes).map((t) => t.id);
