// Builds the whole training step of a sequential model as a graph: gather → forward → MSE →
// backward (the chain rule, layer by layer in reverse) → optimizer. Each layer type maps to its op
// passes here, in one place; saved tensors (a conv's input, a pool's argmax, an activation's input
// or output) are simply read again by the backward node, and the planner keeps them alive.
import type { Model, Layer } from '../nn/spec.ts';
import { Graph } from './graph.ts';
import { conv2dBackwardInput, conv2dForward, conv2dGeometry, convGradBias, convGradScratch, convGradWeight, type ConvGeometry } from '../ops/conv2d.ts';
import type { Binding } from '../gpu/kernel.ts';
import {
  convTranspose2dBackwardBias, convTranspose2dBackwardInput, convTranspose2dBackwardWeight, convTranspose2dForward,
  convTranspose2dGeometry, convTranspose2dGradScratch,
} from '../ops/conv_transpose2d.ts';
import { maxpool2dBackward, maxpool2dForward, maxpool2dGeometry } from '../ops/maxpool2d.ts';
import { activationBackward, activationForward, ACTIVATIONS, type Activation } from '../ops/activation.ts';
import { MSE_PARTS, mseGrad, mseLoss, msePrepare } from '../ops/mse.ts';
import { gatherBatch, gatherPrepare, type DataRange } from '../ops/gather.ts';
import type { Dispatch } from '../ops/dispatch.ts';
import { adamPrepare, adamStep, type AdamOptions } from '../ops/adam.ts';
import { sgdPrepare, sgdStep, type SgdOptions } from '../ops/sgd.ts';

export type OptimizerConfig = { kind: 'adam'; options: AdamOptions } | { kind: 'sgd'; options: SgdOptions };

export interface StepConfig {
  batch: number;
  records: number;      // records in the resident dataset
  range: DataRange;
  optimizer: OptimizerConfig;
  lossRing: number;     // slots in the loss ring
}

/**
 * All parameters live in one flat buffer (as in llm.c), so the optimizer is one dispatch and a
 * checkpoint is one copy. Each starts on a 256-byte boundary, the largest storage-offset
 * alignment WebGPU allows an adapter to require. Gradients and optimizer state share the layout.
 */
export const PARAM_ALIGN = 64; // floats

export interface ParamLayout { offsets: Map<string, number>; total: number }

export function paramLayout(model: Model): ParamLayout {
  const offsets = new Map<string, number>();
  let at = 0;
  for (const p of model.params) {
    offsets.set(p.name, at);
    at += Math.ceil(size(p.shape) / PARAM_ALIGN) * PARAM_ALIGN;
  }
  return { offsets, total: Math.max(at, PARAM_ALIGN) };
}

export interface TrainingGraph {
  graph: Graph;
  input: number;
  output: number;
  params: Map<string, number>;     // parameter name → tensor id
  paramGrads: Map<string, number>;
  layout: ParamLayout;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function buildTrainingGraph(model: Model, c: StepConfig): TrainingGraph {
  const g = new Graph();
  const B = c.batch;
  const shape4 = (chw: readonly number[]) => [B, ...chw];
  const layout = paramLayout(model);
  const P = g.tensor('params', [layout.total], 'param'), G = g.tensor('grads', [layout.total], 'grad');
  const params = new Map<string, number>();
  const paramGrads = new Map<string, number>();
  for (const p of model.params) {
    const at = layout.offsets.get(p.name)!;
    params.set(p.name, g.view(p.name, p.shape, P, at));
    paramGrads.set(p.name, g.view(`${p.name}/grad`, p.shape, G, at));
  }

  // Data: the batch is gathered from the resident bytes and scaled.
  const data = g.tensor('dataset', [c.records, size(model.spec.input)], 'data', 1);
  const order = g.tensor('order', [c.records], 'order');
  const input = g.tensor('input', shape4(model.spec.input));
  const gcfg = { batch: B, recordSize: size(model.spec.input), orderLength: c.records, range: c.range };
  g.node({
    label: 'data/gather', layer: 'data', phase: 'data', reads: [data, order], writes: [input],
    build: (d, at) => [gatherBatch(d, gcfg, { pixels: at(data), order: at(order), x: at(input) })],
    perStep: (d, [k], s) => gatherPrepare(d, k!, gcfg, s.batchBase),
  });

  const { outs, argmaxes, geos, output } = buildForward(g, model, B, input, params);

  // Loss: MSE against the input itself (an autoencoder), into this step's slot of the loss ring.
  const n = size(shape4(model.spec.input));
  const loss = g.tensor('loss', [c.lossRing], 'loss');
  const scratch = g.tensor('loss/partials', [MSE_PARTS]);
  g.node({ label: 'loss/mse', layer: 'loss', phase: 'loss', reads: [output, input], writes: [scratch, loss],
    build: (d, at) => mseLoss(d, n, 0, { y: at(output), target: at(input), scratch: at(scratch), loss: at(loss) }, 'loss/mse'),
    perStep: (d, ds, s) => msePrepare(d, ds, n, s.lossSlot),
  });
  let grad = g.tensor('loss/grad', shape4(model.spec.input));
  const gOut = grad;
  g.node({ label: 'loss/grad', layer: 'loss', phase: 'loss', reads: [output, input], writes: [gOut],
    build: (d, at) => [mseGrad(d, n, { y: at(output), target: at(input), dy: at(gOut) }, 'loss/grad')] });

  // Backward, last layer first. No input gradient is made for layers before the first parameter.
  const firstParam = model.layers.findIndex((L) => L.params.length > 0);
  for (let i = model.layers.length - 1; i >= 0 && i >= firstParam; i--) {
    const L = model.layers[i]!;
    const t = L.spec.type;
    const xin = i === 0 ? input : outs[i - 1]!;
    const gy = grad;
    const needDx = i > firstParam;
    const gx = needDx ? g.tensor(`${L.name}/grad_in`, shape4(L.inShape)) : -1;
    const label = `${L.name}/backward`;
    if (t === 'conv2d' || t === 'convtranspose2d') {
      const geo = geos[i]!;
      const [w] = [params.get(L.params[0]!.name)!];
      const [dw, db] = [paramGrads.get(L.params[0]!.name)!, paramGrads.get(L.params[1]!.name)!];
      const conv = t === 'conv2d';
      // Gradient sums split over the batch need scratch for their per-chunk partials.
      const need = (conv ? convGradScratch : convTranspose2dGradScratch)(geo);
      const sw = need.weight > 0 ? g.tensor(`${L.name}/dw_partials`, [need.weight]) : undefined;
      const sb = need.bias > 0 ? g.tensor(`${L.name}/db_partials`, [need.bias]) : undefined;
      const maybe = (id: number | undefined, at: (t: number) => Binding) => (id === undefined ? undefined : at(id));
      g.node({ label: `${label}/dw`, layer: L.name, phase: 'backward', reads: [xin, gy], writes: sw === undefined ? [dw] : [sw, dw],
        build: (d, at) => (conv ? convGradWeight : convTranspose2dBackwardWeight)(d, geo, { x: at(xin), dy: at(gy), dw: at(dw), scratch: maybe(sw, at) }, `${label}/dw`) });
      g.node({ label: `${label}/db`, layer: L.name, phase: 'backward', reads: [gy], writes: sb === undefined ? [db] : [sb, db],
        build: (d, at) => (conv ? convGradBias : convTranspose2dBackwardBias)(d, geo, { dy: at(gy), db: at(db), scratch: maybe(sb, at) }, `${label}/db`) });
      if (needDx) {
        g.node({ label: `${label}/dx`, layer: L.name, phase: 'backward', reads: [gy, w], writes: [gx],
          build: (d, at) => [(conv ? conv2dBackwardInput : convTranspose2dBackwardInput)(d, geo, { dy: at(gy), w: at(w), dx: at(gx) }, `${label}/dx`)] });
      }
    } else if (t === 'maxpool2d') {
      if (!needDx) continue;
      const geo = maxpool2dGeometry(shape4(L.inShape), { kernel: L.spec.kernel!, stride: L.spec.stride, padding: L.spec.padding });
      const arg = argmaxes[i]!;
      g.node({ label, layer: L.name, phase: 'backward', reads: [gy, arg], writes: [gx],
        build: (d, at) => [maxpool2dBackward(d, geo, { dy: at(gy), argmax: at(arg), dx: at(gx) }, label)] });
    } else {
      if (!needDx) continue;
      const yout = outs[i]!; // the derivative is computed from the output, fused or not
      const cnt = size(shape4(L.inShape));
      g.node({ label, layer: L.name, phase: 'backward', reads: [yout, gy], writes: [gx],
        build: (d, at) => [activationBackward(d, t as Activation, cnt, { y: at(yout), dy: at(gy), dx: at(gx) }, label)] });
    }
    grad = gx;
  }

  // Optimizer: one dispatch over the flat parameter buffer (all parameters are views into it).
  const flat = (name: string) => g.tensor(name, [layout.total], 'state');
  const count = layout.total;
  const opt = c.optimizer;
  if (opt.kind === 'adam') {
    const m = flat('adam/m'), v = flat('adam/v');
    g.node({ label: 'optimizer/adam', layer: 'optimizer', phase: 'optimizer', reads: [G], writes: [P, m, v],
      build: (d, at) => [adamStep(d, count, opt.options, { param: at(P), grad: at(G), m: at(m), v: at(v) }, 'optimizer/adam')],
      perStep: (d, [k], s) => adamPrepare(d, k!, count, opt.options, s.step) });
  } else {
    const mom = flat('sgd/momentum');
    g.node({ label: 'optimizer/sgd', layer: 'optimizer', phase: 'optimizer', reads: [G], writes: [P, mom],
      build: (d, at) => [sgdStep(d, count, opt.options, { param: at(P), grad: at(G), momentum: at(mom) }, 'optimizer/sgd')],
      perStep: (d, [k], s) => sgdPrepare(d, k!, count, opt.options, s.step) });
  }
  return { graph: g, input, output, params, paramGrads, layout };
}

interface Forward { outs: number[]; argmaxes: (number | undefined)[]; geos: (ConvGeometry | undefined)[]; output: number }

/**
 * The forward pass of every layer, from `input`. Returns each layer's output, and what backward
 * nodes read again: pool argmaxes and conv geometries (activations' inputs are earlier outputs).
 */
export function buildForward(g: Graph, model: Model, B: number, input: number, params: Map<string, number>): Forward {
  const shape4 = (chw: readonly number[]) => [B, ...chw];
  const outs: number[] = [];
  const argmaxes: (number | undefined)[] = [];
  const geos: (ConvGeometry | undefined)[] = [];
  let x = input;
  let fused: Activation | undefined; // the activation of layer i, already applied by layer i − 1
  for (const L of model.layers) {
    const t = L.spec.type;
    const label = `${L.name}/forward`;
    if (fused) {
      // Already computed by the convolution before it: this layer's output is that one's.
      outs.push(x);
      argmaxes.push(undefined);
      geos.push(undefined);
      fused = undefined;
      continue;
    }
    const y = g.tensor(`${L.name}/out`, shape4(L.outShape));
    if (t === 'conv2d' || t === 'convtranspose2d') {
      const [w, b] = [params.get(L.params[0]!.name)!, params.get(L.params[1]!.name)!];
      const geo = convGeometry(L, B);
      geos.push(geo);
      // A following activation is applied as the convolution stores its output: one pass and one
      // tensor fewer, and the backward needs only that output (see activation.wgsl).
      const next = model.layers[L.index + 1]?.spec.type as Activation | undefined;
      fused = next && ACTIVATIONS.includes(next) ? next : undefined;
      const fwd = t === 'conv2d' ? conv2dForward : convTranspose2dForward;
      const xin = x;
      const act = fused;
      const lbl = act ? `${L.name}/forward+${act}` : label;
      g.node({ label: lbl, layer: L.name, phase: 'forward', reads: [xin, w, b], writes: [y],
        build: (d, at) => [fwd(d, geo, { x: at(xin), w: at(w), bias: at(b), y: at(y) }, lbl, act)] });
      argmaxes.push(undefined);
    } else if (t === 'maxpool2d') {
      const geo = maxpool2dGeometry(shape4(L.inShape), { kernel: L.spec.kernel!, stride: L.spec.stride, padding: L.spec.padding });
      const arg = g.tensor(`${L.name}/argmax`, shape4(L.outShape));
      const xin = x;
      g.node({ label, layer: L.name, phase: 'forward', reads: [xin], writes: [y, arg],
        build: (d, at) => [maxpool2dForward(d, geo, { x: at(xin), y: at(y), argmax: at(arg) }, label)] });
      argmaxes.push(arg);
      geos.push(undefined);
    } else {
      const xin = x;
      const n = size(shape4(L.inShape));
      g.node({ label, layer: L.name, phase: 'forward', reads: [xin], writes: [y],
        build: (d, at) => [activationForward(d, t, n, { x: at(xin), y: at(y) }, label)] });
      argmaxes.push(undefined);
      geos.push(undefined);
    }
    outs.push(y);
    x = y;
  }
  return { outs, argmaxes, geos, output: x };

}

/** A forward-only graph (for reconstructions) on `batch` images uploaded to its 'input' tensor. */
export function buildForwardGraph(model: Model, batch: number): TrainingGraph {
  const g = new Graph();
  const layout = paramLayout(model);
  const P = g.tensor('params', [layout.total], 'param');
  const params = new Map(model.params.map((p) => [p.name, g.view(p.name, p.shape, P, layout.offsets.get(p.name)!)]));
  const input = g.tensor('input', [batch, ...model.spec.input], 'io');
  const { output } = buildForward(g, model, batch, input, params);
  return { graph: g, input, output, params, paramGrads: new Map(), layout };
}

function convGeometry(L: Layer, B: number): ConvGeometry {
  const [w] = L.params;
  const o = { stride: L.spec.stride, padding: L.spec.padding, outputPadding: L.spec.outputPadding };
  return L.spec.type === 'conv2d'
    ? conv2dGeometry([B, ...L.inShape], w!.shape, o, L.name)
    : convTranspose2dGeometry([B, ...L.inShape], w!.shape, o, L.name);
}

export type { Dispatch };
