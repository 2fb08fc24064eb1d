// A one-line progress bar on stderr (redrawn in place on a terminal, printed every 10 % otherwise).
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private started = performance.now();
  private lastPct = -1;

  update(step: number, total: number, loss: number, imagesPerS: number): void {
    const frac = total > 0 ? step / total : 1;
    const eta = frac > 0 ? ((performance.now() - this.started) / 1000) * (1 / frac - 1) : 0;
    const width = 24;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '·');
    const line = `${bar} step ${step}/${total}  loss ${loss.toFixed(5)}  ${imagesPerS.toFixed(1)} img/s  ETA ${eta.toFixed(0)} s`;
    if (this.tty) process.stderr.write(`\r${line}`);
    else if (Math.floor(frac * 10) !== this.lastPct || step === total) {
      this.lastPct = Math.floor(frac * 10);
      process.stderr.write(`${line}\n`);
    }
  }

  done(): void {
    if (this.tty) process.stderr.write('\n');
  }
}
