// The training curve (uPlot): the training loss per step on a log axis, and the held-out loss and
// accuracy at each evaluation (accuracy on a 0–100 % axis of its own). Points are buffered and drawn
// at most a few times a second; long runs are thinned by averaging neighbours, so the chart stays
// light however many steps are trained.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const MAX_POINTS = 4000;
const HEIGHT = 240;
/** Whole-step tick spacings for the x axis. */
const STEP_INCREMENTS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6].map((p) => m * p)).sort((a, b) => a - b);

/** Rounds a positive value down or up to 1, 2 or 5 times a power of ten (log-axis bounds). */
function nice(v: number, round: (x: number) => number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  const steps = [1, 2, 5, 10];
  const m = v / p;
  const pick = round === Math.floor ? steps.filter((s) => s <= m).pop()! : steps.find((s) => s >= m)!;
  return pick * p;
}

export class LossChart {
  private readonly plot: uPlot;
  private xs: number[] = [];
  private ys: number[] = [];
  /** Held-out evaluations: step, loss, accuracy (0–1, or undefined for autoencoders). */
  private evals: { step: number; loss: number; accuracy?: number }[] = [];
  /** Steps per plotted point; doubles each time the chart fills up. */
  private stride = 1;
  private bucket = { x: 0, sum: 0, n: 0 };
  private dirty = false;
  private drawn = 0;

  constructor(host: HTMLElement) {
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue('--accent').trim() || '#2563eb';
    const held = css.getPropertyValue('--backward').trim() || '#ea7b1f';
    const good = css.getPropertyValue('--good').trim() || '#15803d';
    this.plot = new uPlot({
      width: Math.max(200, host.clientWidth),
      height: HEIGHT,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false },
        // Log axis fitted to the data rather than to whole decades.
        y: { distr: 3, range: (_u, min, max) => (min > 0 ? [nice(min, Math.floor), nice(max, Math.ceil)] : [1e-3, 1]) },
        acc: { range: [0, 100] },
      },
      axes: [
        { label: 'step', stroke: '#555', grid: { stroke: '#eee' }, incrs: STEP_INCREMENTS },
        { label: 'loss (log)', stroke: '#555', grid: { stroke: '#eee' }, size: 60 },
        { scale: 'acc', side: 1, label: 'held-out accuracy %', stroke: good, grid: { show: false }, size: 50 },
      ],
      series: [{},
        { label: 'training loss', stroke: accent, width: 1.5, spanGaps: true },
        { label: 'held-out loss', stroke: held, width: 1.5, dash: [6, 4], spanGaps: true, points: { show: true, size: 4 } },
        { label: 'held-out accuracy', scale: 'acc', stroke: good, width: 2, spanGaps: true, points: { show: true, size: 4 } }],
    }, [[], [], [], []], host);
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(200, host.clientWidth), height: HEIGHT })).observe(host);
  }

  add(step: number, loss: number): void {
    if (!Number.isFinite(loss) || loss <= 0) return; // a log axis cannot show it; the stats panel does
    const b = this.bucket;
    if (b.n === 0) b.x = step;
    b.sum += loss;
    b.n++;
    if (b.n < this.stride) return;
    this.xs.push(b.x);
    this.ys.push(b.sum / b.n);
    this.bucket = { x: 0, sum: 0, n: 0 };
    if (this.xs.length >= MAX_POINTS) this.thin();
    this.dirty = true;
  }

  addEval(step: number, loss: number, accuracy?: number): void {
    if (this.evals.length > 0 && this.evals[this.evals.length - 1]!.step >= step) {
      // Same step again (an epoch end right after a live evaluation): keep the later one.
      while (this.evals.length > 0 && this.evals[this.evals.length - 1]!.step >= step) this.evals.pop();
    }
    this.evals.push({ step, loss, accuracy });
    if (this.evals.length > MAX_POINTS / 4) this.evals = this.evals.filter((_, i) => i % 2 === 1);
    this.dirty = true;
  }

  private thin(): void {
    const xs: number[] = [], ys: number[] = [];
    for (let i = 0; i + 1 < this.xs.length; i += 2) {
      xs.push(this.xs[i]!);
      ys.push((this.ys[i]! + this.ys[i + 1]!) / 2);
    }
    this.xs = xs;
    this.ys = ys;
    this.stride *= 2;
  }

  /** Drops points after `step` (when a run continues from older weights). */
  truncate(step: number): void {
    const keep = this.xs.findIndex((x) => x > step);
    if (keep >= 0) { this.xs.length = keep; this.ys.length = keep; }
    this.evals = this.evals.filter((e) => e.step <= step);
    this.bucket = { x: 0, sum: 0, n: 0 };
    this.dirty = true;
  }

  clear(): void {
    this.xs = [];
    this.ys = [];
    this.evals = [];
    this.stride = 1;
    this.bucket = { x: 0, sum: 0, n: 0 };
    this.dirty = true;
  }

  /** Redraws if points arrived, at most once a second (call from requestAnimationFrame); true when a redraw is still due. */
  render(now: number): boolean {
    if (!this.dirty) return false;
    if (now - this.drawn < 1000) return true;
    this.dirty = false;
    this.drawn = now;
    // One x array for all series: the loss steps and the evaluation steps, merged in order.
    const x: number[] = [], loss: (number | null)[] = [], heldLoss: (number | null)[] = [], acc: (number | null)[] = [];
    let i = 0, j = 0;
    while (i < this.xs.length || j < this.evals.length) {
      const e = this.evals[j];
      if (i < this.xs.length && (!e || this.xs[i]! < e.step)) {
        x.push(this.xs[i]!); loss.push(this.ys[i]!); heldLoss.push(null); acc.push(null); i++;
      } else {
        const same = i < this.xs.length && this.xs[i] === e!.step;
        x.push(e!.step); loss.push(same ? this.ys[i]! : null);
        heldLoss.push(Number.isFinite(e!.loss) && e!.loss > 0 ? e!.loss : null);
        acc.push(e!.accuracy === undefined ? null : 100 * e!.accuracy);
        if (same) i++;
        j++;
      }
    }
    this.plot.setData([x, loss, heldLoss, acc]);
    return false;
  }
}
