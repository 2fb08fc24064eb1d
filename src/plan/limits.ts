// A plan checked against the device's limits before anything is allocated: every buffer against
// maxBufferSize, every binding against maxStorageBufferBindingSize. A plan that does not fit is
// refused with one line naming the tensor, its bytes, the limit, and what would fit instead.
import { ConfigError } from '../errors.ts';
import type { Plan } from './plan.ts';

const gib = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);
const bytes = (b: number) => `${gib(b)} (${b.toLocaleString('en-US')} bytes)`;

export interface LimitContext { batch: number; records?: number; where?: string }

/**
 * Bytes kept free under the device's limit: Dawn pads storage buffers, so on SwiftShader a buffer
 * of exactly maxBufferSize (1 GiB) fails with out-of-memory while 1 GiB − 16 bytes is allocated.
 */
const HEADROOM = 256;

/** Throws a ConfigError for the first tensor or slot that cannot be allocated and bound on this device. */
export function checkLimits(plan: Plan, limits: GPUSupportedLimits, c: LimitContext): void {
  const max = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const limit = max - HEADROOM;
  const which = limits.maxBufferSize <= limits.maxStorageBufferBindingSize ? 'maxBufferSize' : 'maxStorageBufferBindingSize';
  const over = (name: string, need: number, advice: string): never => {
    throw new ConfigError(`${c.where ? `${c.where}: ` : ''}tensor ${name} needs ${bytes(need)}, over the device's ${which} of ` +
      `${bytes(max)}; ${advice}`);
  };
  const { tensors } = plan.graph;
  // Transients (activations, gradients, scratch) grow with the batch; they share slots. The largest
  // one over the limit is named, and it bounds the batch: smaller ones fit whenever it does.
  const transients = plan.slots.flatMap((slot) => slot.tensors.map((t) => tensors[t]!));
  if (plan.slots.some((slot) => slot.bytes > limit)) {
    const biggest = transients.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const fits = Math.floor(limit / (biggest.bytes / c.batch));
    over(biggest.name, biggest.bytes, fits >= 1 ? `the largest batch that fits is ${fits}` : 'it does not fit even at batch 1: make the layer smaller');
  }
  for (const t of tensors) {
    if (t.view || t.residence === 'transient' || t.bytes <= limit) continue;
    if (t.residence === 'data' || t.residence === 'labels' || t.residence === 'order') {
      const records = c.records ?? 1;
      over(`${t.name} (${records.toLocaleString('en-US')} records)`, t.bytes,
        `at most ${Math.floor(limit / (t.bytes / records)).toLocaleString('en-US')} records fit`);
    }
    // Parameters, gradients and optimizer state are flat buffers of views: name the largest part.
    const parts = tensors.filter((v) => v.view?.of === t.id);
    const part = parts.length > 0 ? parts.reduce((a, b) => (b.bytes > a.bytes ? b : a)) : undefined;
    over(part ? `${t.name} (the largest of its ${parts.length}: ${part.name}, ${bytes(part.bytes)})` : t.name, t.bytes,
      'the model is too large for this device');
  }
}
