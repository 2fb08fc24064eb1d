// Wires the page together: checks WebGPU, starts the training worker, starts the embedded sample by
// itself (or offers to continue a checkpoint stored in this browser), and connects the controls
// (mode, settings, data, images, weights, checkpoints) to the session and its events to the view.
// Everything here runs on the page's thread, which only draws; the GPU work is in the worker.
import { CIFAR_PIXELS, KilnError, openDevice } from '../src/index.ts';
import { LossChart } from './chart.ts';
import { ConfusionView, PredictionsView } from './classify_view.ts';
import { loadEmbedded, type Mode, type TrainData } from './data.ts';
import { Session, type Pairing, type Settings, type State } from './session.ts';
import { clearStored, saveCheckpoint, storedCheckpoint, storedMeta, type StoredMeta } from './store.ts';
import { View } from './view.ts';
import type { EvalReport } from '../src/worker/protocol.ts';
import { wireInputs } from './inputs.ts';

const view = new View();
const chart = new LossChart(view.chartHost);
const predictions = new PredictionsView(document.querySelector<HTMLElement>('[data-testid="predictions"]')!);
const confusion = new ConfusionView(document.querySelector<HTMLCanvasElement>('[data-testid="confusion"]')!);
const $ = <T extends HTMLElement>(s: string) => document.querySelector<T>(s)!;
const modeEl = $<HTMLSelectElement>('#mode');
const lrEl = $<HTMLSelectElement>('#lr');
const batchEl = $<HTMLSelectElement>('#batch');
const pairingEl = $<HTMLSelectElement>('#pairing');
const offerEl = $<HTMLElement>('[data-testid="resume-offer"]');
const saveBest = $<HTMLButtonElement>('#save-best');

let session: Session | undefined;
let embedded: TrainData | undefined;
let latest: { step: number; loss: number } | undefined;
/** While a stored checkpoint is offered, autosaves wait (they would overwrite it). */
let offered: StoredMeta | undefined;

export const describe = (e: unknown): string => (e instanceof KilnError || e instanceof Error ? e.message : String(e));

const readSettings = (): Settings => ({ lr: Number(lrEl.value), batch: Number(batchEl.value), pairing: pairingEl.value as Pairing });
const readMode = (): Mode => modeEl.value as Mode;

function showSettings(s: Settings, mode: Mode): void {
  lrEl.value = String(s.lr);
  batchEl.value = String(s.batch);
  pairingEl.value = s.pairing;
  modeEl.value = mode;
  view.mode(mode);
}

function runningMessage(): string {
  const c = session?.current;
  if (!c) return '';
  const { settings: s, info } = c;
  const lr = `Adam lr ${s.lr.toExponential(0)}, batch ${info.batch}`;
  if (c.mode === 'classify') {
    return `Training on the ${c.data.label}: classifier (${info.classNames?.length ?? info.model.classes} classes), ${lr}; ` +
      `${info.testCount.toLocaleString('en-US')} held-out images.`;
  }
  const out = s.pairing === 'tanh-11' ? 'Tanh' : 'Sigmoid';
  return `Training on the ${c.data.label}: cae (${out}, data in [${s.pairing === 'sigmoid-01' ? '0' : '−1'}, 1]), ${lr}.`;
}

/** Runs UI actions that restart training one at a time, in order. */
let queue: Promise<void> = Promise.resolve();
const serial = (fn: () => Promise<void>): Promise<void> => (queue = queue.then(fn, fn));

/**
 * Starts a fresh run (or continues `resume`); if the worker refuses it, says why — the run before
 * goes on — and shows the settings still in force. Resolves true when the new run started.
 */
function restart(data: TrainData, mode: Mode, settings: Settings, o: { what?: string; resume?: Uint8Array; resumeSource?: string; failed?: string } = {}): Promise<boolean> {
  let ok = false;
  return serial(async () => {
    const s = session;
    if (!s) return;
    try {
      view.setStatus(o.resume ? 'Restoring the checkpoint…' : 'Starting…');
      const c = await s.start(mode, data, settings, { resume: o.resume, resumeSource: o.resumeSource });
      ok = true;
      chart.clear();
      latest = undefined;
      updateStats(); // the new run's step from now on
      saveBest.disabled = true;
      view.best('—');
      view.heldOut(undefined, undefined);
      view.mode(mode);
      if (mode === 'classify') {
        predictions.setImages(c.prepared.shown, c.prepared.shownLabels, c.info.classNames ?? []);
        confusion.clear();
      } else view.drawOriginals(c.prepared.shown);
      const m = c.info.model;
      const what = mode === 'classify' ? `classifier, ${m.classes} classes` : `${m.name}, ${m.outputActivation === 'tanh' ? 'Tanh' : 'Sigmoid'} output`;
      view.labels(`${what}, ${m.paramCount.toLocaleString('en-US')} parameters`, data.label);
      view.setStatus((o.what ?? '') + (o.resume ? `Continuing from step ${c.info.step}. ` : '') + runningMessage());
    } catch (e) {
      const still = s.current ? ` Training continues on the ${s.current.data.label}.` : '';
      // The engine's resume refusal names a CLI flag; the page has no such switch.
      const why = describe(e).replace(/; pass --allow-new-data.*$/, '');
      view.setStatus(`${o.failed ?? 'Could not restart'}: ${why}${/[.?!]$/.test(why) ? '' : '.'}${still}`, 'error');
    }
    const c = s.current;
    if (c) showSettings(c.settings, c.mode);
    view.rangeWarning(s.rangeWarning);
  }).then(() => ok);
}

const handlers = {
  progress(): void {
    schedule();
  },
  losses({ steps, losses }: { steps: Uint32Array; losses: Float32Array }): void {
    schedule();
    for (let i = 0; i < steps.length; i++) chart.add(steps[i]!, losses[i]!);
    const n = steps.length;
    if (n === 0) return;
    latest = { step: steps[n - 1]!, loss: losses[n - 1]! };
    if (!Number.isFinite(latest.loss) && session?.state === 'running') {
      view.setStatus(`The loss is ${latest.loss} at step ${latest.step}: training diverged. Lower the learning rate or press Reset.`, 'warn');
    }
  },
  eval(r: EvalReport): void {
    const c = session?.current;
    if (!c) return;
    // Drawn with the next frame, with everything else that changed (one style, layout and commit).
    pendingEval = { report: r, run: c };
    schedule();
  },
  state(state: State, message?: string): void {
    updateStats(); // the step shown agrees with the step in the message
    const pause = view.pause;
    pause.textContent = state === 'running' || state === 'pausing' || state === 'starting' ? 'Pause' : 'Resume';
    pause.disabled = state === 'starting' || state === 'pausing' || state === 'failed' || state === 'idle';
    if (state === 'lost') {
      const from = session?.lostAt ? `step ${session.lostAt}` : 'freshly initialised weights';
      view.setStatus(`${message ?? 'The GPU device was lost.'} Resume rebuilds it and continues from ${from}.`, 'error');
    } else if (message) view.setStatus(message, state === 'failed' ? 'error' : 'info');
    else if (state === 'pausing') view.setStatus('Pausing: letting the GPU finish the queued steps…');
    else if (state === 'paused') view.setStatus(`Paused at step ${session?.step ?? 0}.`);
    else if (state === 'running' && session?.current) view.setStatus(runningMessage());
  },
  checkpoint(d: { bytes: Uint8Array; step: number; epoch: number; why: string }): void {
    void autosave(d.bytes, d.step, d.epoch, d.why);
  },
  best(b: { epoch: number; step: number; loss: number; accuracy?: number }): void {
    const acc = b.accuracy === undefined ? '' : `, accuracy ${(100 * b.accuracy).toFixed(1)}%`;
    view.best(`${b.epoch} (step ${b.step}, held-out loss ${b.loss.toPrecision(3)}${acc})`);
    saveBest.disabled = false;
  },
  stopped(d: { message: string }): void {
    view.setStatus(`${d.message} Its weights are kept: download them with “Download best weights”, or press Resume to go on.`);
  },
  profile(d: { totals: [string, number][]; steps: number }): void {
    view.profile(new Map(d.totals), d.steps, session?.current?.info.model.layers ?? []);
  },
  error(message: string): void {
    view.setStatus(message, 'error');
  },
};

/**
 * Writes the worker's checkpoint to this browser's storage; a failure is said next to it, and
 * training goes on. One write at a time: a checkpoint arriving meanwhile waits, replacing any older one waiting.
 */
let saving = false;
let waiting: { bytes: Uint8Array; step: number; epoch: number; why: string } | undefined;
async function autosave(bytes: Uint8Array, step: number, epoch: number, why: string): Promise<void> {
  const c = session?.current;
  if (!c || offered) return;
  if (saving) { waiting = { bytes, step, epoch, why }; return; }
  saving = true;
  try {
    await saveCheckpoint(bytes, { mode: c.mode, settings: c.settings, data: c.data.label, step, epoch });
    view.checkpointNote(`Checkpoint kept in this browser at step ${step} (${why === 'pause' ? 'paused' : `epoch ${epoch}`}).`);
    document.body.dataset.checkpointStep = String(step);
  } catch (e) {
    view.checkpointNote(`${describe(e)}. Training goes on; “Download checkpoint” still works.`, 'warn');
  } finally {
    saving = false;
  }
  const next = waiting;
  waiting = undefined;
  if (next) await autosave(next.bytes, next.step, next.epoch, next.why);
}

/**
 * Offers to continue a stored checkpoint for `data` and waits for the user's choice: resolves with
 * whether it continued, and why not when restoring failed (a corrupt or mismatched file).
 */
function offer(meta: StoredMeta, data: TrainData): Promise<{ continued: boolean; why?: string }> {
  offered = meta;
  const when = new Date(meta.savedAt).toLocaleString();
  $('#offer-text').textContent = `A checkpoint from step ${meta.step} (${meta.mode}, ${meta.data}, saved ${when}) is stored in this browser. ` +
    'Continue where it left off?';
  offerEl.hidden = false;
  return new Promise((resolve) => {
    const done = (continued: boolean, why?: string) => { offerEl.hidden = true; offered = undefined; resolve({ continued, why }); };
    $('[data-testid="continue"]').onclick = async () => {
      offerEl.hidden = true;
      offered = undefined;
      let bytes: Uint8Array;
      try {
        bytes = await storedCheckpoint(meta);
      } catch (e) {
        return done(false, `${describe(e)}.`);
      }
      const settings = { ...readSettings(), ...meta.settings } as Settings;
      showSettings(settings, meta.mode as Mode);
      const ok = await restart(data, meta.mode as Mode, settings, { resume: bytes, resumeSource: 'the stored checkpoint', failed: 'The stored checkpoint could not be restored' });
      done(ok, ok ? undefined : view.status.textContent ?? undefined);
    };
    $('#fresh').onclick = () => done(false);
  });
}

function updateStats(): void {
  const s = session;
  if (!s) return;
  view.stats({ step: s.step, stepsPerEpoch: s.progress?.stepsPerEpoch ?? 1, loss: latest?.loss, imagesPerSecond: s.imagesPerSecond });
}

/** Draws on the next animation frame, only when something changed: an idle page renders nothing. */
let framePending = false;
let lastFrame = 0;
const FRAME_MS = 1000; // one frame a second at most: each is a style, layout and compositor commit on this thread
function schedule(): void {
  if (framePending) return;
  framePending = true;
  const wait = lastFrame + FRAME_MS - performance.now();
  if (wait > 0) setTimeout(() => requestAnimationFrame(frame), wait);
  else requestAnimationFrame(frame);
}

/** The latest evaluation not drawn yet, and the run it belongs to (a restart drops it). */
let pendingEval: { report: EvalReport; run: object } | undefined;

function drawEval(): void {
  const p = pendingEval, c = session?.current;
  pendingEval = undefined;
  if (!p || !c || p.run !== c) return;
  const r = p.report;
  chart.addEval(r.step, r.loss, r.accuracy);
  view.heldOut(r.loss, r.accuracy);
  if (r.images) view.drawReconstructions(r.images, r.step);
  if (c.mode === 'classify' && r.predicted) predictions.update(r.step, r.predicted, r.confidence);
  if (r.confusion) confusion.draw(r.confusion, c.info.classNames ?? [], r.step);
}

function frame(now: number): void {
  framePending = false;
  lastFrame = now;
  drawEval();
  updateStats();
  if (chart.render(now)) schedule(); // throttled: points are waiting
}

/** Fails with the engine's own explanation when this page has no WebGPU or no adapter (the worker would fail the same way). */
async function preflight(): Promise<void> {
  const gpu = navigator.gpu;
  if (!gpu) await openDevice(undefined);
  else if (!(await gpu.requestAdapter())) await openDevice({ requestAdapter: async () => null } as unknown as GPU);
}

async function boot(): Promise<void> {
  showSettings({ lr: 1e-3, batch: 32, pairing: 'sigmoid-01' }, 'autoencoder');
  const disable = () => { for (const el of document.querySelectorAll<HTMLInputElement>('button, select, input')) el.disabled = true; };
  try {
    await preflight();
  } catch (e) {
    view.setStatus(describe(e), 'error');
    $('#help').hidden = false;
    disable();
    return;
  }
  const worker = new Worker(new URL('../src/worker/index.ts', import.meta.url), { type: 'module', name: 'kiln' });
  const s = new Session(worker, handlers);
  session = s;
  Object.assign(globalThis, { kiln: { session: s, worker: s.kiln } }); // for poking at from the console (and tests)
  view.setStatus('Opening WebGPU in the training worker…');
  const device = await s.init();
  view.adapter(device.adapter);
  if (!device.hasTimestamps) view.noProfile(`Per-layer timing is unavailable: adapter ${device.adapter} lacks the 'timestamp-query' feature.`);
  view.setStatus('Loading the embedded sample…');
  embedded = await loadEmbedded();
  view.drawOriginals(embedded.test!.pixels.subarray(0, 16 * CIFAR_PIXELS));
  wireInputs({ session: s, view, restart, readSettings, readMode, showSettings, chart, embedded: () => embedded, describe });
  schedule();
  let meta: StoredMeta | undefined;
  try {
    meta = await storedMeta();
  } catch (e) {
    view.checkpointNote(`${describe(e)}; it is ignored.`, 'warn');
    await clearStored();
  }
  let what = '';
  if (meta && meta.data === embedded.label) {
    view.setStatus('A checkpoint is stored in this browser.');
    const r = await offer(meta, embedded);
    if (r.continued) return;
    if (r.why) what = `${r.why} Training starts from fresh weights instead. `;
  } else if (meta) {
    view.checkpointNote(`The checkpoint stored in this browser is for ${meta.data} (step ${meta.step}); it is replaced by the next one saved.`);
  }
  await restart(embedded, readMode(), readSettings(), { what });
}

boot().catch((e) => view.setStatus(`The demo failed to start: ${describe(e)}`, 'error'));
