// The loss curve (uPlot). Points are buffered and drawn at most a few times a second; long runs are
// thinned by averaging neighbours, so the chart stays light however many steps are trained.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const MAX_POINTS = 4000;
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
  /** Steps per plotted point; doubles each time the chart fills up. */
  private stride = 1;
  private bucket = { x: 0, sum: 0, n: 0 };
  private dirty = false;
  private drawn = 0;

  constructor(private readonly host: HTMLElement) {
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue('--accent').trim() || '#2563eb';
    this.plot = new uPlot({
      width: Math.max(200, host.clientWidth),
      height: 220,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false },
        // Log axis fitted to the data rather than to whole decades.
        y: { distr: 3, range: (_u, min, max) => (min > 0 ? [nice(min, Math.floor), nice(max, Math.ceil)] : [1e-3, 1]) },
      },
      axes: [
        { label: 'step', stroke: '#555', grid: { stroke: '#eee' }, incrs: STEP_INCREMENTS },
        { label: 'MSE loss (log)', stroke: '#555', grid: { stroke: '#eee' }, size: 60 },
      ],
      series: [{}, { label: 'loss', stroke: accent, width: 1.5 }],
    }, [[], []], host);
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(200, host.clientWidth), height: 220 })).observe(host);
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
    this.bucket = { x: 0, sum: 0, n: 0 };
    this.dirty = true;
  }

  clear(): void {
    this.xs = [];
    this.ys = [];
    this.stride = 1;
    this.bucket = { x: 0, sum: 0, n: 0 };
    this.dirty = true;
  }

  /** Redraws if points arrived, at most every 250 ms (call from requestAnimationFrame). */
  render(now: number): void {
    if (!this.dirty || now - this.drawn < 250) return;
    this.dirty = false;
    this.drawn = now;
    this.plot.setData([this.xs.slice(), this.ys.slice()]);
  }
}
