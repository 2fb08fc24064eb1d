// GPU memory for a plan: one buffer per slot and per persistent tensor, and the resolver that
// turns a tensor id into the exact binding range (views and slots bind only their own bytes).
import type { Binding } from '../gpu/kernel.ts';
import type { Residence } from '../graph/graph.ts';
import type { Plan } from '../plan/plan.ts';

// A function, not a constant: in Node the GPU* globals exist only once Dawn is loaded.
const usage = (): Record<Residence, number> => ({
  transient: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, // COPY_SRC: outputs are read back for display
  // Parameters and optimizer state are uploaded (init, resume) and read back (save, checkpoint).
  param: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  grad: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  state: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  buffer: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  data: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  labels: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  order: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  loss: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, // COPY_DST: the guard's halt word is reset on restore
  io: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
});

const pad4 = (b: number) => Math.max(16, Math.ceil(b / 4) * 4);

export class PlanBuffers {
  /** Buffers of persistent tensors, by tensor id. */
  readonly persistent = new Map<number, GPUBuffer>();
  readonly slots: GPUBuffer[];

  /** `external`: buffers owned elsewhere to use for some persistent tensors (never destroyed here). */
  constructor(readonly device: GPUDevice, readonly plan: Plan, label: string, private readonly external = new Map<number, GPUBuffer>()) {
    const USAGE = usage();
    this.slots = plan.slots.map((s, i) => device.createBuffer({ label: `${label}/slot${i}`, size: s.bytes, usage: USAGE.transient }));
    for (const t of plan.graph.tensors) {
      if (t.residence === 'transient' || t.view || external.has(t.id)) continue;
      this.persistent.set(t.id, device.createBuffer({ label: `${label}/${t.name}`, size: pad4(t.bytes), usage: USAGE[t.residence] }));
    }
  }

  /** The buffer a tensor lives in (a view's base buffer). */
  buffer(t: number | { id: number }): GPUBuffer {
    const id = typeof t === 'number' ? t : t.id;
    const info = this.plan.graph.tensors[id]!;
    if (info.view) return this.buffer(info.view.of);
    const slot = this.plan.slotOf[id]!;
    return slot >= 0 ? this.slots[slot]! : this.persistent.get(id) ?? this.external.get(id)!;
  }

  readonly at = (id: number): Binding => {
    const t = this.plan.graph.tensors[id]!;
    return { buffer: this.buffer(id), offset: t.view ? t.view.offset * 4 : 0, size: pad4(t.bytes) };
  };

  get count(): number {
    return this.slots.length + this.persistent.size;
  }

  destroy(): void {
    for (const b of [...this.slots, ...this.persistent.values()]) b.destroy();
  }
}
