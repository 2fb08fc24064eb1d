// Wires the page together: opens WebGPU, starts training the embedded sample by itself, and connects
// the controls (pause, settings, data and weight files) to the session and the session to the view.
import { KilnError, openBrowserDevice, parseWeights, serializeWeights } from '../src/index.ts';
import { LossChart } from './chart.ts';
import { loadEmbedded, loadFile, type TrainData } from './data.ts';
import { Session, type Pairing, type Settings, type State } from './session.ts';
import { View } from './view.ts';

const view = new View();
const chart = new LossChart(view.chartHost);
const lrEl = document.querySelector<HTMLSelectElement>('#lr')!;
const batchEl = document.querySelector<HTMLSelectElement>('#batch')!;
const pairingEl = document.querySelector<HTMLSelectElement>('#pairing')!;
const dataInput = document.querySelector<HTMLInputElement>('[data-testid="data-file"]')!;
const weightsInput = document.querySelector<HTMLInputElement>('[data-testid="weights-file"]')!;
const buttons = ['#reset', '#use-sample', '#save'].map((s) => document.querySelector<HTMLButtonElement>(s)!);
const [resetButton, sampleButton, saveButton] = buttons as [HTMLButtonElement, HTMLButtonElement, HTMLButtonElement];

let session: Session | undefined;
let embedded: TrainData | undefined;
let latest: { step: number; loss: number } | undefined;

const describe = (e: unknown): string =>
  e instanceof KilnError || e instanceof Error ? e.message : String(e);

const readSettings = (): Settings => ({
  lr: Number(lrEl.value), batch: Number(batchEl.value), pairing: pairingEl.value as Pairing,
});

function showSettings(s: Settings): void {
  lrEl.value = String(s.lr);
  batchEl.value = String(s.batch);
  pairingEl.value = s.pairing;
}

function runningMessage(): string {
  const s = session?.settings, d = session?.data;
  if (!s || !d) return '';
  const out = s.pairing === 'tanh-11' ? 'Tanh' : 'Sigmoid';
  return `Training on the ${d.label}: cae (${out}, data in [${s.pairing === 'sigmoid-01' ? '0' : '−1'}, 1]), Adam lr ${s.lr.toExponential(0)}, batch ${s.batch}.`;
}

/** Runs UI actions that restart training one at a time, in order. */
let queue: Promise<void> = Promise.resolve();
const serial = (fn: () => Promise<void>): Promise<void> => (queue = queue.then(fn, fn));

/** Starts a fresh run; if the session refuses it, says why and shows the settings still in force. */
function restart(data: TrainData, settings: Settings, what = ''): Promise<void> {
  return serial(async () => {
    if (!session) return;
    try {
      await session.start(data, settings);
      chart.clear();
      latest = undefined;
      view.drawOriginals(data.test);
      const m = session.model!;
      view.labels(`cae, ${m.outputActivation === 'tanh' ? 'Tanh' : 'Sigmoid'} output, ${m.paramCount.toLocaleString('en-US')} parameters`, data.label);
      view.setStatus(what + runningMessage());
    } catch (e) {
      view.setStatus(`Could not restart: ${describe(e)}`, 'error');
    }
    if (session.settings) showSettings(session.settings);
    view.rangeWarning(session.rangeWarning);
  });
}

const events = {
  loss(step: number, loss: number): void {
    latest = { step, loss };
    chart.add(step, loss);
    if (!Number.isFinite(loss) && session?.state === 'running') {
      view.setStatus(`The loss is ${loss} at step ${step}: training diverged. Lower the learning rate or press Reset.`, 'warn');
    }
  },
  reconstructions(bytes: Uint8Array, step: number): void {
    view.drawReconstructions(bytes, step);
  },
  state(state: State, message?: string): void {
    const pause = view.pause;
    pause.textContent = state === 'running' || state === 'pausing' ? 'Pause' : 'Resume';
    pause.disabled = state === 'starting' || state === 'pausing' || state === 'failed';
    if (message) view.setStatus(message, state === 'lost' || state === 'failed' ? 'error' : 'info');
    else if (state === 'pausing') view.setStatus('Pausing: letting the GPU finish the queued steps…');
    else if (state === 'paused') view.setStatus(`Paused at step ${session?.step ?? 0}.`);
    else if (state === 'running' && session?.data) view.setStatus(runningMessage());
  },
  error(message: string): void {
    view.setStatus(message, 'error');
  },
};

view.pause.addEventListener('click', () => {
  const s = session;
  if (!s) return;
  if (s.state === 'running') void s.pause();
  else if (s.state === 'paused') s.resume();
  else if (s.state === 'lost') {
    chart.truncate(s.held?.step ?? 0);
    void serial(() => s.recover());
  }
});

for (const el of [lrEl, batchEl, pairingEl]) {
  el.addEventListener('change', () => { if (session?.data) void restart(session.data, readSettings()); });
}
resetButton.addEventListener('click', () => { if (session?.data) void restart(session.data, readSettings(), 'Reset. '); });
sampleButton.addEventListener('click', () => { if (embedded) void restart(embedded, readSettings()); });

async function useDataFile(file: File): Promise<void> {
  if (!session) return;
  view.progress(0, `Reading ${file.name}`);
  try {
    const data = await loadFile(file, (f) => view.progress(f, `Reading ${file.name}`));
    view.progress(undefined);
    await restart(data, readSettings());
  } catch (e) {
    view.progress(undefined);
    const still = session.data ? ` Training continues on the ${session.data.label}.` : '';
    view.setStatus(`Could not use ${file.name}: ${describe(e)}.${still}`, 'error');
  }
}

async function useWeightsFile(file: File): Promise<void> {
  const s = session;
  if (!s?.model) return;
  try {
    const params = parseWeights(s.model, new Uint8Array(await file.arrayBuffer()), file.name);
    s.setParams(params);
    view.setStatus(`Loaded weights from ${file.name}; training continues from them.`);
  } catch (e) {
    view.setStatus(`Weights refused: ${describe(e)}. The current weights are unchanged.`, 'error');
  }
}

dataInput.addEventListener('change', () => {
  const file = dataInput.files?.[0];
  dataInput.value = '';
  if (file) void useDataFile(file);
});
weightsInput.addEventListener('change', () => {
  const file = weightsInput.files?.[0];
  weightsInput.value = '';
  if (file) void useWeightsFile(file);
});

// Drop anywhere: weights by extension, anything else as data.
document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) document.body.classList.remove('dragging'); });
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const file = e.dataTransfer?.files[0];
  if (!file) return;
  if (/\.safetensors$/i.test(file.name)) void useWeightsFile(file);
  else void useDataFile(file);
});

saveButton.addEventListener('click', async () => {
  const s = session;
  if (!s?.model) return;
  try {
    const step = s.step;
    const bytes = serializeWeights(s.model, await s.params(), { kiln_step: String(step), kiln_pairing: s.settings?.pairing ?? '' });
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    const a = Object.assign(document.createElement('a'), { href: url, download: `kiln-cae-step${step}.safetensors` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    view.setStatus(`Could not save the weights: ${describe(e)}`, 'error');
  }
});

// A lost device rejects the engine's pending GPU reads (AbortError), sometimes before `device.lost`
// settles. Those are expected then; any that is not followed by the device's loss is still reported.
addEventListener('unhandledrejection', (e) => {
  const reason: unknown = e.reason;
  const gpu = session?.gpu;
  if (!gpu || !(reason instanceof DOMException) || reason.name !== 'AbortError') return;
  e.preventDefault();
  const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), 2000));
  void Promise.race([gpu.device.lost.then(() => true), timeout]).then((lost) => {
    if (!lost) console.error('A GPU read failed:', reason);
  });
});

/** Redraws numbers and the chart once per frame; the profile bars once a second. */
let lastProfile = 0;
function frame(now: number): void {
  const s = session;
  if (s) {
    view.stats({ step: s.step, stepsPerEpoch: s.stepsPerEpoch, loss: latest?.loss, imagesPerSecond: s.state === 'running' ? s.imagesPerSecond : undefined });
    const profiler = s.trainer?.profiler;
    if (profiler && now - lastProfile > 1000) {
      lastProfile = now;
      view.profile(profiler.totals, profiler.steps, s.model?.layers.map((l) => l.name) ?? []);
    }
  }
  chart.render(now);
  requestAnimationFrame(frame);
}

async function boot(): Promise<void> {
  showSettings({ lr: 1e-3, batch: 32, pairing: 'sigmoid-01' });
  let gpu;
  try {
    gpu = await openBrowserDevice({ timestamps: true });
  } catch (e) {
    view.setStatus(describe(e), 'error');
    document.querySelector<HTMLElement>('#help')!.hidden = false;
    for (const el of [...buttons, lrEl, batchEl, pairingEl, dataInput, weightsInput]) el.disabled = true;
    return;
  }
  view.adapter(gpu.adapterName);
  if (!gpu.hasTimestamps) view.noProfile(`Per-layer timing is unavailable: adapter ${gpu.adapterName} lacks the 'timestamp-query' feature.`);
  view.setStatus('Loading the embedded sample…');
  embedded = await loadEmbedded();
  view.drawOriginals(embedded.test);
  session = new Session(gpu, events);
  Object.assign(globalThis, { kiln: { session } }); // for poking at from the console (and tests)
  requestAnimationFrame(frame);
  await restart(embedded, readSettings());
}

boot().catch((e) => view.setStatus(`The demo failed to start: ${describe(e)}`, 'error'));
