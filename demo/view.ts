// Everything the page draws, apart from the chart and classify mode's views: the status line, the
// numbers, the original/reconstruction grid (one canvas) and the per-layer GPU time bars. No training
// logic here.
import { CIFAR_PIXELS } from '../src/index.ts';
import { paint } from './classify_view.ts';
import { SHOWN, type Mode } from './data.ts';

/** Grid geometry: 4×4 pairs, each an original and its reconstruction side by side (CSS scales it up). */
const CELL = 32, INNER = 2, GAP = 8, COLS = 4;
const PAIR = 2 * CELL + INNER;
export const GRID_WIDTH = COLS * PAIR + (COLS - 1) * GAP;
export const GRID_HEIGHT = (SHOWN / COLS) * CELL + (SHOWN / COLS - 1) * GAP;

const $ = <T extends HTMLElement = HTMLElement>(sel: string): T => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`demo markup lacks ${sel}`);
  return el;
};

export type StatusKind = 'info' | 'warn' | 'error';

const formatTime = (us: number) => (us < 1000 ? `${us.toFixed(0)} µs` : `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`);

export class View {
  readonly status = $('[data-testid="status"]');
  readonly pause = $<HTMLButtonElement>('[data-testid="pause"]');
  readonly canvas = $<HTMLCanvasElement>('[data-testid="reconstructions"]');
  readonly chartHost = $('#chart');
  private readonly ctx: CanvasRenderingContext2D;
  private readonly stepEl = $('[data-testid="step"]');
  private readonly epochEl = $('#epoch');
  private readonly lossEl = $('[data-testid="loss"]');
  private readonly ipsEl = $('[data-testid="images-per-s"]');
  private readonly accuracyEl = $('[data-testid="accuracy"]');
  private readonly heldLossEl = $('[data-testid="held-out-loss"]');
  private readonly bestEl = $('[data-testid="best-epoch"]');
  private readonly checkpointEl = $('[data-testid="checkpoint-status"]');
  private readonly adapterEl = $('[data-testid="adapter"]');
  private readonly modelEl = $('#model-label');
  private readonly dataEl = $('#data-label');
  private readonly warningEl = $('[data-testid="range-warning"]');
  private readonly progressEl = $('#progress');
  private readonly profileEl = $('#profile');
  private readonly shown = new Map<HTMLElement, string>();

  constructor() {
    this.canvas.width = GRID_WIDTH;
    this.canvas.height = GRID_HEIGHT;
    this.ctx = this.canvas.getContext('2d')!;
  }

  setStatus(message: string, kind: StatusKind = 'info'): void {
    this.status.textContent = message;
    this.status.className = `status ${kind}`;
  }

  /** Writes text only when it changed (called every animation frame). */
  private text(el: HTMLElement, value: string): void {
    if (this.shown.get(el) === value) return;
    this.shown.set(el, value);
    el.textContent = value;
  }

  stats(s: { step: number; stepsPerEpoch: number; loss?: number; imagesPerSecond?: number }): void {
    this.text(this.stepEl, String(s.step));
    this.text(this.epochEl, (s.step / s.stepsPerEpoch).toFixed(2));
    this.text(this.lossEl, s.loss === undefined ? '—' : Number.isFinite(s.loss) ? s.loss.toPrecision(4) : String(s.loss));
    const ips = s.imagesPerSecond;
    this.text(this.ipsEl, ips === undefined ? '—' : ips < 100 ? ips.toFixed(1) : ips.toFixed(0));
  }

  adapter(name: string): void {
    this.text(this.adapterEl, name);
  }

  labels(model: string, data: string): void {
    this.text(this.modelEl, model);
    this.text(this.dataEl, data);
  }

  rangeWarning(warning: string | undefined): void {
    this.warningEl.hidden = !warning;
    this.warningEl.textContent = warning ? `Mismatched pairing: ${warning}` : '';
  }

  /** `fraction` in [0, 1] shows the bar; undefined hides it. */
  progress(fraction: number | undefined, label = ''): void {
    this.progressEl.hidden = fraction === undefined;
    const bar = this.progressEl.querySelector('progress')!;
    bar.value = fraction ?? 0;
    this.progressEl.querySelector('span')!.textContent = fraction === undefined ? '' : `${label} ${(100 * fraction).toFixed(0)} %`;
  }

  private drawImage(bytes: Uint8Array, index: number, x: number, y: number): void {
    paint(this.ctx, bytes, index, x, y);
  }

  /** Shows the parts of the page that belong to `mode` (elements marked data-mode) and hides the rest. */
  mode(mode: Mode): void {
    document.body.dataset.mode = mode;
    for (const el of document.querySelectorAll<HTMLElement>('[data-mode]')) el.hidden = el.dataset.mode !== mode;
  }

  /** The latest held-out evaluation: loss, and accuracy as a percentage (classifiers). */
  heldOut(loss: number | undefined, accuracy: number | undefined): void {
    this.text(this.heldLossEl, loss === undefined ? '—' : loss.toPrecision(4));
    this.text(this.accuracyEl, accuracy === undefined ? '—' : `${(100 * accuracy).toFixed(1)}%`);
  }

  best(text: string): void {
    this.text(this.bestEl, text);
  }

  checkpointNote(message: string, kind: StatusKind = 'info'): void {
    this.checkpointEl.textContent = message;
    this.checkpointEl.className = `note ${kind}`;
  }

  private origin(i: number): [number, number] {
    return [(i % COLS) * (PAIR + GAP), Math.floor(i / COLS) * (CELL + GAP)];
  }

  /** Draws the held-out originals, with grey placeholders until the first reconstruction arrives. */
  drawOriginals(test: Uint8Array): void {
    this.ctx.clearRect(0, 0, GRID_WIDTH, GRID_HEIGHT);
    for (let i = 0; i < Math.min(SHOWN, test.length / CIFAR_PIXELS); i++) {
      const [x, y] = this.origin(i);
      this.drawImage(test, i, x, y);
      this.ctx.fillStyle = '#d4d4d8';
      this.ctx.fillRect(x + CELL + INNER, y, CELL, CELL);
    }
    delete this.canvas.dataset.step;
  }

  drawReconstructions(bytes: Uint8Array, step: number): void {
    for (let i = 0; i < Math.min(SHOWN, bytes.length / CIFAR_PIXELS); i++) {
      const [x, y] = this.origin(i);
      this.drawImage(bytes, i, x + CELL + INNER, y);
    }
    this.canvas.dataset.step = String(step); // when they were made (tests wait on it)
  }

  noProfile(why: string): void {
    this.profileEl.replaceChildren(Object.assign(document.createElement('p'), { className: 'note', textContent: why }));
  }

  /** Mean GPU time per step of each layer's forward and backward passes, as bars, in model order. */
  profile(totals: ReadonlyMap<string, number>, steps: number, layers: readonly string[]): void {
    if (steps === 0) {
      this.noProfile('Measuring…');
      return;
    }
    const order = ['data', ...layers, 'loss', 'optimizer', 'guard'];
    const rank = (layer: string) => (order.includes(layer) ? order.indexOf(layer) : order.length);
    // Groups are 'layer/phase', or a bare name ('data', 'loss', 'optimizer', 'guard') for the rest of the step.
    const split = (group: string) => {
      const cut = group.lastIndexOf('/');
      return cut < 0 ? { layer: group, phase: group } : { layer: group.slice(0, cut), phase: group.slice(cut + 1) };
    };
    const rows = new Map<string, { forward: number; backward: number; other: number }>();
    const groups = [...totals].sort(([a], [b]) => rank(split(a).layer) - rank(split(b).layer));
    for (const [group, us] of groups) {
      const { layer, phase } = split(group);
      const row = rows.get(layer) ?? { forward: 0, backward: 0, other: 0 };
      rows.set(layer, row);
      row[phase === 'forward' || phase === 'backward' ? phase : 'other'] += us / steps;
    }
    const all = [...rows.values()];
    const max = Math.max(1e-9, ...all.flatMap((r) => [r.forward, r.backward, r.other]));
    const total = all.reduce((a, r) => a + r.forward + r.backward + r.other, 0);
    const el = (tag: string, cls: string, text = '') => Object.assign(document.createElement(tag), { className: cls, textContent: text });
    const out: HTMLElement[] = [];
    for (const [layer, r] of rows) {
      const bars = el('div', 'bars');
      const parts: string[] = [];
      for (const kind of ['forward', 'backward', 'other'] as const) {
        if (r[kind] <= 0) continue;
        const bar = el('div', `bar ${kind}`);
        bar.style.width = `${(100 * r[kind]) / max}%`;
        bar.title = `${layer} ${kind === 'other' ? '' : kind} ${formatTime(r[kind])}`;
        bars.append(bar);
        parts.push(formatTime(r[kind]));
      }
      const row = el('div', 'prow');
      row.append(el('span', 'pname', layer), bars, el('span', 'pval', parts.join(' / ')));
      out.push(row);
    }
    out.push(el('p', 'note', `${formatTime(total)} of GPU time per step, mean of ${steps} measured steps.`));
    this.profileEl.replaceChildren(...out);
  }
}
