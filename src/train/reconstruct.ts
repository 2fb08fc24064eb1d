// Reconstructions of a fixed set of images with the trainer's current weights, for display. A
// forward-only plan in evaluation mode binds the trainer's parameter and buffer storage itself (no
// copy), and its result is read back asynchronously: awaiting it never blocks the training loop,
// which keeps submitting steps.
import { buildForwardGraph, type ForwardGraph } from '../graph/autograd.ts';
import { record, type Dispatch } from '../ops/dispatch.ts';
import { planStep, type Plan } from '../plan/plan.ts';
import { PlanBuffers } from '../run/buffers.ts';
import { addScratch, buildDispatches, defaults } from '../run/lower.ts';
import { bytesToFloats, floatsToBytes } from '../data/range.ts';
import type { Trainer } from './trainer.ts';

export class Reconstructor {
  readonly tg: ForwardGraph;
  readonly plan: Plan;
  private readonly buffers: PlanBuffers;
  private readonly dispatches: Dispatch[];
  private readonly staging: GPUBuffer;
  private busy = false;

  /** `pixels`: `count` records of bytes in the model's input layout (CHW). */
  constructor(private readonly trainer: Trainer, pixels: Uint8Array, readonly count: number) {
    const { model, gpu } = trainer;
    const device = gpu.device;
    this.tg = buildForwardGraph(model, count);
    addScratch(this.tg.graph, defaults);
    this.plan = planStep(this.tg.graph);
    // Read the trainer's live parameters and buffers: the plan's tensors are those buffers, not copies.
    this.buffers = new PlanBuffers(device, this.plan, 'reconstruct', new Map([
      [this.tg.params.id, trainer.buffers.buffer(trainer.tg.params)],
      [this.tg.buffers.id, trainer.buffers.buffer(trainer.tg.buffers)],
    ]));
    this.dispatches = buildDispatches(device, this.tg.graph, this.buffers.at, defaults).flat();
    device.queue.writeBuffer(this.buffers.buffer(this.tg.input), 0, bytesToFloats(pixels.subarray(0, count * this.size), trainer.range));
    this.staging = device.createBuffer({ label: 'reconstruct/staging', size: count * this.outSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  private get size(): number {
    return this.trainer.model.input.reduce((a, b) => a * b, 1);
  }

  private get outSize(): number {
    return this.trainer.model.output.reduce((a, b) => a * b, 1);
  }

  /**
   * Runs the forward pass after all steps submitted so far and resolves with the outputs as bytes
   * (0–255, CHW per image). Resolves undefined if a previous read is still in flight.
   */
  async run(): Promise<Uint8Array | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    try {
      const device = this.trainer.gpu.device;
      const enc = device.createCommandEncoder({ label: 'reconstruct' });
      const pass = enc.beginComputePass({ label: 'reconstruct/forward' });
      for (const d of this.dispatches) record(pass, d);
      pass.end();
      const out = this.buffers.at(this.tg.output.id) as GPUBufferBinding;
      enc.copyBufferToBuffer(out.buffer, out.offset ?? 0, this.staging, 0, this.staging.size);
      device.queue.submit([enc.finish()]);
      await this.trainer.gpu.wait(this.staging.mapAsync(GPUMapMode.READ));
      const y = new Float32Array(this.staging.getMappedRange().slice(0));
      this.staging.unmap();
      return floatsToBytes(y, this.trainer.range);
    } finally {
      this.busy = false;
    }
  }

  destroy(): void {
    this.buffers.destroy();
    this.staging.destroy();
  }
}
