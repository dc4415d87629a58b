// Progress of long operations (backup, restore, verify, pitr, seed) where people can watch it:
// on a TTY one line redrawn in place (done / total, percent, rate, ETA); otherwise (cron,
// containers, CI) a JSON log line every 10 s with the same figures as numbers, so a log
// viewer shows that a 40-minute restore is moving. Never on stdout (--json output), and
// not at all with -q (the log level is above info).
import { log } from '../util/logger.js';
import { bytes } from './format.js';

/** How often the log line is written when stderr is not a TTY. */
export const PROGRESS_LOG_INTERVAL_MS = 10_000;
const REDRAW_MS = 250;

export interface ProgressFigures {
  operation: string;
  doneBytes: number;
  /** An estimate for a backup (the previous backup's size, or the schema's); null when unknown. */
  totalBytes: number | null;
  percent: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
  elapsedSeconds: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

export class Progress {
  private readonly start = performance.now();
  private lastDraw = 0;
  private drawn = false;
  private doneBytes = 0;
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly operation: string,
    private total: number | null = null,
  ) {
    if (!this.tty) {
      this.timer = setInterval(() => log.info(this.figures(), 'progress'), PROGRESS_LOG_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** The total once known (or better known). */
  setTotal(total: number | null): void {
    this.total = total && total > 0 ? total : null;
  }

  update(done: number): void {
    this.doneBytes = done;
    if (!this.tty || this.stopped || !log.isLevelEnabled('info')) return;
    const now = performance.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    process.stderr.write(`\r${this.line()}\x1b[K`);
    this.drawn = true;
  }

  figures(): ProgressFigures {
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = this.doneBytes / Math.max(elapsed, 0.001);
    const total = this.total;
    const percent = total ? Math.min(100, (100 * this.doneBytes) / total) : null;
    const eta = total && rate > 0 ? Math.max(0, (total - this.doneBytes) / rate) : null;
    return {
      operation: this.operation,
      doneBytes: this.doneBytes,
      totalBytes: total,
      percent: percent === null ? null : round1(percent),
      bytesPerSecond: Math.round(rate),
      etaSeconds: eta === null ? null : Math.round(eta),
      elapsedSeconds: round1(elapsed),
    };
  }

  private line(): string {
    const f = this.figures();
    const done = bytes(f.doneBytes);
    if (f.totalBytes === null) return `${f.operation}: ${done} at ${bytes(f.bytesPerSecond)}/s`;
    return `${f.operation}: ${done} / ${bytes(f.totalBytes)} (${f.percent!.toFixed(0)}%) at ${bytes(f.bytesPerSecond)}/s, ETA ${formatEta(f.etaSeconds)}`;
  }

  /** Stop the line (and the log timer); call on success and on failure. */
  done(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }
}

function formatEta(s: number | null): string {
  if (s === null) return '?';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
