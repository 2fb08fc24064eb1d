// Device and trainer lifecycle for the demo: one training run at a time, a loop that keeps the GPU
// fed without starving the page, pause/resume, restarts on new settings or data, periodic copies of
// the weights, and recovery from a lost device. It knows nothing about the DOM; main.ts wires it up.
import {
  CAE_SPEC, ConfigError, Predictor, Trainer, buildModel, openBrowserDevice, rangeWarning,
  type DataRange, type Gpu, type Model, type ModelSpec,
} from '../src/index.ts';
import type { TrainData } from './data.ts';

export type Pairing = 'sigmoid-01' | 'sigmoid-11' | 'tanh-11';
export interface Settings { lr: number; batch: number; pairing: Pairing }
export type State = 'starting' | 'running' | 'pausing' | 'paused' | 'lost' | 'failed';

export interface SessionEvents {
  /** A step's loss arrived (step counts across device recoveries). */
  loss(step: number, loss: number): void;
  /** Fresh reconstructions of the held-out images (bytes, CHW per image) after `step`. */
  reconstructions(bytes: Uint8Array, step: number): void;
  state(state: State, message?: string): void;
  /** Something the user should read (a GPU validation error, a failed restart). */
  error(message: string): void;
}

/** The model and data range an output pairing stands for (Tanh: CAE_SPEC with its last layer swapped). */
export function pairingModel(p: Pairing): { model: Model; range: DataRange; warning?: string } {
  const spec: ModelSpec = p === 'tanh-11'
    ? { ...CAE_SPEC, layers: CAE_SPEC.layers.map((l, i, all) => (i === all.length - 1 ? { ...l, type: 'tanh' as const } : l)) }
    : CAE_SPEC;
  const model = buildModel(spec, p === 'tanh-11' ? 'cae (tanh)' : 'cae');
  const range: DataRange = p === 'sigmoid-01' ? '0,1' : '-1,1';
  return { model, range, warning: rangeWarning(model, range) };
}

const RECON_COUNT = 16;
const SNAPSHOT_STEPS = 100;
const SNAPSHOT_MS = 10_000; // on slow adapters (SwiftShader: ~1 step/s) 100 steps is a long time

/** Yields to the event loop (a task, not a microtask) without setTimeout's 4 ms clamp. */
const channel = new MessageChannel();
const nextTask = () => new Promise<void>((resolve) => {
  channel.port1.onmessage = () => resolve();
  channel.port2.postMessage(0);
});

export class Session {
  gpu: Gpu;
  trainer?: Trainer;
  model?: Model;
  data?: TrainData;
  settings?: Settings;
  state: State = 'starting';
  /** Steps trained before the current trainer existed (after a device was lost and rebuilt). */
  private offset = 0;
  /** Steps of the current trainer the GPU has finished. */
  private completed = 0;
  /** The last weights copied back, for recovery from a lost device. */
  held?: { params: Map<string, Float32Array>; step: number };
  private rec?: Predictor;
  private recBusy = false;
  private recImages?: Uint8Array;
  private gen = 0; // bumped whenever the run changes; stale callbacks compare and drop out
  private running = false;
  private runs = 0; // counts run() calls, so a pause and resume never leaves two refresh loops
  private loopDone: Promise<void> = Promise.resolve();
  private wake?: () => void;
  private inFlight = new Set<Promise<unknown>>();
  private snapshotting = false;
  private lastSnapshot = { step: 0, time: 0 };
  private recStep = -1;
  /** (time ms, completed global step) samples over the last few seconds, for images/s. */
  private rate: [number, number][] = [];

  constructor(gpu: Gpu, private readonly events: SessionEvents) {
    this.gpu = gpu;
    this.watch(gpu);
  }

  /** Global step the GPU has finished. */
  get step(): number {
    return this.offset + this.completed;
  }

  get stepsPerEpoch(): number {
    return this.trainer?.stepsPerEpoch ?? 1;
  }

  get imagesPerSecond(): number | undefined {
    const r = this.rate;
    if (r.length < 2 || !this.settings) return undefined;
    const [t0, s0] = r[0]!, [t1, s1] = r[r.length - 1]!;
    return t1 > t0 ? ((s1 - s0) * this.settings.batch * 1000) / (t1 - t0) : undefined;
  }

  /** Starts a fresh run (new weights unless `init`), stopping and freeing the current one first. */
  async start(data: TrainData, settings: Settings, init?: { params: Map<string, Float32Array>; step: number }): Promise<void> {
    if (this.state === 'lost') throw new ConfigError('the GPU device was lost: press Resume first');
    if (data.train.count < settings.batch) {
      throw new ConfigError(`${data.train.source}: ${data.train.count} images are fewer than one batch of ${settings.batch}`);
    }
    const previous = this.data && this.settings ? { data: this.data, settings: this.settings } : undefined;
    await this.teardown();
    try {
      this.build(data, settings, init);
    } catch (e) {
      // Keep the page training: go back to what worked, then report why the new run was refused.
      if (previous) this.build(previous.data, previous.settings, this.held);
      throw e;
    }
    this.run();
  }

  private build(data: TrainData, settings: Settings, init?: { params: Map<string, Float32Array>; step: number }): void {
    const { model, range } = pairingModel(settings.pairing);
    const gen = ++this.gen;
    this.trainer = new Trainer(this.gpu, model, data.train, {
      batch: settings.batch, optimizer: { kind: 'adam', options: { lr: settings.lr } }, seed: 0, shuffle: true, range,
      // Timing one step in 10 keeps the per-layer bars live at a tenth of the profiling cost.
      profile: this.gpu.hasTimestamps, profileEvery: 10, init: init?.params,
      onLoss: (s, l) => { if (gen === this.gen) this.events.loss(this.offset + s, l); },
    });
    this.rec = Predictor.fromTrainer(this.trainer, { batch: RECON_COUNT, range });
    this.recImages = data.test.subarray(0, RECON_COUNT * 3072);
    this.model = model;
    this.data = data;
    this.settings = settings;
    this.offset = init?.step ?? 0;
    this.completed = 0;
    this.recStep = -1;
    this.rate = [];
    this.held = init;
    this.lastSnapshot = { step: this.offset, time: performance.now() };
  }

  /** Stops submitting steps, waits for the GPU to finish what it has, and frees the run's buffers. */
  private async teardown(): Promise<void> {
    await this.stop();
    this.gen++;
    if (this.trainer && this.state !== 'lost') await this.trainer.drain().catch(() => {});
    await Promise.allSettled([...this.inFlight]);
    this.rec?.dispose();
    this.trainer?.destroy();
    this.rec = undefined;
    this.trainer = undefined;
  }

  private async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
  }

  pause = async (): Promise<void> => {
    if (this.state !== 'running') return;
    this.setState('pausing');
    await this.stop();
    await this.trainer?.drain().catch(() => {});
    this.snapshot();
    this.refresh();
    if ((this.state as State) === 'pausing') this.setState('paused'); // unless the device was lost meanwhile
  };

  resume = (): void => {
    if (this.state === 'paused') this.run();
  };

  /** After a lost device: opens a new one and continues from the last weights copied back. */
  async recover(): Promise<void> {
    if (this.state !== 'lost' || !this.data || !this.settings) return;
    this.setState('starting');
    this.rec?.dispose();
    this.trainer?.destroy();
    this.trainer = undefined;
    this.rec = undefined;
    try {
      const gpu = await openBrowserDevice({ timestamps: true });
      this.gpu = gpu;
      this.watch(gpu);
      this.build(this.data, this.settings, this.held);
    } catch (e) {
      this.setState('lost', `Could not rebuild the GPU device: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.run();
  }

  /** Writes weights into the running model (from an uploaded file); they become the held copy. */
  setParams(params: Map<string, Float32Array>): void {
    if (!this.trainer) throw new ConfigError('no model is loaded yet');
    this.trainer.setParams(params);
    this.held = { params, step: this.offset + this.trainer.steps };
    this.recStep = -1;
    if (this.state === 'paused') this.refresh();
  }

  private run(): void {
    const t = this.trainer;
    if (!t) return;
    this.running = true;
    this.setState('running');
    this.loopDone = this.loop(t, this.gen);
    void this.reconstructLoop(++this.runs);
  }

  private setState(s: State, message?: string): void {
    this.state = s;
    this.events.state(s, message);
  }

  /** How many steps may be queued on the GPU: about a quarter second of work, at least 2. */
  private get ahead(): number {
    const ips = this.imagesPerSecond;
    const stepsPerSecond = ips && this.settings ? ips / this.settings.batch : 0;
    return Math.max(2, Math.min(24, Math.ceil(stepsPerSecond / 4)));
  }

  private async loop(t: Trainer, gen: number): Promise<void> {
    let lastFlush = -Infinity;
    let lastYield = performance.now();
    try {
      while (this.running && gen === this.gen) {
        // Keep only a little work queued, so pausing is prompt and the step counter is honest.
        while (t.steps - this.completed >= this.ahead && this.running && gen === this.gen) {
          await new Promise<void>((resolve) => { this.wake = resolve; });
        }
        if (!this.running || gen !== this.gen) break;
        const now = performance.now();
        const flush = now - lastFlush > 200; // read losses at least ~5 times a second, even mid-chunk
        if (flush) lastFlush = now;
        await t.step({ flush: flush });
        const s = t.steps;
        this.gpu.device.queue.onSubmittedWorkDone().then(() => {
          if (gen !== this.gen) return;
          this.completed = Math.max(this.completed, s);
          this.sampleRate();
          this.wake?.();
        }, () => {});
        if (this.offset + s - this.lastSnapshot.step >= SNAPSHOT_STEPS || performance.now() - this.lastSnapshot.time > SNAPSHOT_MS) {
          this.snapshot();
        }
        if (performance.now() - lastYield > 8) {
          await nextTask(); // let clicks, rendering and file parsing run
          lastYield = performance.now();
        }
      }
    } catch (e) {
      if (gen === this.gen && this.state !== 'lost') {
        this.running = false;
        this.setState('failed', `Training stopped: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private sampleRate(): void {
    const now = performance.now();
    this.rate.push([now, this.step]);
    // A 10 s window: at ~1 step/s (SwiftShader) a shorter one jumps by a step's worth.
    while (this.rate.length > 2 && now - this.rate[0]![0] > 10_000) this.rate.shift();
  }

  /** Copies the weights back in the background, for recovery; never awaited by the loop. */
  private snapshot(): void {
    const t = this.trainer;
    if (!t || this.snapshotting) return;
    const step = this.offset + t.steps;
    const gen = this.gen;
    this.snapshotting = true;
    this.lastSnapshot = { step, time: performance.now() };
    this.track(t.params().then((params) => {
      if (gen === this.gen) this.held = { params, step };
    }).finally(() => { this.snapshotting = false; }));
  }

  /** Remembers a GPU read in flight, so a teardown can wait for it before freeing buffers. */
  private track(p: Promise<unknown>): void {
    const settled = p.catch(() => {}).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
  }

  /** Refreshes the reconstructions every ~1.5 s while the weights change; the run is async. */
  private async reconstructLoop(run: number): Promise<void> {
    while (run === this.runs && this.running) {
      this.refresh();
      await new Promise((r) => setTimeout(r, 1500));
    }
  }

  /** One reconstruction if the step moved since the last one (skipped while one is in flight). */
  private refresh(): void {
    const rec = this.rec, t = this.trainer;
    const gen = this.gen;
    if (!rec || !t || !this.recImages || this.recBusy) return;
    const step = this.offset + t.steps; // the forward pass runs after every step submitted so far
    if (step === this.recStep) return;
    this.recBusy = true;
    const p = rec.predict(this.recImages).then((r) => {
      if (r.images && gen === this.gen) {
        this.recStep = step;
        this.events.reconstructions(r.images, step);
      }
    }).finally(() => { this.recBusy = false; });
    this.track(p);
  }

  /** Watches for the device going away without us asking (driver reset, GPU process crash). */
  private watch(gpu: Gpu): void {
    gpu.device.addEventListener('uncapturederror', (ev) => {
      if (gpu === this.gpu) this.events.error(`GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
    });
    void gpu.device.lost.then((info) => {
      if (gpu !== this.gpu) return;
      this.running = false;
      this.gen++;
      this.wake?.();
      const from = this.held ? `step ${this.held.step}` : 'freshly initialised weights';
      this.setState('lost', `The GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}). ` +
        `Resume rebuilds it and continues from ${from}.`);
    });
  }

  /** The run's current weights (for saving). */
  async params(): Promise<Map<string, Float32Array>> {
    if (!this.trainer) throw new ConfigError('no model is loaded yet');
    return this.trainer.params();
  }

  get rangeWarning(): string | undefined {
    return this.settings ? pairingModel(this.settings.pairing).warning : undefined;
  }
}
