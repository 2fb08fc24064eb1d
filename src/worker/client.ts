// The page's side of kiln/worker: a typed client for the training worker. Each method sends one
// request and resolves with its reply; `on` subscribes to the worker's events. Typed arrays in
// requests are transferred (the caller's copies become empty) unless `transfer: false`, so image
// data crosses to the worker once without a copy. Nothing here touches WebGPU or Node built-ins.
//
//     const kiln = new KilnWorker(new Worker(new URL('kiln/worker', import.meta.url), { type: 'module' }));
//     await kiln.init();
//     kiln.on('losses', ({ steps, losses }) => chart.add(steps, losses));
//     await kiln.start({ model: { preset: 'classifier' }, train: { pixels, labels, source: 'my images' }, batch: 32 });
import { ConfigError, FormatError, GpuError, KilnError, ShapeError } from '../errors.ts';
import type { DeviceOptions } from '../gpu/device.ts';
import {
  own, transferables, type DecodeRequest, type EventName, type Events, type FromWorker, type Replies, type Request,
  type StartOptions,
} from './protocol.ts';

const ERRORS: Record<string, new (message: string) => Error> = {
  KilnError, ConfigError, FormatError, GpuError, ShapeError, TypeError, RangeError,
  NonFiniteError: KilnError, WriteError: KilnError,
};

/** Rebuilds an error thrown in the worker with its class (KilnError and subclasses), so `instanceof` works. */
function revive(e: { name: string; message: string }): Error {
  const Kind = ERRORS[e.name] ?? Error;
  const err = new Kind(e.message);
  if (err.name !== e.name) Object.defineProperty(err, 'name', { value: e.name });
  return err;
}

/** Typed arrays replaced by ones owning exactly their bytes, so transferring never takes a caller's larger buffer. */
function owned<T>(v: T, depth = 0): T {
  if (!v || typeof v !== 'object' || depth > 4 || v instanceof Blob) return v;
  if (v instanceof Uint8Array || v instanceof Float32Array || v instanceof Uint32Array) return own(v) as T;
  if (ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) return v.map((x) => owned(x, depth + 1)) as T;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, owned(x, depth + 1)])) as T;
}

type Listener<K extends EventName> = (data: Events[K]) => void;

export interface Transfer {
  /** Transfer the request's typed arrays to the worker (default true): no copy, the caller's become empty. */
  transfer?: boolean;
}

export class KilnWorker {
  readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<EventName, Set<(data: unknown) => void>>();
  private failed?: Error;

  /** `worker`: a Worker running kiln/worker, or its URL (a module worker is created from it). */
  constructor(worker: Worker | URL | string) {
    if (typeof Worker === 'undefined') throw new KilnError('KilnWorker needs Web Workers (a browser); in Node, use Trainer directly');
    this.worker = worker instanceof Worker ? worker : new Worker(worker, { type: 'module', name: 'kiln' });
    this.worker.addEventListener('message', (e: MessageEvent<FromWorker>) => this.receive(e.data));
    this.worker.addEventListener('error', (e: ErrorEvent) => {
      this.fail(new KilnError(`the Kiln worker failed: ${e.message || 'its script could not be loaded'}`));
    });
    this.worker.addEventListener('messageerror', () => this.fail(new KilnError('a message from the Kiln worker could not be read')));
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.emitLocal('error', { message: e.message });
  }

  private receive(m: FromWorker): void {
    if ('event' in m) {
      this.emitLocal(m.event, m.data as Events[typeof m.event]);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(revive(m.error));
  }

  private emitLocal<K extends EventName>(event: K, data: Events[K]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(data);
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends EventName>(event: K, fn: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as (data: unknown) => void);
    return () => set.delete(fn as (data: unknown) => void);
  }

  private request<K extends Request['type']>(r: Extract<Request, { type: K }>, transfer = false): Promise<Replies[K]> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    const msg = transfer ? owned({ ...r, id }) : { ...r, id };
    return new Promise<Replies[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage(msg, transfer ? transferables(msg) : []);
    });
  }

  /** Opens the worker's WebGPU device (WebGPU is available in workers); says which adapter and its limits. */
  init(device: DeviceOptions = {}) { return this.request({ type: 'init', device }); }

  /** Starts a run (stopping the current one once the new one is built; if it is refused, the current one goes on). */
  start(options: StartOptions, o: Transfer = {}) { return this.request({ type: 'start', options }, o.transfer ?? true); }

  /** Stops submitting steps and waits for the GPU; with autoCheckpoint a `checkpoint` event follows. */
  pause() { return this.request({ type: 'pause' }); }
  resume() { return this.request({ type: 'resume' }); }
  /** Cancels the run and frees its GPU memory. */
  stop() { return this.request({ type: 'stop' }); }
  /** The learning rate from the next step on, without rebuilding anything. */
  setLearningRate(lr: number) { return this.request({ type: 'set-lr', lr }); }
  /** Held-out loss, accuracy and confusion matrix of the current weights. */
  evaluate() { return this.request({ type: 'evaluate' }); }
  /** Predicts whole images (CHW bytes): class probabilities, or reconstructions for autoencoders. */
  predict(pixels: Uint8Array, o: Transfer = {}) { return this.request({ type: 'predict', pixels }, o.transfer ?? true); }
  /** Decodes image files (resized to the model input) and predicts them; undecodable ones are listed. */
  predictFiles(files: Blob[]) { return this.request({ type: 'predict-files', files }); }
  /** Decodes an image folder's classes into a labelled set (off the page's thread). */
  decode(request: DecodeRequest) { return this.request({ type: 'decode', request }); }
  /** The current (or the best epoch's) weights as .safetensors bytes. */
  weights(o: { best?: boolean } = {}) { return this.request({ type: 'weights', best: o.best }); }
  loadWeights(bytes: Uint8Array, source?: string, o: Transfer = {}) { return this.request({ type: 'load-weights', bytes, source }, o.transfer ?? true); }
  /** A checkpoint (weights, optimizer state, step, data order) as bytes. */
  checkpoint() { return this.request({ type: 'checkpoint' }); }
  /** Continues the current run from a checkpoint made with the same model, data and settings. */
  restore(bytes: Uint8Array, source?: string, o: Transfer = {}) { return this.request({ type: 'restore', bytes, source }, o.transfer ?? true); }
  /** After a lost device: a new device, continuing from the last checkpoint the worker kept. */
  recover() { return this.request({ type: 'recover' }); }
  /** Destroys the worker's device, as a driver reset would (for testing recovery). */
  loseDevice() { return this.request({ type: 'lose-device' }); }
  /** Frees the run and the device. */
  dispose() { return this.request({ type: 'dispose' }); }

  /** Ends the worker at once (after `dispose`, or to abandon it). */
  terminate(): void {
    this.worker.terminate();
    this.fail(new KilnError('the Kiln worker was terminated'));
  }
}
