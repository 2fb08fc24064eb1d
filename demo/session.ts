// The page's handle on training, which runs in a Web Worker (kiln/worker): what to train (mode,
// data, settings), the run's state as the worker reports it, and the numbers the page draws. It
// knows nothing about the DOM; main.ts wires it up. The page's own thread never touches the GPU.
import { CAE_SPEC, ConfigError, buildModel, rangeWarning, type DataRange, type ModelSpec } from '../src/index.ts';
import { KilnWorker } from '../src/worker/client.ts';
import type { DeviceInfo, EvalReport, Events, RunInfo, RunState, StartOptions } from '../src/worker/protocol.ts';
import { checkFits, prepare, type Mode, type Prepared, type TrainData } from './data.ts';

export type Pairing = 'sigmoid-01' | 'sigmoid-11' | 'tanh-11';
export interface Settings { lr: number; batch: number; pairing: Pairing }
export type State = RunState;

/** The autoencoder and data range an output pairing stands for (Tanh: CAE_SPEC with its last layer swapped). */
export function pairingModel(p: Pairing): { spec: ModelSpec; name: string; range: DataRange; warning?: string } {
  const spec: ModelSpec = p === 'tanh-11'
    ? { ...CAE_SPEC, layers: CAE_SPEC.layers.map((l, i, all) => (i === all.length - 1 ? { ...l, type: 'tanh' as const } : l)) }
    : CAE_SPEC;
  const name = p === 'tanh-11' ? 'cae (tanh)' : 'cae';
  const range: DataRange = p === 'sigmoid-01' ? '0,1' : '-1,1';
  return { spec, name, range, warning: rangeWarning(buildModel(spec, name), range) };
}

export interface Handlers {
  progress(): void;
  losses(d: Events['losses']): void;
  eval(r: EvalReport): void;
  state(state: State, message?: string): void;
  checkpoint(d: Events['checkpoint']): void;
  best(d: Events['best']): void;
  stopped(d: Events['stopped']): void;
  profile(d: Events['profile']): void;
  error(message: string): void;
}

/** What a run started with, for messages and for the stored checkpoint's note. */
export interface Current { mode: Mode; data: TrainData; settings: Settings; info: RunInfo; prepared: Prepared }

export class Session {
  readonly kiln: KilnWorker;
  device?: DeviceInfo;
  current?: Current;
  state: State = 'idle';
  progress?: Events['progress'];
  /** Step of the checkpoint the worker kept when the device was lost. */
  lostAt?: number;
  private lastLossStep = 0;

  constructor(worker: Worker, handlers: Handlers) {
    this.kiln = new KilnWorker(worker);
    const k = this.kiln;
    k.on('losses', (d) => {
      if (d.steps.length > 0) this.lastLossStep = Math.max(this.lastLossStep, d.steps[d.steps.length - 1]!);
      handlers.losses(d);
    });
    k.on('progress', (p) => {
      this.progress = p;
      handlers.progress();
    });
    k.on('eval', (r) => handlers.eval(r));
    k.on('state', ({ state, message, step }) => {
      this.state = state;
      if (state === 'lost') this.lostAt = step;
      handlers.state(state, message);
    });
    k.on('checkpoint', (d) => handlers.checkpoint(d));
    k.on('best', (d) => handlers.best(d));
    k.on('stopped', (d) => handlers.stopped(d));
    k.on('profile', (d) => handlers.profile(d));
    k.on('error', (d) => handlers.error(d.message));
  }

  async init(): Promise<DeviceInfo> {
    const limits: Record<string, number> = {};
    // ?maxStorageBufferBindingSize=N lowers the limit Kiln checks against (to see the refusal on a big GPU).
    const lowered = new URLSearchParams(location.search).get('maxStorageBufferBindingSize');
    if (lowered) limits.maxStorageBufferBindingSize = Number(lowered);
    this.device = await this.kiln.init({ timestamps: true, limits });
    return this.device;
  }

  /** Global step the GPU has finished (a loss read back means its step is done). */
  get step(): number {
    return Math.max(this.progress?.step ?? 0, this.lastLossStep);
  }

  get imagesPerSecond(): number | undefined {
    return this.state === 'running' ? this.progress?.imagesPerSecond : undefined;
  }

  /**
   * Starts a fresh run (or continues `resume`, a checkpoint). When the worker refuses it, the run
   * before goes on and the error says why.
   */
  async start(mode: Mode, data: TrainData, settings: Settings, o: { resume?: Uint8Array; resumeSource?: string } = {}): Promise<Current> {
    if (this.state === 'lost') throw new ConfigError('the GPU device was lost: press Resume first');
    const prepared = prepare(data, mode);
    const trainCount = prepared.train.pixels.length / 3072;
    if (trainCount < settings.batch && !o.resume) {
      throw new ConfigError(`${data.train.source}: ${trainCount} images to train on are fewer than one batch of ${settings.batch}`);
    }
    checkFits(trainCount, 3072, this.device!.maxStorageBufferBindingSize, data.train.source);
    const names = prepared.classNames ?? [];
    if (mode === 'classify' && names.length < 2) throw new ConfigError(`${data.label}: classify mode needs at least two classes`);
    const ae = pairingModel(settings.pairing);
    const options: StartOptions = {
      model: mode === 'classify' ? { preset: 'classifier', classes: names.length, name: 'classifier' } : { spec: ae.spec, name: ae.name },
      train: prepared.train, test: prepared.test, show: prepared.shown.length / 3072,
      batch: settings.batch, lr: settings.lr, range: mode === 'classify' ? '0,1' : ae.range,
      profile: this.device!.hasTimestamps, evalEveryMs: 3000, autoCheckpoint: true, checkpointMinMs: 5000,
      earlyStop: mode === 'classify' ? { patience: 10 } : undefined, resume: o.resume, resumeSource: o.resumeSource,
    };
    // The page keeps its copy of the data (a mode or setting change restarts on it), so nothing is transferred.
    const info = await this.kiln.start(options, { transfer: false });
    this.lastLossStep = info.step;
    this.progress = undefined;
    const lr = info.optimizer.options.lr;
    this.current = { mode, data, prepared, info, settings: { lr, batch: info.batch, pairing: settings.pairing } };
    return this.current;
  }

  pause(): Promise<unknown> {
    return this.kiln.pause();
  }

  resume(): Promise<unknown> {
    return this.kiln.resume();
  }

  async recover(): Promise<void> {
    const info = await this.kiln.recover();
    this.lastLossStep = info.step;
    this.progress = undefined;
    if (this.current) this.current.info = info;
  }

  async setLearningRate(lr: number): Promise<void> {
    await this.kiln.setLearningRate(lr);
    if (this.current) this.current.settings = { ...this.current.settings, lr };
  }

  get rangeWarning(): string | undefined {
    const c = this.current;
    return c && c.mode === 'autoencoder' ? pairingModel(c.settings.pairing).warning : undefined;
  }
}
