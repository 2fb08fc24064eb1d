// Where tuning results live between runs: per adapter (vendor, architecture, device, description,
// features, limits, Kiln's version and the text of the tuned kernels, hashed), a map from "pass|shape" to the chosen variant and
// the times behind it. Node keeps a JSON file in the user's cache folder (cache_node.ts), a browser
// an IndexedDB store (cache_idb.ts); both implement this interface.
import type { Gpu } from '../gpu/device.ts';
import { VERSION } from '../version.ts';
import { TUNED_SHADERS } from '../ops/conv_passes.ts';
import type { Shader } from '../ops/dispatch.ts';

export interface CachedChoice { chosen: string; times: Record<string, number | string> }
export type AdapterChoices = Record<string, CachedChoice>;

export interface TuneCache {
  /** Where it lives, for messages (a path, or "IndexedDB kiln/tune"). */
  readonly where: string;
  load(adapter: string): Promise<AdapterChoices>;
  save(adapter: string, choices: AdapterChoices): Promise<void>;
}

/** What a tuning result depends on besides the shape, as a readable object. */
export function adapterFacts(gpu: Gpu): Record<string, unknown> {
  const info = gpu.adapterInfo;
  const limits: Record<string, number> = {};
  for (const k of ['maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBufferBindingSize',
    'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension'] as const) {
    limits[k] = gpu.device.limits[k];
  }
  return {
    vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
    features: [...gpu.device.features].sort(), limits, kiln: VERSION, kernels: kernelsHash(),
  };
}

let tunedHash: string | undefined;

/**
 * FNV-1a (32-bit, hex) over shaders' names and text (by default the tuned ones, computed once):
 * which kernels a cache entry's times were taken on.
 */
export function kernelsHash(shaders: readonly Shader[] = TUNED_SHADERS): string {
  if (shaders === TUNED_SHADERS && tunedHash !== undefined) return tunedHash;
  let h = 0x811c9dc5;
  for (const s of [...shaders].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const ch of `${s.name}\u0000${s.code}\u0000`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  }
  const hex = h.toString(16).padStart(8, '0');
  if (shaders === TUNED_SHADERS) tunedHash = hex;
  return hex;
}

/** A short hash of adapterFacts: the cache key. */
export async function adapterSignature(gpu: Gpu): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(adapterFacts(gpu)));
  const d = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(d).slice(0, 12)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A cache that remembers only for this process (tests, and where no storage is available). */
export function memoryCache(): TuneCache {
  const m = new Map<string, AdapterChoices>();
  return {
    where: 'memory',
    load: async (a) => ({ ...(m.get(a) ?? {}) }),
    save: async (a, c) => { m.set(a, { ...c }); },
  };
}
