// Where tuning results live between runs: per adapter (vendor, architecture, device, description,
// features, limits and Kiln's version, hashed), a map from "pass|shape" to the chosen variant and
// the times behind it. Node keeps a JSON file in the user's cache folder (cache_node.ts), a browser
// an IndexedDB store (cache_idb.ts); both implement this interface.
import type { Gpu } from '../gpu/device.ts';
import { VERSION } from '../version.ts';

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
    features: [...gpu.device.features].sort(), limits, kiln: VERSION,
  };
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
