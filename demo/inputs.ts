// The page's controls and drops: mode and settings, data files, image folders and webcam frames
// (decoded in the worker), single images to predict, weights and checkpoint files, and the
// pause/resume button. Each turns into one session call; failures are one line in the status.
import { CIFAR_PIXELS } from '../src/index.ts';
import type { LossChart } from './chart.ts';
import { showInference } from './classify_view.ts';
import { checkFits, loadFile, prepare, type Mode, type TrainData } from './data.ts';
import { droppedDirectory, fromDirectory, fromFileList, type Folder } from './folder.ts';
import type { Session, Settings } from './session.ts';
import type { View } from './view.ts';
import { Webcam } from './webcam.ts';

export interface Wiring {
  session: Session;
  view: View;
  chart: LossChart;
  restart(data: TrainData, mode: Mode, settings: Settings, o?: { what?: string; resume?: Uint8Array; resumeSource?: string; failed?: string }): Promise<boolean>;
  readSettings(): Settings;
  readMode(): Mode;
  showSettings(s: Settings, mode: Mode): void;
  embedded(): TrainData | undefined;
  describe(e: unknown): string;
}

const $ = <T extends HTMLElement>(s: string) => document.querySelector<T>(s)!;
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const IMAGE = /\.(png|jpe?g|gif|webp|bmp|avif)$/i;

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function wireInputs(w: Wiring): void {
  const { session: s, view } = w;
  // The settings stay disabled in the markup until they do something.
  for (const sel of ['#mode', '#lr', '#batch', '#pairing']) $<HTMLSelectElement>(sel).disabled = false;
  const current = () => s.current;
  const still = () => (current() ? ` Training continues on the ${current()!.data.label}.` : '');
  const restartCurrent = (what = '') => {
    const c = current();
    if (c) void w.restart(c.data, w.readMode(), w.readSettings(), { what });
  };

  $<HTMLSelectElement>('#mode').addEventListener('change', () => restartCurrent());
  for (const sel of ['#batch', '#pairing']) $<HTMLSelectElement>(sel).addEventListener('change', () => restartCurrent());
  $('#reset').addEventListener('click', () => restartCurrent('Reset. '));
  $('#use-sample').addEventListener('click', () => {
    const e = w.embedded();
    if (e) void w.restart(e, w.readMode(), w.readSettings());
  });
  const lrEl = $<HTMLSelectElement>('#lr');
  lrEl.addEventListener('change', async () => {
    const lr = Number(lrEl.value);
    try {
      await s.setLearningRate(lr);
      view.setStatus(`Learning rate ${lr.toExponential(0)} from step ${s.step + 1} on; the weights and Adam's state are kept.`);
    } catch (e) {
      view.setStatus(`Could not change the learning rate: ${w.describe(e)}`, 'error');
    }
  });

  view.pause.addEventListener('click', () => {
    const state = s.state;
    if (state === 'running') void s.pause();
    else if (state === 'paused' || state === 'stopped') void s.resume();
    else if (state === 'lost') {
      w.chart.truncate(s.lostAt ?? 0);
      void s.recover().catch((e) => view.setStatus(`Could not rebuild the GPU device: ${w.describe(e)}`, 'error'));
    }
  });

  async function useDataFile(file: File): Promise<void> {
    view.progress(0, `Reading ${file.name}`);
    try {
      const data = await loadFile(file, (f) => view.progress(f, `Reading ${file.name}`));
      view.progress(undefined);
      await w.restart(data, w.readMode(), w.readSettings(), { failed: `Could not use ${file.name}` });
    } catch (e) {
      view.progress(undefined);
      view.setStatus(`Could not use ${file.name}: ${w.describe(e)}.${still()}`, 'error');
    }
  }

  /** Decodes a folder's (or the webcam's) classes in the worker and trains the classifier on them. */
  async function useImages(folder: Folder, kind: 'folder' | 'webcam'): Promise<void> {
    const total = folder.classes.reduce((a, c) => a + c.files.length, 0);
    const fail = (why: string) => view.setStatus(`Could not use ${folder.name}: ${why}.${still()}`, 'error');
    if (folder.classes.length === 0) return fail('no class subfolders (expected one subfolder of images per class)');
    const empty = folder.classes.find((c) => c.files.length === 0);
    if (empty) return fail(`class "${empty.name}" is empty: every class needs at least one image`);
    if (folder.classes.length < 2) return fail(`only one class ("${folder.classes[0]!.name}"); a classifier needs two or more`);
    // Refuse a set that cannot fit before decoding it (each image becomes 3,072 bytes on the GPU).
    try {
      checkFits(total, CIFAR_PIXELS, s.device!.maxStorageBufferBindingSize, folder.name);
    } catch (e) {
      return fail(w.describe(e).replace(`${folder.name}: `, ''));
    }
    view.setStatus(`Decoding ${plural(total, 'image')} in ${plural(folder.classes.length, 'class', 'classes')} from ${folder.name}…`);
    let d: Awaited<ReturnType<typeof s.kiln.decode>>;
    try {
      d = await s.kiln.decode({ classes: folder.classes.map((c) => ({ name: c.name, files: c.files, names: c.names })), shape: [3, 32, 32], source: folder.name });
    } catch (e) {
      return fail(w.describe(e).replace(`${folder.name}: `, ''));
    }
    const skipped = d.skipped.length === 0 ? '' : `Skipped ${plural(d.skipped.length, 'file')} that could not be decoded ` +
      `(${d.skipped.slice(0, 3).map((f) => f.name).join(', ')}${d.skipped.length > 3 ? ', …' : ''}). `;
    let memory: string;
    try {
      memory = checkFits(d.count, CIFAR_PIXELS, s.device!.maxStorageBufferBindingSize, folder.name);
    } catch (e) {
      return fail(w.describe(e).replace(`${folder.name}: `, ''));
    }
    const data: TrainData = {
      kind, classNames: d.classNames, train: { count: d.count, pixels: d.pixels, labels: d.labels, source: folder.name },
      label: `${folder.name} (${plural(d.count, 'image')} in ${plural(d.classNames.length, 'class', 'classes')})`,
    };
    let settings = w.readSettings();
    let lowered = '';
    // A few webcam frames are fewer than a batch: take the largest batch size that they fill.
    const trainCount = prepare(data, 'classify').train.pixels.length / CIFAR_PIXELS;
    if (trainCount < settings.batch) {
      const fits = [...$<HTMLSelectElement>('#batch').options].map((o) => Number(o.value)).filter((b) => b <= trainCount).pop();
      if (fits === undefined) return fail(`${plural(trainCount, 'image')} to train on (after holding some out) are too few; add more`);
      settings = { ...settings, batch: fits };
      lowered = `Batch size lowered to ${fits} for ${plural(trainCount, 'image')} to train on. `;
    }
    w.showSettings(settings, 'classify');
    await w.restart(data, 'classify', settings, { what: `${skipped}${lowered}${folder.name}: ${memory}. `, failed: `Could not use ${folder.name}` });
  }

  async function predictImage(file: File): Promise<void> {
    const host = $('[data-testid="inference"]');
    try {
      const r = await s.kiln.predictFiles([file]);
      if (r.count === 0) throw new Error(r.skipped[0]?.reason ?? `${file.name}: not an image`);
      showInference(host, r.inputs!, { probabilities: r.probabilities, images: r.images }, current()?.info.classNames ?? [], file.name);
      const top = host.dataset.predicted;
      view.setStatus(top ? `${file.name}: predicted “${top}”.` : `${file.name}: reconstructed by the autoencoder in training.`);
    } catch (e) {
      view.setStatus(`Could not predict ${file.name}: ${w.describe(e)}`, 'error');
    }
  }

  async function useWeightsFile(file: File): Promise<void> {
    try {
      await s.kiln.loadWeights(new Uint8Array(await file.arrayBuffer()), file.name);
      view.setStatus(`Loaded weights from ${file.name}; training continues from them.`);
    } catch (e) {
      view.setStatus(`Weights refused: ${w.describe(e)}. The current weights are unchanged.`, 'error');
    }
  }

  async function useCheckpointFile(file: File): Promise<void> {
    const c = current();
    if (!c) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    await w.restart(c.data, c.mode, c.settings, { resume: bytes, resumeSource: file.name, failed: `Checkpoint ${file.name} refused`, what: `Restored ${file.name}. ` });
  }

  const onFile = (sel: string, use: (f: File) => Promise<void>) => {
    const input = $<HTMLInputElement>(sel);
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      input.value = '';
      if (file) void use(file);
    });
  };
  onFile('[data-testid="data-file"]', useDataFile);
  onFile('[data-testid="weights-file"]', useWeightsFile);
  onFile('[data-testid="checkpoint-file"]', useCheckpointFile);
  onFile('[data-testid="infer-file"]', predictImage);
  const folderInput = $<HTMLInputElement>('[data-testid="folder"]');
  folderInput.addEventListener('change', () => {
    const files = [...(folderInput.files ?? [])];
    folderInput.value = '';
    if (files.length > 0) void useImages(fromFileList(files), 'folder');
  });

  // Drop anywhere: a folder trains the classifier, an image is predicted, weights and checkpoints by extension, anything else as data.
  document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
  document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) document.body.classList.remove('dragging'); });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const dt = e.dataTransfer;
    if (!dt) return;
    const dir = droppedDirectory(dt); // entries must be taken while the event lasts
    if (dir) {
      void fromDirectory(dir).then((f) => useImages(f, 'folder'), (err) => view.setStatus(`Could not read the folder: ${w.describe(err)}`, 'error'));
      return;
    }
    const file = dt.files[0];
    if (!file) return;
    if (/\.safetensors$/i.test(file.name)) void useWeightsFile(file);
    else if (/\.ckpt$/i.test(file.name)) void useCheckpointFile(file);
    else if (IMAGE.test(file.name) || file.type.startsWith('image/')) void predictImage(file);
    else void useDataFile(file);
  });

  const save = async (best: boolean) => {
    const c = current();
    try {
      const r = await s.kiln.weights({ best });
      if (!r || !c) throw new Error('no weights yet');
      const name = c.mode === 'classify' ? 'classifier' : c.info.model.name === 'cae (tanh)' ? 'cae-tanh' : 'cae';
      download(r.bytes, best ? `kiln-${name}-best-epoch${r.epoch}.safetensors` : `kiln-${name}-step${r.step}.safetensors`);
    } catch (e) {
      view.setStatus(`Could not save the weights: ${w.describe(e)}`, 'error');
    }
  };
  $('#save').addEventListener('click', () => void save(false));
  $('#save-best').addEventListener('click', () => void save(true));
  $('#download-checkpoint').addEventListener('click', async () => {
    const c = current();
    try {
      const r = await s.kiln.checkpoint();
      download(r.bytes, `kiln-${c?.mode ?? 'run'}-step${r.step}.ckpt`);
    } catch (e) {
      view.setStatus(`Could not make a checkpoint: ${w.describe(e)}`, 'error');
    }
  });

  const cam = new Webcam($('#webcam-panel'), $<HTMLVideoElement>('#webcam-video'), $('#webcam-classes'),
    (msg, kind) => view.setStatus(msg, kind));
  $('[data-testid="webcam"]').addEventListener('click', () => void cam.open());
  $('#webcam-add').addEventListener('click', () => cam.addClass());
  $('#webcam-close').addEventListener('click', () => cam.close());
  $('#webcam-train').addEventListener('click', () => {
    const classes = cam.captured.map((c) => ({ name: c.name, files: c.frames as File[], names: c.frames.map((_, i) => `${c.name}/frame${i + 1}.png`) }));
    void useImages({ name: 'webcam frames', classes, ignored: 0 }, 'webcam');
  });
}
