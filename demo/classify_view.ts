// What classify mode draws: the held-out images with their predicted labels (wrong ones marked),
// the confusion matrix, and the prediction for an image the user drops. Drawing only; the numbers
// come from the worker's evaluation reports.
import { CIFAR_PIXELS } from '../src/index.ts';

const SIDE = 32;

/** Paints CHW bytes of image `index` into a 32×32 canvas context at (x, y). */
export function paint(ctx: CanvasRenderingContext2D, bytes: Uint8Array, index: number, x = 0, y = 0): void {
  const img = ctx.createImageData(SIDE, SIDE);
  const plane = SIDE * SIDE;
  const base = index * CIFAR_PIXELS;
  for (let p = 0; p < plane; p++) {
    img.data[4 * p] = bytes[base + p]!;
    img.data[4 * p + 1] = bytes[base + plane + p]!;
    img.data[4 * p + 2] = bytes[base + 2 * plane + p]!;
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, x, y);
}

function thumb(bytes: Uint8Array, index: number): HTMLCanvasElement {
  const c = Object.assign(document.createElement('canvas'), { width: SIDE, height: SIDE });
  paint(c.getContext('2d')!, bytes, index);
  return c;
}

export class PredictionsView {
  private cells: { cell: HTMLElement; caption: HTMLElement }[] = [];
  private labels?: Uint8Array;
  private names: readonly string[] = [];

  constructor(private readonly host: HTMLElement) {}

  /** The held-out images to show (CHW bytes) and their true labels; predictions follow with each evaluation. */
  setImages(shown: Uint8Array, labels: Uint8Array | undefined, names: readonly string[]): void {
    this.labels = labels;
    this.names = names;
    const n = shown.length / CIFAR_PIXELS;
    this.cells = Array.from({ length: n }, (_, i) => {
      const cell = document.createElement('figure');
      cell.className = 'pred';
      const caption = document.createElement('figcaption');
      caption.textContent = '…';
      const truth = labels ? names[labels[i]!] ?? String(labels[i]) : '';
      cell.title = `true class: ${truth}`;
      cell.dataset.truth = truth;
      cell.append(thumb(shown, i), caption);
      return { cell, caption };
    });
    this.host.replaceChildren(...this.cells.map((c) => c.cell));
    delete this.host.dataset.step;
  }

  update(step: number, predicted: Uint8Array, confidence?: Float32Array): void {
    let wrong = 0;
    this.cells.forEach(({ cell, caption }, i) => {
      const p = predicted[i];
      if (p === undefined) return;
      const name = this.names[p] ?? String(p);
      const ok = this.labels ? this.labels[i] === p : true;
      if (!ok) wrong++;
      const conf = confidence?.[i];
      caption.textContent = conf === undefined ? name : `${name} ${(100 * conf).toFixed(0)}%`;
      cell.classList.toggle('wrong', !ok);
      cell.dataset.predicted = name;
      cell.title = `true class: ${cell.dataset.truth}; predicted: ${name}${ok ? '' : ' (wrong)'}`;
    });
    this.host.dataset.step = String(step);
    this.host.dataset.wrong = String(wrong);
  }
}

/** The confusion matrix on a canvas: rows are true classes, columns predictions, cells shaded by row share. */
export class ConfusionView {
  private readonly ctx: CanvasRenderingContext2D;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d')!;
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    delete this.canvas.dataset.step;
  }

  draw(matrix: Uint32Array, names: readonly string[], step: number): void {
    const k = Math.round(Math.sqrt(matrix.length));
    const label = Math.min(110, 8 + 7 * Math.max(...names.map((n) => Math.min(n.length, 14))));
    const cell = Math.max(18, Math.min(44, Math.floor(340 / k)));
    const w = label + k * cell + 4, h = label + k * cell + 4;
    const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
    if (this.canvas.width !== w * dpr) { this.canvas.width = w * dpr; this.canvas.height = h * dpr; this.canvas.style.width = `${w}px`; }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const short = (s: string) => (s.length > 14 ? `${s.slice(0, 13)}…` : s);
    for (let r = 0; r < k; r++) {
      let total = 0;
      for (let c = 0; c < k; c++) total += matrix[r * k + c]!;
      for (let c = 0; c < k; c++) {
        const n = matrix[r * k + c]!;
        const share = total > 0 ? n / total : 0;
        const x = label + c * cell, y = label + r * cell;
        // Diagonal in green, mistakes in red, by the share of the row.
        ctx.fillStyle = r === c ? `rgba(21, 128, 61, ${0.08 + 0.85 * share})` : `rgba(180, 35, 24, ${n > 0 ? 0.1 + 0.8 * share : 0.03})`;
        ctx.fillRect(x + 1, y + 1, cell - 2, cell - 2);
        if (cell >= 22 && n > 0) {
          ctx.fillStyle = share > 0.5 ? '#fff' : '#1f2328';
          ctx.textAlign = 'center';
          ctx.fillText(String(n), x + cell / 2, y + cell / 2);
        }
      }
      ctx.fillStyle = '#1f2328';
      ctx.textAlign = 'right';
      ctx.fillText(short(names[r] ?? String(r)), label - 4, label + r * cell + cell / 2);
    }
    for (let c = 0; c < k; c++) {
      ctx.save();
      ctx.translate(label + c * cell + cell / 2, label - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      ctx.fillText(short(names[c] ?? String(c)), 0, 0);
      ctx.restore();
    }
    this.canvas.dataset.step = String(step);
    this.canvas.setAttribute('aria-label', `Confusion matrix after step ${step}: rows are true classes, columns predictions`);
  }
}

/** The result for one image the user dropped: the image as the model saw it, and the top classes or the reconstruction. */
export function showInference(host: HTMLElement, input: Uint8Array, out: { probabilities?: Float32Array; images?: Uint8Array }, names: readonly string[], file: string): void {
  const parts: HTMLElement[] = [];
  const fig = (bytes: Uint8Array, caption: string) => {
    const f = document.createElement('figure');
    f.className = 'pred big';
    f.append(thumb(bytes, 0), Object.assign(document.createElement('figcaption'), { textContent: caption }));
    return f;
  };
  parts.push(fig(input, `${file} (32×32)`));
  if (out.images) parts.push(fig(out.images, 'reconstruction'));
  if (out.probabilities) {
    const ranked = [...out.probabilities].map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p).slice(0, 3);
    const list = document.createElement('ol');
    list.className = 'top';
    for (const { p, i } of ranked) list.append(Object.assign(document.createElement('li'), { textContent: `${names[i] ?? i}: ${(100 * p).toFixed(1)}%` }));
    parts.push(list);
    host.dataset.predicted = names[ranked[0]!.i] ?? String(ranked[0]!.i);
  } else delete host.dataset.predicted;
  host.replaceChildren(...parts);
}
