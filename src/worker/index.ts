// kiln/worker: training off the page's thread. This one module is both ends:
//  - on the page, `KilnWorker` is the typed client (import it from here);
//  - loaded as a dedicated module worker, it serves requests by itself:
//
//     const kiln = new KilnWorker(new Worker(new URL('kiln/worker', import.meta.url), { type: 'module' }));
//
// Free of Node built-ins; in Node it only exports (nothing starts).
import { serve, type WorkerScope } from './server.ts';

export { KilnWorker, type Transfer } from './client.ts';
export { serve, Server, type WorkerScope } from './server.ts';
export { decodeImage, decodeClasses } from './images.ts';
export type {
  StartOptions, ModelChoice, DataBytes, DeviceInfo, RunInfo, EvalReport, DecodeRequest, Decoded, PredictResult, RunState,
  Events, EventName, Request, Replies,
} from './protocol.ts';

/** True inside a dedicated worker (not a page, shared/service worker, or Node). */
function inDedicatedWorker(): boolean {
  const g = globalThis as { DedicatedWorkerGlobalScope?: abstract new () => unknown };
  return typeof g.DedicatedWorkerGlobalScope === 'function' && globalThis instanceof g.DedicatedWorkerGlobalScope;
}

if (inDedicatedWorker()) serve(globalThis as unknown as WorkerScope);
