// Planning a step once: liveness of every transient tensor over the node order, and a best-fit
// assignment of tensors to reusable buffer slots so that tensors whose lifetimes do not overlap
// share memory. The plan is plain data — printable, testable, and replayed by run/ unchanged.
import { readIds, writeIds, type Graph } from '../graph/graph.ts';

export interface Slot { bytes: number; tensors: number[] }

export interface Plan {
  graph: Graph;
  /** Per tensor id: its slot index, or −1 for persistent tensors and views. */
  slotOf: number[];
  slots: Slot[];
  /** Transient memory with reuse (sum of slot sizes) and without (sum of tensor sizes). */
  transientBytes: number;
  naiveTransientBytes: number;
  /** Parameters, gradients, optimizer state, buffers, dataset, labels, order list, loss ring. */
  persistentBytes: number;
  peakBytes: number;
}

/**
 * Storage bindings must be a multiple of 4 bytes; slots are rounded up to 256 bytes, the largest
 * minStorageBufferOffsetAlignment an adapter may require, so any tensor placed in one binds whole.
 */
const round = (b: number) => Math.ceil(b / 256) * 256;

export function planStep(graph: Graph): Plan {
  const { tensors, nodes } = graph;
  const first = new Array<number>(tensors.length).fill(-1);
  const last = new Array<number>(tensors.length).fill(-1);
  const reads = nodes.map(readIds), writes = nodes.map(writeIds);
  nodes.forEach((_, k) => {
    for (const t of [...reads[k]!, ...writes[k]!]) {
      if (first[t] === -1) first[t] = k;
      last[t] = k;
    }
  });
  for (const t of tensors) {
    if (t.residence === 'transient' && first[t.id] !== -1 && !writes[first[t.id]!]!.includes(t.id)) {
      throw new Error(`plan: transient tensor ${t.name} is read before anything writes it`);
    }
  }

  const slots: Slot[] = [];
  const free: number[] = [];
  const slotOf = new Array<number>(tensors.length).fill(-1);
  for (let k = 0; k < nodes.length; k++) {
    // Allocate this node's new outputs before releasing its last-use inputs, so no node ever reads
    // and writes the same memory.
    for (const t of writes[k]!) {
      const info = tensors[t]!;
      if (info.residence !== 'transient' || first[t] !== k) continue;
      const need = round(info.bytes);
      // Best fit among free slots big enough; failing that, grow the largest free one.
      const bytes = (i: number) => slots[i]!.bytes;
      const fitting = free.filter((i) => bytes(i) >= need);
      const pool = fitting.length > 0 ? fitting : free;
      let best = pool.length === 0 ? -1 : pool.reduce((a, b) => (fitting.length > 0 ? bytes(b) < bytes(a) : bytes(b) > bytes(a)) ? b : a);
      if (best < 0) {
        best = slots.length;
        slots.push({ bytes: 0, tensors: [] });
      } else free.splice(free.indexOf(best), 1);
      slots[best]!.bytes = Math.max(slots[best]!.bytes, need);
      slots[best]!.tensors.push(t);
      slotOf[t] = best;
    }
    for (const t of new Set([...reads[k]!, ...writes[k]!])) {
      if (slotOf[t]! >= 0 && last[t] === k) free.push(slotOf[t]!);
    }
  }
  const transientBytes = slots.reduce((a, s) => a + s.bytes, 0);
  const naiveTransientBytes = tensors.filter((t) => t.residence === 'transient').reduce((a, t) => a + round(t.bytes), 0);
  const persistentBytes = tensors.filter((t) => t.residence !== 'transient' && !t.view).reduce((a, t) => a + round(t.bytes), 0);
  return { graph, slotOf, slots, transientBytes, naiveTransientBytes, persistentBytes, peakBytes: transientBytes + persistentBytes };
}

/** A human-readable listing: one line per node with the slots it touches, then the memory summary. */
export function describePlan(p: Plan): string {
  const name = (t: number) => {
    const s = p.slotOf[t]!;
    return `${p.graph.tensors[t]!.name}${s >= 0 ? `@${s}` : ''}`;
  };
  const lines = p.graph.nodes.map((n, k) =>
    `${String(k).padStart(3)} ${n.label.padEnd(32)} ${n.pass.padEnd(20)} ${readIds(n).map(name).join(', ')} → ${writeIds(n).map(name).join(', ')}`);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  lines.push(`slots: ${p.slots.length} (${mib(p.transientBytes)}; ${mib(p.naiveTransientBytes)} without reuse), ` +
    `persistent: ${mib(p.persistentBytes)}, peak: ${mib(p.peakBytes)}`);
  return lines.join('\n');
}
