// Every GPU error becomes a typed GpuError that names the object at fault, and none is printed by
// Dawn itself: uncaptured errors are intercepted (preventDefault keeps Dawn's text off stdout),
// device loss is recorded, and callers wrap work in error scopes. Errors are raised by the host
// code that owns the work, never reported as success.
import { GpuError } from '../errors.ts';

const SCOPES: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/** Dawn's first line, with the label of the object it names ("[Buffer "train/slot3"]") kept. */
export function describeGpuError(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? 'unknown GPU error';
  const named = /(?:Descriptor|Buffer|BindGroup|BindGroupLayout|ComputePipeline|ShaderModule|CommandBuffer|ComputePassEncoder|CommandEncoder|QuerySet)\s*"+([^"]+)"+/;
  const label = lines.map((l) => l.match(named)?.[1]).find((x) => x !== undefined);
  return label ? `${label}: ${first}` : first;
}

export class GpuErrorLog {
  private readonly errors: string[] = [];
  private pending: Promise<void>[] = [];
  lost?: string;

  constructor(private readonly device: GPUDevice, private readonly adapterName: string) {
    device.addEventListener('uncapturederror', (e) => {
      e.preventDefault();
      this.errors.push(describeGpuError((e as GPUUncapturedErrorEvent).error.message));
    });
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = `the GPU device was lost (${info.reason}): ${info.message.split('\n')[0]}`;
    });
  }

  /** True once anything has gone wrong on this device. */
  get failed(): boolean {
    return this.errors.length > 0 || this.lost !== undefined;
  }

  /** Throws a GpuError for the first error recorded (`where` says what the caller was doing). */
  throwIfFailed(where: string): void {
    if (this.lost) throw new GpuError(`${where}: ${this.lost}`);
    if (this.errors.length > 0) {
      const more = this.errors.length > 1 ? ` (and ${this.errors.length - 1} more GPU error${this.errors.length > 2 ? 's' : ''})` : '';
      throw new GpuError(`${where}: GPU error on ${this.adapterName}: ${this.errors[0]}${more}`);
    }
  }

  /**
   * Runs `fn` inside validation, out-of-memory and internal error scopes without waiting for the
   * verdict (nothing stalls): errors are recorded when the scopes resolve. `settle()` awaits them.
   */
  watch<T>(fn: () => T): T {
    for (const f of SCOPES) this.device.pushErrorScope(f);
    try {
      return fn();
    } finally {
      for (let i = 0; i < SCOPES.length; i++) {
        this.pending.push(this.device.popErrorScope().then((e) => { if (e) this.errors.push(describeGpuError(e.message)); }, () => {}));
      }
      if (this.pending.length > 64) this.pending = this.pending.slice(-32); // resolved ones only need dropping
    }
  }

  /** Waits for every scope opened so far, then throws if anything failed. */
  async settle(where: string, wait: <T>(p: Promise<T>) => Promise<T> = (p) => p): Promise<void> {
    const all = this.pending;
    this.pending = [];
    await wait(Promise.all(all));
    this.throwIfFailed(where);
  }
}
