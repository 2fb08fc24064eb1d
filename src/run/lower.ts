// From graph nodes to dispatches: each node's pass is resolved in the pass table, the variant the
// tuner chose (or the default) gets its scratch tensors before planning, and after planning builds
// its dispatches on the plan's buffers. Bind groups and uniforms are made here, once per plan.
import type { Graph, Node, StepContext } from '../graph/graph.ts';
import type { Binding } from '../gpu/kernel.ts';
import { passOf } from '../ops/passes.ts';
import { capsOf, variantOf, type Variant } from '../ops/variant.ts';
import type { Dispatch } from '../ops/dispatch.ts';

/** Which variant runs a node (by name); undefined means the pass's default. */
export type Choose = (node: Node) => string | undefined;
export const defaults: Choose = () => undefined;

export function variantFor(node: Node, choose: Choose): Variant<unknown> {
  return variantOf(passOf(node.pass), choose(node));
}

/**
 * Gives every node whose variant needs scratch memory (`scratch`, `stage`) a transient tensor of that size — the largest
 * any of `chooses` needs, so a plan can start on one set of variants and switch to another.
 */
export function addScratch(graph: Graph, ...chooses: Choose[]): void {
  for (const n of graph.nodes) {
    const floats = Math.max(0, ...chooses.map((c) => variantFor(n, c).scratch?.(n.args) ?? 0));
    if (floats > 0) n.writes.scratch = graph.tensor(`${n.label}/scratch`, [floats]);
    const staged = Math.max(0, ...chooses.map((c) => variantFor(n, c).stage?.(n.args) ?? 0));
    if (staged > 0) n.writes.stage = graph.tensor(`${n.label}/stage`, [staged]);
  }
}

/** Builds the dispatches of every node, checking its tensors against the pass's declared names. */
export function buildDispatches(device: GPUDevice, graph: Graph, at: (id: number) => Binding, choose: Choose): Dispatch[][] {
  return graph.nodes.map((n) => buildNode(device, n, at, choose));
}

/**
 * Checks a node against its pass (tensor names) and the adapter (the chosen variant can run here):
 * everything buildNode can reject before it compiles anything. Returns the variant.
 */
export function checkNode(device: GPUDevice, n: Node, choose: Choose): Variant<unknown> {
  const pass = passOf(n.pass);
  for (const k of Object.keys(n.reads)) {
    if (!pass.inputs.includes(k) && !pass.outputs.includes(k)) throw new Error(`${n.label}: pass ${n.pass} has no input '${k}'`);
  }
  for (const k of Object.keys(n.writes)) {
    if (!pass.outputs.includes(k) && k !== 'scratch' && k !== 'stage') throw new Error(`${n.label}: pass ${n.pass} has no output '${k}'`);
  }
  const v = variantFor(n, choose);
  const why = v.unsupported?.(capsOf(device), n.args);
  if (why) throw new Error(`${n.label}: variant ${v.name} of ${n.pass} cannot run here: ${why}`);
  return v;
}

/** The dispatches of one node with the variant `choose` picks. */
export function buildNode(device: GPUDevice, n: Node, at: (id: number) => Binding, choose: Choose): Dispatch[] {
  const v = checkNode(device, n, choose);
  const io: Record<string, Binding> = {};
  for (const [k, t] of [...Object.entries(n.reads), ...Object.entries(n.writes)]) io[k] = at(t.id);
  return v.build(device, n.args, io, n.label);
}

/** Rewrites the per-step scalars of every node whose pass has any. */
export function prepareStep(device: GPUDevice, graph: Graph, dispatches: readonly Dispatch[][], ctx: StepContext): void {
  graph.nodes.forEach((n, i) => prepareNode(device, n, dispatches[i]!, ctx));
}

/** Rewrites one node's per-step scalars, if its pass has any. */
export function prepareNode(device: GPUDevice, n: Node, dispatches: readonly Dispatch[], ctx: StepContext): void {
  passOf(n.pass).perStep?.(device, dispatches, n.args, ctx);
}
