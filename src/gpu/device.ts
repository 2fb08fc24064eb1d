// Opening a WebGPU device, the same way in a browser and in Node (Dawn). The platform-specific part
// is only *where the GPU object comes from* and *how to wait*; everything else is shared.
import { ConfigError, GpuError } from '../errors.ts';
import { GpuErrorLog } from './errors.ts';

/** What a caller may want from the adapter beyond the defaults. Unavailable extras are skipped. */
export interface DeviceOptions {
  /** Ask for `timestamp-query` when the adapter has it (for per-layer profiling). */
  timestamps?: boolean;
  powerPreference?: GPUPowerPreference;
  label?: string;
  /**
   * Limits to request instead of the adapter's maxima (never above them): lowering
   * maxStorageBufferBindingSize or maxBufferSize makes limit errors happen at small sizes in tests.
   */
  limits?: Record<string, number>;
}

/** Awaits a GPU promise. Node replaces this with a waiter that does not spin a core (see node.ts). */
export type Waiter = <T>(p: Promise<T>) => Promise<T>;

/** An open device plus the facts about it that tools print and kernels choose variants by. */
export interface Gpu {
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo;
  /** One line for humans and logs, e.g. "swiftshader (Google, SwiftShader Device (Subzero))". */
  readonly adapterName: string;
  readonly isSoftware: boolean;
  readonly hasTimestamps: boolean;
  readonly wait: Waiter;
  /** Every GPU error and device loss on this device, as typed errors (see errors.ts). */
  readonly errors: GpuErrorLog;
  /** The limits plans are checked against: the device's, or lower ones the caller asked for. */
  readonly limits: GPUSupportedLimits;
  /** Bytes of GPU buffers created through this device and not yet destroyed (leak checks, soak runs). */
  liveBytes(): number;
  /** True once close() was called: nothing may be built on this device any more. */
  readonly closed: boolean;
  close(): void;
}

/**
 * Refuses, before any GPU work, what cannot carry a plan: something that is not a Kiln `Gpu` (a bare
 * GPUDevice, say, from an adapter Kiln did not open and so cannot watch for errors), a closed one, or
 * one whose device was lost. `where` names the API call for the message.
 */
export function checkGpu(where: string, gpu: Gpu): void {
  const g = gpu as Partial<Gpu> | undefined;
  if (!g || typeof g !== 'object' || !g.device || typeof g.wait !== 'function' || !g.errors) {
    const bare = g && typeof g === 'object' && 'queue' in g && 'createBuffer' in g;
    throw new ConfigError(`${where}: gpu must be what openDevice / openBrowserDevice / openNodeDevice returned` +
      (bare ? ' (got a bare GPUDevice: open it with openDevice(navigator.gpu) so Kiln can check its limits and capture its errors)' : ''));
  }
  if (g.closed) throw new ConfigError(`${where}: gpu was closed (gpu.close()); open a new one`);
  if (g.errors.lost) throw new ConfigError(`${where}: gpu is no longer usable (${g.errors.lost}); open a new one`);
}

export function describeAdapter(info: GPUAdapterInfo): string {
  // Some drivers leave `architecture` empty (NVIDIA on Vulkan): name the vendor instead.
  const arch = info.architecture || info.vendor || 'unknown adapter';
  const parts = [info.vendor !== arch ? info.vendor : '', info.description || info.device].filter((s) => s && s.length > 0);
  return parts.length > 0 ? `${arch} (${parts.join(', ')})` : arch;
}

/**
 * Opens a device on `gpu` (navigator.gpu in a browser, Dawn's GPU object in Node). No adapter is an
 * error, never a silent fallback to something else; `noAdapterHelp` says what the caller's platform
 * needs for one.
 */
export async function openDevice(gpu: GPU | undefined, options: DeviceOptions = {}, wait: Waiter = (p) => p,
  noAdapterHelp = 'On Linux without a GPU, install Debian\'s chromium and libvulkan1 so Dawn can use SwiftShader; in a browser, check chrome://gpu.'): Promise<Gpu> {
  if (!gpu) {
    throw new GpuError('WebGPU is not available here (navigator.gpu is undefined). Use a browser with WebGPU ' +
      'enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu) served over http://localhost or https.');
  }
  const adapter = await wait(gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' }));
  if (!adapter) {
    throw new GpuError(`No WebGPU adapter was found. ${noAdapterHelp}`);
  }
  const requiredFeatures: GPUFeatureName[] = [];
  const hasTimestamps = Boolean(options.timestamps) && adapter.features.has('timestamp-query');
  if (hasTimestamps) requiredFeatures.push('timestamp-query');
  // Subgroup operations let register-tiled kernels share loads without workgroup barriers (what
  // software adapters reward); variants that use them are only offered when the device has them.
  if (adapter.features.has('subgroups')) requiredFeatures.push('subgroups' as GPUFeatureName);
  // Take the adapter's larger buffer limits: the dataset lives on the GPU, and the defaults (128 MiB
  // per binding) would cap it at ~43k CIFAR images.
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
  };
  // Lower limits than the defaults cannot be requested from WebGPU (a device always gets at least
  // the defaults), so a caller's lower limits are applied by Kiln's own checks instead (`limits`).
  const lowered: Record<string, number> = {};
  for (const [k, v] of Object.entries(options.limits ?? {})) {
    const max = (l as unknown as Record<string, number>)[k];
    if (max === undefined) throw new GpuError(`unknown device limit ${k}`);
    lowered[k] = Math.min(v, max);
  }
  const device = await wait(adapter.requestDevice({ label: options.label ?? 'kiln', requiredFeatures, requiredLimits }));
  const live = countBuffers(device);
  let closed = false;
  const adapterInfo = adapter.info;
  const adapterName = describeAdapter(adapterInfo);
  const isSoftware = /swiftshader|llvmpipe|lavapipe|warp/i.test(`${adapterInfo.architecture} ${adapterInfo.description} ${adapterInfo.device}`)
    || (adapterInfo as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    device, adapterInfo, adapterName, isSoftware, hasTimestamps, wait, errors: new GpuErrorLog(device, adapterName),
    limits: effectiveLimits(device.limits, lowered),
    liveBytes: live,
    get closed() { return closed; },
    close: () => { closed = true; device.destroy(); },
  };
}

/** Wraps createBuffer so the bytes of live buffers can be reported (destroy() subtracts once). */
function countBuffers(device: GPUDevice): () => number {
  let bytes = 0;
  const create = device.createBuffer.bind(device);
  device.createBuffer = (d: GPUBufferDescriptor) => {
    const b = create(d);
    bytes += b.size;
    const destroy = b.destroy.bind(b);
    let gone = false;
    b.destroy = () => {
      if (!gone) { gone = true; bytes -= b.size; }
      destroy();
    };
    return b;
  };
  return () => bytes;
}

function effectiveLimits(limits: GPUSupportedLimits, lowered: Record<string, number>): GPUSupportedLimits {
  if (Object.keys(lowered).length === 0) return limits;
  const out: Record<string, number> = {};
  for (const k in limits) out[k] = (limits as unknown as Record<string, number>)[k]!;
  return Object.assign(out, lowered) as unknown as GPUSupportedLimits;
}

/** Opens the browser's WebGPU (navigator.gpu). */
export function openBrowserDevice(options: DeviceOptions = {}): Promise<Gpu> {
  const gpu = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  return openDevice(gpu, options);
}
