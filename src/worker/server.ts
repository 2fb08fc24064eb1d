// The worker's side of kiln/worker: owns the WebGPU device and at most one training run, answers
// the page's requests in order of arrival, and posts events (losses, progress, evaluations,
// checkpoints, state changes). A lost device keeps the run's last consistent checkpoint, so
// `recover` continues on a new device with the same weights, optimizer state and data order.
import { KilnError } from '../errors.ts';
import { openBrowserDevice, type DeviceOptions, type Gpu } from '../gpu/device.ts';
import type { Checkpoint } from '../io/weights.ts';
import { decodeClasses, decodeImage } from './images.ts';
import { Run } from './run.ts';
import {
  transferables, type EventName, type Events, type FromWorker, type Replies, type Request, type RunState,
  type RunInfo, type StartOptions, type ToWorker,
} from './protocol.ts';

/** What the worker needs of its global scope (DedicatedWorkerGlobalScope, or a MessagePort in tests). */
export interface WorkerScope {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  addEventListener(type: 'unhandledrejection', listener: (e: PromiseRejectionEvent) => void): void;
  close?(): void;
}

const IMMEDIATE = new Set<Request['type']>(['decode', 'evaluate', 'predict', 'predict-files', 'weights', 'checkpoint', 'load-weights', 'lose-device']);

type Handler<K extends Request['type']> = (r: Extract<Request, { type: K }>) => Promise<Replies[K]>;

export class Server {
  private gpu?: Gpu;
  private deviceOptions: DeviceOptions = {};
  private run?: Run;
  private options?: StartOptions;
  private state: RunState = 'idle';
  private chain: Promise<unknown> = Promise.resolve();
  /** Set once the device is lost or destroyed: reads it had pending are aborted, and that is expected. */
  deviceGone = false;

  constructor(private readonly scope: WorkerScope) {}

  /** Requests are handled one after another (a start never interleaves with a pause). */
  receive(msg: ToWorker): void {
    // Reads and decoding answer at once; anything that changes the run waits its turn.
    const immediate = IMMEDIATE.has(msg.type);
    const work = () => this.handle(msg).then(
      (result) => this.scope.postMessage({ id: msg.id, ok: true, result } satisfies FromWorker, transferables(result)),
      (e: unknown) => this.scope.postMessage({ id: msg.id, ok: false, error: describe(e) } satisfies FromWorker, []),
    );
    if (immediate) void work();
    else this.chain = this.chain.then(work, work);
  }

  emit = <K extends EventName>(event: K, data: Events[K]): void => {
    if (event === 'state') this.state = (data as Events['state']).state;
    this.scope.postMessage({ event, data } satisfies FromWorker, transferables(data));
  };

  private setState(state: RunState, message?: string): void {
    this.emit('state', { state, message });
  }

  private handle(r: Request): Promise<unknown> {
    const h = (this.handlers as Record<string, (r: Request) => Promise<unknown>>)[r.type];
    if (!h) return Promise.reject(new KilnError(`unknown request ${JSON.stringify(r.type)}`));
    return h(r);
  }

  private need(): Run {
    if (!this.run) throw new KilnError(this.state === 'lost' ? 'the GPU device was lost: recover first' : 'nothing is training: start a run first');
    return this.run;
  }

  private device(): Gpu {
    if (!this.gpu) throw new KilnError('no GPU device yet: send init first');
    return this.gpu;
  }

  private watch(gpu: Gpu): void {
    gpu.device.addEventListener('uncapturederror', (ev) => {
      if (gpu === this.gpu) this.emit('error', { message: `GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}` });
    });
    void gpu.device.lost.then(async (info) => {
      if (gpu === this.gpu) this.deviceGone = true;
      if (gpu !== this.gpu || info.reason === 'destroyed' && this.state === 'idle') return;
      const run = this.run;
      const step = run?.held?.step ?? 0;
      run?.flushEvents(false); // the page's last word on the steps finished before the loss
      await run?.dispose(false);
      this.emit('state', { state: 'lost', step,
        message: `The GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}).` });
    });
  }

  /** Builds and starts a run; resolves with its info as of its first step (before the loop submits any). */
  private async startRun(o: StartOptions, resume?: Checkpoint): Promise<RunInfo> {
    const gpu = this.device();
    const previous = this.run;
    const wasRunning = previous?.running ?? false;
    await previous?.pause();
    this.setState('starting');
    let next: Run;
    try {
      next = await Run.create(gpu, o, this.emit, resume);
    } catch (e) {
      if (previous && wasRunning) { previous.start(); this.setState('running'); } else if (previous) this.setState('paused');
      else this.setState('idle');
      throw e;
    }
    await previous?.dispose();
    this.run = next;
    this.options = { ...o, resume: undefined, init: undefined };
    const info = next.info;
    next.start();
    this.setState('running');
    return info;
  }

  private readonly handlers: { [K in Request['type']]: Handler<K> } = {
    init: async (r) => {
      this.deviceOptions = r.device ?? {};
      const gpu = await openBrowserDevice(this.deviceOptions);
      this.gpu?.close();
      this.gpu = gpu;
      this.watch(gpu);
      return { adapter: gpu.adapterName, isSoftware: gpu.isSoftware, hasTimestamps: gpu.hasTimestamps,
        maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize, maxBufferSize: gpu.limits.maxBufferSize };
    },
    start: async (r) => this.startRun(r.options),
    pause: async () => {
      const run = this.need();
      if (!run.running) return { step: run.trainer.steps };
      this.setState('pausing');
      await run.pause();
      if (run.options.autoCheckpoint) {
        this.emit('checkpoint', { bytes: await run.checkpoint(), step: run.trainer.steps, epoch: run.trainer.epoch, why: 'pause' });
      }
      if (this.run === run && this.state === 'pausing') this.setState('paused');
      return { step: run.trainer.steps };
    },
    resume: async () => {
      const run = this.need();
      if (!run.running) run.start();
      this.setState('running');
      return undefined;
    },
    stop: async () => {
      await this.run?.dispose();
      this.run = undefined;
      this.setState('idle');
      return undefined;
    },
    'set-lr': async (r) => {
      const run = this.need();
      if (run.setLearningRate(r.lr)) return { lr: r.lr, rebuilt: false };
      // No optimizer node to update in place: continue from the current state with the new rate.
      const c = await run.hold(() => run.trainer.checkpointState());
      const optimizer = JSON.parse(c.optimizer) as { kind: string; options: { lr: number } };
      optimizer.options.lr = r.lr;
      await this.startRun(this.options!, { ...c, optimizer: JSON.stringify(optimizer) });
      return { lr: r.lr, rebuilt: true };
    },
    evaluate: async () => this.need().evaluate(),
    predict: async (r) => this.need().predict(r.pixels),
    'predict-files': async (r) => {
      const run = this.need();
      const images: Uint8Array[] = [];
      const skipped: { name: string; reason: string }[] = [];
      for (const f of r.files) {
        const name = f instanceof File ? f.name : 'image';
        try {
          images.push(await decodeImage(f, run.model.input, name));
        } catch (e) {
          skipped.push({ name, reason: e instanceof Error ? e.message : String(e) });
        }
      }
      if (images.length === 0) return { count: 0, skipped };
      const size = images[0]!.length;
      const inputs = new Uint8Array(images.length * size);
      images.forEach((im, i) => inputs.set(im, i * size));
      const p = await run.predict(inputs.slice());
      return { ...p, inputs, skipped };
    },
    decode: async (r) => decodeClasses(r.request),
    weights: async (r) => {
      const run = this.need();
      if (r.best) {
        const b = run.best;
        return b ? { bytes: b.weights.slice(), step: b.step, epoch: b.epoch } : undefined;
      }
      return { bytes: await run.weights(), step: run.trainer.steps };
    },
    'load-weights': async (r) => {
      this.need().trainer.loadWeights(r.bytes, r.source);
      return undefined;
    },
    checkpoint: async () => {
      const run = this.need();
      const bytes = await run.checkpoint();
      return { bytes, step: run.trainer.steps };
    },
    restore: async (r) => {
      const run = this.need();
      await run.hold(async () => {
        await run.trainer.restore(r.bytes, { source: r.source });
        run.completed = run.trainer.steps;
      });
      return { step: run.trainer.steps };
    },
    recover: async () => {
      const lost = this.run;
      if (this.state !== 'lost' || !lost || !this.options) throw new KilnError('recover: the device was not lost');
      this.setState('starting');
      try {
        const gpu = await openBrowserDevice(this.deviceOptions);
        this.gpu = gpu;
        this.deviceGone = false;
        this.watch(gpu);
      } catch (e) {
        this.setState('lost', `Could not rebuild the GPU device: ${describe(e).message}`);
        throw e;
      }
      this.run = undefined;
      return this.startRun(this.options, lost.held);
    },
    'lose-device': async () => {
      const gpu = this.device();
      this.deviceGone = true;
      gpu.device.destroy();
      return undefined;
    },
    dispose: async () => {
      await this.run?.dispose(this.state !== 'lost');
      this.run = undefined;
      this.gpu?.close();
      this.gpu = undefined;
      this.setState('idle');
      return undefined;
    },
  };
}

function describe(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

/** Answers requests arriving on `scope` (the worker's global scope); `early` are messages that came before. */
export function serve(scope: WorkerScope, early: MessageEvent[] = []): Server {
  const server = new Server(scope);
  // A lost device aborts the loss and timing reads the engine had in flight, and not every one of
  // those promises has a handler (src/run/losses.ts, profiler.ts); they are expected, not errors.
  scope.addEventListener('unhandledrejection', (e) => {
    const r: unknown = e.reason;
    if (server.deviceGone && r instanceof DOMException && r.name === 'AbortError' && /mapAsync/.test(r.message)) e.preventDefault();
  });
  for (const e of early) server.receive(e.data as ToWorker);
  scope.addEventListener('message', (e) => server.receive(e.data as ToWorker));
  return server;
}
