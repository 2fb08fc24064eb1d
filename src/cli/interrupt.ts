// Ctrl-C and SIGTERM during training: the first one lets the current step finish and the
// checkpoint be written, then the process exits 130 (SIGINT) or 143 (SIGTERM) as shells expect; a
// second one exits at once.
export class Interrupt {
  signal?: NodeJS.Signals;
  private readonly handlers = new Map<NodeJS.Signals, () => void>();

  constructor(private readonly onFirst: (signal: NodeJS.Signals) => void) {}

  install(): this {
    for (const s of ['SIGINT', 'SIGTERM'] as const) {
      const h = () => {
        if (this.signal) process.exit(exitCode(s));
        this.signal = s;
        this.onFirst(s);
      };
      this.handlers.set(s, h);
      process.on(s, h);
    }
    return this;
  }

  get requested(): boolean {
    return this.signal !== undefined;
  }

  get exitCode(): number {
    return this.signal ? exitCode(this.signal) : 0;
  }

  uninstall(): void {
    for (const [s, h] of this.handlers) process.off(s, h);
    this.handlers.clear();
  }
}

/** 128 + the signal number, as a shell reports a process killed by it. */
export const exitCode = (s: NodeJS.Signals): number => (s === 'SIGINT' ? 130 : s === 'SIGTERM' ? 143 : 1);
