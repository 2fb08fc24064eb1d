// Per-layer GPU time from timestamp queries. When profiling, the step is recorded as one compute
// pass per (layer, phase) group — the fewest passes that timestamps need, since WebGPU only stamps
// pass boundaries — and the stamps are read back asynchronously like the losses.
import type { Waiter } from '../gpu/device.ts';

export interface PassGroup { name: string; phase: string; nodes: number[] }

export interface TraceEvent { name: string; cat: string; ph: 'X'; ts: number; dur: number; pid: number; tid: number; args: { step: number } }

export class Profiler {
  readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly free: GPUBuffer[] = [];
  private readonly inFlight: Promise<void>[] = [];
  private pending?: { buffer: GPUBuffer; step: number };
  readonly events: TraceEvent[] = [];
  /** Summed GPU microseconds per group name, and how many steps were measured. */
  readonly totals = new Map<string, number>();
  steps = 0;
  private origin?: bigint;

  constructor(device: GPUDevice, readonly groups: PassGroup[], private readonly wait: Waiter, label = 'profile') {
    const count = groups.length * 2;
    this.querySet = device.createQuerySet({ label: `${label}/queries`, type: 'timestamp', count });
    this.resolve = device.createBuffer({ label: `${label}/resolve`, size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    for (let i = 0; i < 2; i++) {
      this.free.push(device.createBuffer({ label: `${label}/staging${i}`, size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    }
  }

  /** Timestamp writes for group `i`'s pass, or undefined when no staging buffer is free (never stall). */
  timestampWrites(i: number): GPUComputePassTimestampWrites | undefined {
    if (this.free.length === 0) return undefined;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  encode(enc: GPUCommandEncoder, step: number): void {
    const buffer = this.free.shift();
    if (!buffer) return;
    enc.resolveQuerySet(this.querySet, 0, this.groups.length * 2, this.resolve, 0);
    enc.copyBufferToBuffer(this.resolve, 0, buffer, 0, this.groups.length * 16);
    this.pending = { buffer, step };
  }

  submitted(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const done = this.wait(p.buffer.mapAsync(GPUMapMode.READ)).then(() => {
      const t = new BigUint64Array(p.buffer.getMappedRange().slice(0));
      p.buffer.unmap();
      this.free.push(p.buffer);
      this.inFlight.splice(this.inFlight.indexOf(done), 1);
      this.origin ??= t[0]!;
      this.steps++;
      this.groups.forEach((g, i) => {
        const begin = t[2 * i]!, end = t[2 * i + 1]!;
        const dur = end > begin ? Number(end - begin) / 1000 : 0;
        this.totals.set(g.name, (this.totals.get(g.name) ?? 0) + dur);
        this.events.push({ name: g.name, cat: g.phase, ph: 'X', ts: Number(begin - this.origin!) / 1000, dur, pid: 1, tid: 1, args: { step: p.step } });
      });
    });
    this.inFlight.push(done);
    done.catch(() => {}); // aborted by a lost device
  }

  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight[0];
  }

  /** Chrome trace-event JSON (opens in Perfetto and chrome://tracing). */
  trace(meta: Record<string, unknown> = {}): string {
    return JSON.stringify({ traceEvents: [
      { name: 'process_name', ph: 'M', pid: 1, tid: 1, args: { name: 'kiln GPU' } },
      ...this.events,
    ], displayTimeUnit: 'ms', otherData: meta });
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    for (const b of this.free) b.destroy();
  }
}
