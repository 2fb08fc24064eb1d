// The training step as data: tensors and nodes (each node = the dispatches of one op pass, with the
// tensors it reads and writes). Built by autograd.ts from a model; planned by plan/; replayed by run/.
// Nothing here knows WGSL: a node's `build` calls an op binding with the buffers the plan chose.
import type { Binding } from '../gpu/kernel.ts';
import type { Dispatch } from '../ops/dispatch.ts';

/**
 * Where a tensor lives. `transient` tensors (activations, their gradients, argmax, scratch) share
 * reusable slots planned by liveness; the rest persist across steps in buffers of their own kind.
 */
export type Residence = 'transient' | 'param' | 'grad' | 'state' | 'data' | 'order' | 'loss' | 'io';

export interface TensorInfo {
  id: number;
  name: string;          // e.g. 'conv1.0/out', 'conv1.0/grad_in', 'conv1.0.weight'
  shape: number[];
  residence: Residence;
  bytes: number;
  /** A range of another (persistent) tensor: each parameter is a view into the flat parameter buffer. */
  view?: { of: number; offset: number };
}

export type Phase = 'data' | 'forward' | 'loss' | 'backward' | 'optimizer';

export interface Node {
  label: string;  // names the layer and pass: 'conv2.0/backward/dw' — used for GPU labels and profiles
  layer: string;  // the layer name, or 'data' / 'loss' / 'optimizer'
  phase: Phase;
  reads: number[];
  writes: number[];
  build(device: GPUDevice, at: (tensor: number) => Binding): Dispatch[];
  /** Rewrites the scalars that change per step (batch position, loss slot, optimizer step). */
  perStep?(device: GPUDevice, dispatches: Dispatch[], s: StepContext): void;
}

/** What the host knows about a step without reading anything back from the GPU. */
export interface StepContext {
  step: number;      // 1-based, counted over the whole run
  batchBase: number; // position in the order list of this batch's first record
  lossSlot: number;  // where in the loss ring this step's loss goes
}

export class Graph {
  readonly tensors: TensorInfo[] = [];
  readonly nodes: Node[] = [];

  tensor(name: string, shape: number[], residence: Residence = 'transient', bytesPerElement = 4): number {
    const id = this.tensors.length;
    this.tensors.push({ id, name, shape, residence, bytes: shape.reduce((a, b) => a * b, 1) * bytesPerElement });
    return id;
  }

  /** A view of `of` starting at element `offset` (which must respect storage offset alignment). */
  view(name: string, shape: number[], of: number, offset: number): number {
    const base = this.tensors[of]!;
    const id = this.tensor(name, shape, base.residence);
    this.tensors[id]!.view = { of, offset };
    return id;
  }

  node(n: Node): void {
    this.nodes.push(n);
  }
}
