// Reading losses without stalling training. Each step's loss is written by the GPU into a ring
// slot, and the non-finite guard's verdict into the same slot of a status ring; every `chunk` steps
// the step's own command buffer also copies that chunk of both into a staging buffer, which is
// mapped asynchronously. The host learns losses some steps late and never waits — unless every
// staging buffer is still in flight, which bounds how far the CPU may run ahead.
import type { Waiter } from '../gpu/device.ts';

/** The guard's verdict on a step: 0 when all was finite, else bits (1 loss, 2 gradient, 4 parameter) and the first bad element. */
export interface StepStatus { code: number; index: number }

export type LossCallback = (step: number, loss: number, status: StepStatus) => void;

interface InFlight { buffer: GPUBuffer; firstStep: number; count: number; done: Promise<void> }

export class LossReader {
  private readonly free: GPUBuffer[] = [];
  private readonly inFlight: InFlight[] = [];
  private unread = 1; // first step whose loss has not been scheduled for reading
  private pending?: { buffer: GPUBuffer; firstStep: number; count: number };
  readonly ring: number;

  /** `status`: the guard's status ring (2 words per slot), or undefined when nothing is guarded. */
  constructor(device: GPUDevice, private readonly loss: GPUBuffer, private readonly status: GPUBuffer | undefined,
    private readonly wait: Waiter, private readonly onLoss: LossCallback, readonly chunk = 8, stagingBuffers = 4, label = 'losses') {
    this.ring = LossReader.ringSize(chunk, stagingBuffers);
    for (let i = 0; i < stagingBuffers; i++) {
      this.free.push(device.createBuffer({ label: `${label}/staging${i}`, size: chunk * 12, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    }
  }

  /** Ring slots for `chunk` × `stagingBuffers`: room for every unread step, twice over. */
  static ringSize(chunk: number, stagingBuffers: number): number {
    return chunk * stagingBuffers * 2;
  }

  slot(step: number): number {
    return (step - 1) % this.ring;
  }

  /** Continue from `step` (after a resume): losses before it were never computed here. */
  startAfter(step: number): void {
    this.unread = step + 1;
  }

  /** Call before encoding `step`: waits only if every staging buffer is still being read. */
  async reserve(step: number, force: boolean): Promise<void> {
    if ((step % this.chunk === 0 || force) && this.free.length === 0) await this.inFlight[0]!.done;
  }

  /** Encodes the copy of finished chunk (or, with `force`, the partial chunk up to `step`). */
  encode(enc: GPUCommandEncoder, step: number, force: boolean): void {
    if (!(step % this.chunk === 0 || force) || step < this.unread) return;
    const buffer = this.free.shift()!;
    const count = step - this.unread + 1;
    enc.copyBufferToBuffer(this.loss, this.slot(this.unread) * 4, buffer, 0, count * 4);
    if (this.status) enc.copyBufferToBuffer(this.status, this.slot(this.unread) * 8, buffer, this.chunk * 4, count * 8);
    this.pending = { buffer, firstStep: this.unread, count };
    this.unread = step + 1;
  }

  /** Call after submitting: starts the asynchronous map of what `encode` copied. */
  submitted(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const entry: InFlight = {
      ...p,
      done: this.wait(p.buffer.mapAsync(GPUMapMode.READ)).then(() => {
        const values = new Float32Array(p.buffer.getMappedRange(0, p.count * 4).slice(0));
        const status = this.status ? new Uint32Array(p.buffer.getMappedRange(this.chunk * 4, p.count * 8).slice(0)) : undefined;
        p.buffer.unmap();
        this.inFlight.splice(this.inFlight.indexOf(entry), 1);
        this.free.push(p.buffer);
        values.forEach((v, i) => this.onLoss(p.firstStep + i, v, { code: status?.[2 * i] ?? 0, index: status?.[2 * i + 1] ?? 0 }));
      }),
    };
    this.inFlight.push(entry);
    entry.done.catch(() => {}); // aborted by a lost device: drain() and reserve() still see it
  }

  /** Resolves when every scheduled read has been delivered. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight[0]!.done;
  }

  destroy(): void {
    for (const b of this.free) b.destroy();
  }
}
