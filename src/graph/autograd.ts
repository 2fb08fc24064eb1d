// Builds a step of a sequential model as a graph, driven by the layer records: gather → forward →
// loss → backward (the chain rule, layer by layer in reverse) → optimizer. Nothing here switches on
// a layer type: each record adds its own nodes. Saved tensors are simply read again by backward
// nodes, and the planner keeps them alive.
import { LAYERS, type Layer, type LayerBuilder, type Saved } from '../layers/index.ts';
import { fusablePool } from '../layers/pool.ts';
import type { FusableActivation } from '../layers/types.ts';
import { BACKWARD_FROM, type ActivationKind } from '../layers/activation.ts';
import type { Model } from '../nn/spec.ts';
import type { DataRange } from '../data/range.ts';
import type { AdamOptions } from '../ops/adam.ts';
import type { SgdOptions } from '../ops/sgd.ts';
import { Graph, size, type Tensor } from './graph.ts';
import type { PassArgs } from '../ops/passes.ts';
import { GUARD_COPY_MAX } from '../ops/guard.ts';

/** Guard status bits (shaders/guard.wgsl): which check flagged a step. */
export const GUARD_CODES = { loss: 1, gradient: 2, parameter: 4 } as const;

export type OptimizerConfig =
  | { kind: 'adam'; options: AdamOptions }
  | { kind: 'adamw'; options: AdamOptions }
  | { kind: 'sgd'; options: SgdOptions };

/**
 * All parameters live in one flat buffer (as in llm.c), so the optimizer is one dispatch and a
 * checkpoint is one copy: trainable ones first, so gradients and optimizer state (same layout)
 * cover only those, then frozen ones. Each starts on a 256-byte boundary, the largest
 * storage-offset alignment WebGPU lets an adapter require.
 */
export const PARAM_ALIGN = 64; // floats

export interface FlatLayout {
  offsets: Map<string, number>;
  /** Floats in the whole buffer. */
  total: number;
  /** Floats covered by gradients and optimizer state (the trainable prefix). */
  trainable: number;
}

const align = (n: number) => Math.ceil(n / PARAM_ALIGN) * PARAM_ALIGN;

export function paramLayout(model: Model): FlatLayout {
  const offsets = new Map<string, number>();
  let at = 0, trainable = 0;
  for (const p of model.params) {
    offsets.set(p.name, at);
    at += align(size(p.shape));
    if (p.trainable) trainable = at;
  }
  return { offsets, total: Math.max(at, PARAM_ALIGN), trainable: Math.max(trainable, PARAM_ALIGN) };
}

/** Batchnorm running statistics and other f32 buffers, flat like the parameters (int64 counters stay on the host). */
export function bufferLayout(model: Model): FlatLayout {
  const offsets = new Map<string, number>();
  let at = 0;
  for (const b of model.buffers) {
    if (b.dtype !== 'f32') continue;
    offsets.set(b.name, at);
    at += align(size(b.shape));
  }
  return { offsets, total: Math.max(at, PARAM_ALIGN), trainable: 0 };
}

/** Index of the lowest layer with trainable parameters: nothing below it needs a gradient. */
export function lowestTrainable(model: Model): number {
  return model.layers.findIndex((L) => !L.frozen && L.params.length > 0);
}

/** The persistent tensors of a step, by role (typed handles, not names). */
export interface ModelTensors {
  params: Tensor;
  buffers: Tensor;
  param: Map<string, Tensor>;   // each parameter's view
  buffer: Map<string, Tensor>;
  layout: FlatLayout;
  bufLayout: FlatLayout;
}

function modelTensors(g: Graph, model: Model): ModelTensors {
  const layout = paramLayout(model), bufLayout = bufferLayout(model);
  const params = g.tensor('params', [layout.total], 'param');
  const buffers = g.tensor('buffers', [bufLayout.total], 'buffer');
  return {
    params, buffers, layout, bufLayout,
    param: new Map(model.params.map((p) => [p.name, g.view(p.name, p.shape, params, layout.offsets.get(p.name)!)])),
    buffer: new Map(model.buffers.filter((b) => b.dtype === 'f32').map((b) => [b.name, g.view(b.name, b.shape, buffers, bufLayout.offsets.get(b.name)!)])),
  };
}

function builder(g: Graph, L: Layer, batch: number, mode: 'train' | 'eval', m: ModelTensors,
  grads: Map<string, Tensor>, seed: number): LayerBuilder {
  const get = (map: Map<string, Tensor>, kind: string, suffix: string) => {
    const t = map.get(`${L.name}.${suffix}`);
    if (!t) throw new Error(`layer ${L.name} has no ${kind} ${suffix}`);
    return t;
  };
  return {
    graph: g, batch, mode, seed,
    tensor: (suffix, shape, dtype = 'f32') => g.tensor(`${L.name}/${suffix}`, shape, 'transient', dtype),
    param: (suffix) => get(m.param, 'parameter', suffix),
    grad: (suffix) => (L.frozen ? undefined : get(grads, 'gradient', suffix)),
    buffer: (suffix) => get(m.buffer, 'buffer', suffix),
    node: (phase, part, pass, args, reads, writes) =>
      g.node({ label: `${L.name}/${part}`, layer: L.name, phase, pass, args, reads, writes }),
  };
}

/**
 * The forward pass of every layer from `input`; returns what each layer saved for its backward.
 * Layers a record applies itself are skipped: an activation its convolution applies as it stores,
 * and a 2×2 max pool after that (conv → activation → pool in one pass). For a pooled block the
 * activation and the pool get the pooled output and argmax as their saved tensors; the pool's
 * backward reads only those (and applies the activation's backward), so that is all they need.
 */
function forward(g: Graph, model: Model, batch: number, mode: 'train' | 'eval', input: Tensor, m: ModelTensors,
  grads: Map<string, Tensor>, seed = 0): Saved[] {
  const saved: Saved[] = [];
  let x = input;
  let skip = 0; // layers after the last one built that it already applied
  model.layers.forEach((L, i) => {
    if (skip > 0) {
      saved.push({ ...saved[saved.length - 1]!, x });
      skip--;
      return;
    }
    const rec = LAYERS[L.type]!;
    const next = model.layers[i + 1];
    const fuse: FusableActivation | undefined = rec.fusesActivation && next ? LAYERS[next.type]!.fusable?.(next.fields) : undefined;
    // The pool's backward applies the activation's from the pooled output, so only activations
    // whose backward reads their output can be pooled away.
    const poolG = rec.fusesPool && (!fuse || BACKWARD_FROM[fuse.kind] === 'y') ? fusablePool(model.layers[i + (fuse ? 2 : 1)], batch) : undefined;
    skip = (fuse ? 1 : 0) + (poolG ? 1 : 0);
    const s = rec.forward(builder(g, L, batch, mode, m, grads, seed), L, x, fuse, poolG && { g: poolG });
    saved.push(s);
    x = s.y;
  });
  return saved;
}

/** The loss of a model's output against its target, for a batch (`grad`: also dL/dy). */
export function lossArgs(model: Model, batch: number, grad: boolean, accuracy = false): PassArgs['loss'] {
  const values = size(model.output);
  return {
    kind: model.loss, batch, values, target: model.target, grad,
    // One value per row is a probability after a sigmoid, else a logit (thresholds 0.5 and 0).
    accuracy: accuracy && model.target === 'label' ? (model.outputActivation === 'sigmoid' ? 'probabilities' : 'logits') : undefined,
  };
}

export interface StepConfig {
  batch: number;
  records: number;      // records in the resident dataset
  range: DataRange;
  optimizer: OptimizerConfig;
  lossRing: number;     // slots in the loss ring
  /** The run's seed (dropout masks). */
  seed?: number;
  /** What a non-finite loss, gradient or parameter does: halt every later update, or drop that step only. */
  onNonFinite?: 'stop' | 'skip';
}

export interface StepGraph extends ModelTensors {
  graph: Graph;
  input: Tensor;
  output: Tensor;
  /** Gradients (views into `grads`) of the trainable parameters. */
  grads: Tensor;
  grad: Map<string, Tensor>;
  /** Optimizer state buffers by name ('adam/m', 'adam/v', 'sgd/momentum'), flat like the gradients. */
  state: Map<string, Tensor>;
  dataset: Tensor;
  labelData: Tensor;
  order: Tensor;
  loss: Tensor;
  /** Per loss-ring slot: [guard status bits, first bad element] (see shaders/guard.wgsl). */
  status: Tensor;
  /** [0]: nonzero once a stop-mode guard fired; the host resets it when it restores state. */
  halt: Tensor;
}

export function buildTrainingGraph(model: Model, c: StepConfig): StepGraph {
  const g = new Graph();
  const B = c.batch;
  const m = modelTensors(g, model);
  const grads = g.tensor('grads', [m.layout.trainable], 'grad');
  const grad = new Map(model.params.filter((p) => p.trainable)
    .map((p) => [p.name, g.view(`${p.name}/grad`, p.shape, grads, m.layout.offsets.get(p.name)!)]));

  // The guard opens this step's status slot and snapshots everything a step changes, so a step that
  // turns anything non-finite is undone on the GPU (shaders/guard.wgsl). The first snapshot opens
  // the slot and the last restore settles the halt, so neither needs a dispatch of its own.
  const sticky = (c.onNonFinite ?? 'stop') === 'stop';
  const loss = g.tensor('loss', [c.lossRing], 'loss');
  const status = g.tensor('guard/status', [2 * c.lossRing], 'loss', 'u32');
  const halt = g.tensor('guard/halt', [4], 'loss', 'u32');
  const check = (label: string, count: number, code: number, values: Tensor, atSlot = false) =>
    g.node({ label: `guard/check/${label}`, layer: 'guard', phase: 'guard', pass: 'guard.check', args: { count, code, sticky, atSlot },
      reads: { values }, writes: { status } });
  const optState = c.optimizer.kind === 'sgd' ? ['sgd/momentum'] : ['adam/m', 'adam/v'];
  const state = new Map(optState.map((name) => [name, g.tensor(name, [m.layout.trainable], 'state')]));
  const live: [string, Tensor, number][] = [['params', m.params, m.layout.trainable],
    ...[...state].map(([name, t]): [string, Tensor, number] => [name, t, m.layout.trainable])];
  if (model.buffers.some((b) => b.dtype === 'f32')) live.push(['buffers', m.buffers, m.bufLayout.total]);
  // One save (and later one restore) per three tensors: Adam's parameters, m and v are one dispatch.
  const snapshots = live.map(([name, t, count]) => ({ name, t, count, snap: g.tensor(`guard/snapshot/${name}`, [count], 'state') }));
  const groups = Array.from({ length: Math.ceil(snapshots.length / GUARD_COPY_MAX) }, (_, i) => snapshots.slice(i * GUARD_COPY_MAX, (i + 1) * GUARD_COPY_MAX));
  const pairs = (grp: typeof snapshots, from: 't' | 'snap', side: 'src' | 'dst') => Object.fromEntries(grp.map((x, k) => [`${side}${k}`, x[from]]));
  const copies = (grp: typeof snapshots, o: { opens?: boolean; settles?: boolean }) =>
    ({ count: 0, code: 0, sticky, counts: grp.map((x) => x.count), ...o });
  const groupLabel = (grp: typeof snapshots) => grp.map((x) => x.name).join('+');
  groups.forEach((grp, i) => g.node({ label: `guard/save/${groupLabel(grp)}`, layer: 'guard', phase: 'guard', pass: 'guard.save',
    args: copies(grp, { opens: i === 0 }), reads: { ...pairs(grp, 't', 'src'), halt }, writes: { ...pairs(grp, 'snap', 'dst'), status } }));

  // Data: the batch is gathered from the resident bytes and scaled; labels come along.
  const recordSize = size(model.input);
  const dataset = g.tensor('dataset', [Math.ceil((c.records * recordSize) / 4) * 4], 'data', 'u8');
  const labelData = g.tensor('labels', [c.records], 'labels', 'u32');
  const order = g.tensor('order', [c.records], 'order', 'u32');
  const input = g.tensor('input', [B, ...model.input]);
  const labels = g.tensor('input/labels', [B], 'transient', 'u32');
  g.node({ label: 'data/gather', layer: 'data', phase: 'data', pass: 'data.gather',
    args: { batch: B, recordSize, orderLength: c.records, range: c.range },
    reads: { pixels: dataset, order, labels: labelData }, writes: { x: input, y_labels: labels } });

  const saved = forward(g, model, B, 'train', input, m, grad, c.seed ?? 0);
  const output = saved[saved.length - 1]!.y;

  // Loss, into this step's slot of the loss ring, fused with its gradient — and with the output
  // activation's backward when that reads only the output (sigmoid after MSE, say).
  const lowest = lowestTrainable(model);
  const last = model.layers.length - 1;
  const lastL = model.layers[last]!;
  const outAct = model.loss !== 'cross_entropy' && last > lowest && BACKWARD_FROM[lastL.type as ActivationKind] === 'y'
    ? LAYERS[lastL.type]!.fusable?.(lastL.fields) : undefined;
  let dy = g.tensor(outAct ? `${lastL.name}/grad_in` : 'loss/grad', output.shape);
  const args = lossArgs(model, B, true);
  if (outAct && outAct.kind !== 'gelu') args.actGrad = { kind: outAct.kind, slope: outAct.slope };
  g.node({ label: outAct ? `loss+${outAct.kind}` : 'loss', layer: 'loss', phase: 'loss', pass: 'loss', args,
    reads: { y: output, target: model.target === 'label' ? labels : input }, writes: { loss, dy } });
  check('loss', 1, GUARD_CODES.loss, loss, true);

  // Backward, last layer first (or the one before a fused output activation), down to the lowest
  // trainable layer (which needs no input gradient).
  // Layer k if it is an activation whose backward (reading only its output) a later layer can apply.
  const gradFusable = (k: number) => {
    const A = model.layers[k];
    return A && k > lowest && BACKWARD_FROM[A.type as ActivationKind] === 'y' ? LAYERS[A.type]!.fusable?.(A.fields) : undefined;
  };
  for (let i = args.actGrad ? last - 1 : last; i >= lowest; i--) {
    const L = model.layers[i]!;
    const rec = LAYERS[L.type]!;
    // An activation right before a layer that can apply its backward (conv → act → pool) is
    // folded into that layer's backward, if its backward reads only its output.
    const prev = model.layers[i - 1];
    // conv ← 2×2 max pool (← activation): the conv's input-gradient store goes on through the pool's
    // backward and the activation's, so the gradient at the pool's output is never a tensor.
    const poolG = rec.fusesPoolGrad && i > lowest ? fusablePool(prev, B) : undefined;
    const poolGrad = poolG ? { g: poolG, argmax: saved[i - 1]!.argmax!, y: saved[i - 1]!.y, act: gradFusable(i - 2) } : undefined;
    const act = !poolGrad && rec.fusesActivationGrad ? gradFusable(i - 1) : undefined;
    const fuse = act ? { ...act, y: saved[i - 1]!.y } : undefined;
    const gx = rec.backward(builder(g, L, B, 'train', m, grad, c.seed ?? 0), L, saved[i]!, dy, i > lowest, fuse, poolGrad);
    if (i > lowest) {
      if (!gx) throw new Error(`layer ${L.name} (${L.type}) returned no input gradient`);
      dy = gx;
    }
    if (fuse) i--; // that activation's backward is done
    if (poolGrad) i -= poolGrad.act ? 2 : 1; // and those of the pool and its activation
  }

  // Optimizer: one dispatch over the trainable prefix of the flat parameter buffer, skipped when
  // the guard flagged this step (or, stopping, any earlier one).
  const count = m.layout.trainable;
  check('gradients', count, GUARD_CODES.gradient, grads);
  const opt = c.optimizer;
  if (opt.kind === 'adam' || opt.kind === 'adamw') {
    const [mm, v] = [state.get('adam/m')!, state.get('adam/v')!];
    g.node({ label: `optimizer/${opt.kind}`, layer: 'optimizer', phase: 'optimizer', pass: 'optimizer.adam',
      args: { count, options: { ...opt.options, decoupled: opt.kind === 'adamw' } },
      reads: { grad: grads, param: m.params, m: mm, v, status, halt }, writes: { param: m.params, m: mm, v } });
  } else {
    const mom = state.get('sgd/momentum')!;
    g.node({ label: 'optimizer/sgd', layer: 'optimizer', phase: 'optimizer', pass: 'optimizer.sgd', args: { count, options: opt.options },
      reads: { grad: grads, param: m.params, momentum: mom, status, halt }, writes: { param: m.params, momentum: mom } });
  }
  check('parameters', count, GUARD_CODES.parameter, m.params);
  groups.forEach((grp, i) => g.node({ label: `guard/restore/${groupLabel(grp)}`, layer: 'guard', phase: 'guard', pass: 'guard.restore',
    args: copies(grp, { settles: i === groups.length - 1 }), reads: { ...pairs(grp, 'snap', 'src'), status, halt }, writes: { ...pairs(grp, 't', 'dst'), halt } }));
  return { ...m, graph: g, input, output, grads, grad, state, dataset, labelData, order, loss, status, halt };
}

export interface ForwardGraph extends ModelTensors {
  graph: Graph;
  input: Tensor;
  output: Tensor;
}

/** A forward-only graph in evaluation mode on `batch` inputs uploaded to its `input` tensor. */
export function buildForwardGraph(model: Model, batch: number): ForwardGraph {
  const g = new Graph();
  const m = modelTensors(g, model);
  const input = g.tensor('input', [batch, ...model.input], 'io');
  const saved = forward(g, model, batch, 'eval', input, m, new Map());
  return { ...m, graph: g, input, output: saved[saved.length - 1]!.y };
}

export interface EvalGraph extends ForwardGraph {
  dataset: Tensor;
  labelData: Tensor;
  order: Tensor;
  /** One slot per batch: its mean loss, and (label targets) its count of correct predictions. */
  loss: Tensor;
  correct: Tensor;
}

/**
 * Evaluation on a resident dataset: gather a batch (the last one may be short: its rows are set per
 * run), the forward pass in evaluation mode (batchnorm on running statistics, dropout off), the
 * loss without its gradient, and the correct-prediction count.
 */
export function buildEvalGraph(model: Model, c: { batch: number; records: number; range: DataRange; batches: number }): EvalGraph {
  const g = new Graph();
  const m = modelTensors(g, model);
  const recordSize = size(model.input);
  const dataset = g.tensor('eval/dataset', [Math.ceil((c.records * recordSize) / 4) * 4], 'data', 'u8');
  const labelData = g.tensor('eval/labels', [c.records], 'labels', 'u32');
  const order = g.tensor('eval/order', [c.records], 'order', 'u32');
  const input = g.tensor('input', [c.batch, ...model.input]);
  const labels = g.tensor('input/labels', [c.batch], 'transient', 'u32');
  g.node({ label: 'data/gather', layer: 'data', phase: 'data', pass: 'data.gather',
    args: { batch: c.batch, recordSize, orderLength: c.records, range: c.range },
    reads: { pixels: dataset, order, labels: labelData }, writes: { x: input, y_labels: labels } });
  const saved = forward(g, model, c.batch, 'eval', input, m, new Map());
  const output = saved[saved.length - 1]!.y;
  const loss = g.tensor('eval/loss', [c.batches], 'loss');
  const correct = g.tensor('eval/correct', [c.batches], 'loss');
  const accuracy = model.target === 'label';
  g.node({ label: 'loss', layer: 'loss', phase: 'loss', pass: 'loss', args: lossArgs(model, c.batch, false, accuracy),
    reads: { y: output, target: accuracy ? labels : input }, writes: accuracy ? { loss, correct } : { loss } });
  return { ...m, graph: g, input, output, dataset, labelData, order, loss, correct };
}
