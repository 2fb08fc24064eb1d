// Kernel variants: one pass (a conv's forward, its weight gradient, a GEMM) may be computed by
// several kernels, each exact against the same float64 reference. Which one is fastest depends on
// the adapter — SwiftShader rewards big register tiles and no barriers, real GPUs reward
// workgroup-memory tiles — so the tuner (src/tune/) times them and keeps the winner per shape.
import type { Binding } from '../gpu/kernel.ts';
import type { Dispatch } from './dispatch.ts';
import type { StepContext } from '../graph/graph.ts';

/** What a variant may depend on besides the shape: features and limits of the open device. */
export interface DeviceCaps {
  features: ReadonlySet<string>;
  limits: GPUSupportedLimits;
}

export const capsOf = (device: GPUDevice): DeviceCaps => ({ features: device.features as ReadonlySet<string>, limits: device.limits });

export interface Variant<A> {
  /** Stable name, stored in the tuning cache and printed by `kiln tune` (e.g. 'direct', 'sg-tile-8x4'). */
  readonly name: string;
  /**
   * The kind of adapter this kernel shape is built for: register tiles without barriers suit
   * software adapters, workgroup-memory tiles real GPUs. Only the order in which the tuner tries
   * variants (and so what a spent budget leaves untried) depends on it — never the choice.
   */
  readonly prefers?: 'software' | 'hardware';
  /**
   * Set on a variant that runs only inside a fusion — 'pool': a conv that max-pools as it stores
   * (args.pool) — so sweeps of the plain pass skip it and the fusion's own checks cover it.
   */
  readonly only?: 'pool';
  /** Why this variant cannot run this shape on this device (missing feature, limits), or undefined. */
  unsupported?(caps: DeviceCaps, args: A): string | undefined;
  /** Floats of scratch memory it needs besides its outputs (split-K partial sums); 0 when none. */
  scratch?(args: A): number;
  /**
   * Floats of a second scratch buffer, `io.stage`: an intermediate that one of its dispatches
   * writes and a later one reads (the full-resolution activation a pooling conv pools). Apart from
   * `scratch` because WebGPU lets no dispatch write a buffer it also reads, even disjoint ranges.
   */
  stage?(args: A): number;
  /**
   * The dispatches computing the pass. `io` holds the pass's named tensors (see the pass's `inputs`
   * and `outputs`) and `scratch` / `stage` when scratch(args) / stage(args) > 0.
   */
  build(device: GPUDevice, args: A, io: Record<string, Binding>, label: string): Dispatch[];
}

/** A pass and its candidate kernels; variants[0] is the default, used untuned and as the reference. */
export interface Pass<A> {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly variants: readonly Variant<A>[];
  /** A string naming the shape (and anything else that changes speed), for the tuning cache. */
  key(args: A): string;
  /** Floating-point operations of one run, for GFLOP/s. */
  flops(args: A): number;
  /**
   * Rewrites the scalars that change per step (batch position, loss slot, optimizer step, dropout
   * counter) in the dispatches a variant built. Runs before the step's command buffer is encoded.
   */
  perStep?(device: GPUDevice, dispatches: readonly Dispatch[], args: A, ctx: StepContext): void;
}

/** The variant called `name`, or the default when there is none by that name. */
export function variantOf<A>(pass: Pass<A>, name: string | undefined): Variant<A> {
  return pass.variants.find((v) => v.name === name) ?? pass.variants[0]!;
}

/** A pass with one kernel (most element-wise and pooling ops): no tuning, just a build function. */
export function singlePass<A>(name: string, inputs: readonly string[], outputs: readonly string[],
  build: Variant<A>['build'], o: { key?: (args: A) => string; flops?: (args: A) => number; perStep?: Pass<A>['perStep'] } = {}): Pass<A> {
  return {
    name, inputs, outputs, variants: [{ name: 'direct', build }],
    key: o.key ?? ((a) => JSON.stringify(a)), flops: o.flops ?? (() => 0), perStep: o.perStep,
  };
}
