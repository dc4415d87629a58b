// Progress (bytes, rate) for long operations, only on a TTY and never mixed into --json stdout.
import { bytes } from './format.js';

export class Progress {
  private readonly start = performance.now();
  private last = 0;
  private shown = false;
  private readonly enabled = Boolean(process.stderr.isTTY);

  constructor(private readonly label: string, private readonly total?: number) {}

  update(done: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 250) return;
    this.last = now;
    const seconds = (now - this.start) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    const eta = this.total && rate > 0 ? ` ETA ${Math.max(0, (this.total - done) / rate).toFixed(0)}s` : '';
    process.stderr.write(`\r${this.label}: ${bytes(done)}${this.total ? ` / ${bytes(this.total)}` : ''} at ${bytes(rate)}/s${eta}   `);
    this.shown = true;
  }

  done(): void {
    if (this.shown) process.stderr.write('\n');
    this.shown = false;
  }
}
