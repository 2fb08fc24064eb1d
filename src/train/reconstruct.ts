// Reconstructions of a fixed set of images with the trainer's current weights, for display. A
// forward-only plan binds the trainer's parameter buffer itself (no copy), and its result is read back
// asynchronously: awaiting it never blocks the training loop, which keeps submitting steps.
import { buildForwardGraph, type TrainingGraph } from '../graph/autograd.ts';
import { record, type Dispatch } from '../ops/dispatch.ts';
import { planStep, type Plan } from '../plan/plan.ts';
import { PlanBuffers } from '../run/buffers.ts';
import type { Trainer } from './trainer.ts';

export class Reconstructor {
  readonly tg: TrainingGraph;
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
    this.plan = planStep(this.tg.graph);
    // Read the trainer's live parameters: the plan's parameter tensor is that buffer, not a copy.
    const paramsId = this.tg.graph.tensors.find((t) => t.name === 'params' && !t.view)!.id;
    const live = trainer.buffers.buffer(trainer.tg.graph.tensors.find((t) => t.name === 'params' && !t.view)!.id);
    this.buffers = new PlanBuffers(device, this.plan, 'reconstruct', new Map([[paramsId, live]]));
    this.dispatches = this.tg.graph.nodes.flatMap((n) => n.build(device, this.buffers.at));
    const [lo, hi] = trainer.range === '0,1' ? [0, 1] : [-1, 1];
    const x = Float32Array.from(pixels.subarray(0, count * this.size), (b) => lo + (hi - lo) * (b / 255));
    device.queue.writeBuffer(this.buffers.buffer(this.tg.input), 0, x);
    this.staging = device.createBuffer({ label: 'reconstruct/staging', size: count * this.size * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  private get size(): number {
    return this.trainer.model.spec.input.reduce((a, b) => a * b, 1);
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
      const out = this.buffers.at(this.tg.output) as GPUBufferBinding;
      enc.copyBufferToBuffer(out.buffer, out.offset ?? 0, this.staging, 0, this.staging.size);
      device.queue.submit([enc.finish()]);
      await this.trainer.gpu.wait(this.staging.mapAsync(GPUMapMode.READ));
      const y = new Float32Array(this.staging.getMappedRange().slice(0));
      this.staging.unmap();
      const [lo, hi] = this.trainer.range === '0,1' ? [0, 1] : [-1, 1];
      return Uint8Array.from(y, (v) => Math.round(255 * Math.min(1, Math.max(0, (v - lo) / (hi - lo)))));
    } finally {
      this.busy = false;
    }
  }

  destroy(): void {
    this.buffers.destroy();
    this.staging.destroy();
  }
}
