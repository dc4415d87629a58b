// The binlog shipper as a supervised part of the daemon: one shipper per source (this
// loop, plus the spool lock across processes), restarted with exponential back-off
// when it fails, stopped by aborting its signal — it then ships what is closed and
// returns. Its state feeds /metrics.
import { setTimeout as sleep } from 'node:timers/promises';
import { shipBinlogs, type ShipOptions } from '../binlog/shipper.js';
import { log } from '../util/logger.js';

export interface ShipperStatus {
  running: boolean;
  /** The last run failed and none has started since: /healthz says so. */
  failing: boolean;
  restarts: number;
  lastError: string | null;
  lastErrorAt: string | null;
}

export class ShipperSupervisor {
  readonly status: ShipperStatus = { running: false, failing: false, restarts: 0, lastError: null, lastErrorAt: null };
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly options: Omit<ShipOptions, 'once' | 'signal' | 'onStarted'>,
    private readonly backoff = { firstMs: 1000, maxMs: 10_000 },
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    let delay = this.backoff.firstMs;
    while (!this.abort.signal.aborted) {
      const started = Date.now();
      this.status.running = true;
      try {
        await shipBinlogs({ ...this.options, once: false, signal: this.abort.signal, onStarted: () => (this.status.failing = false) });
      } catch (err) {
        this.status.lastError = (err as Error).message;
        this.status.lastErrorAt = new Date().toISOString();
        this.status.failing = true;
        log.error({ err: this.status.lastError, retryInMs: delay }, 'binlog shipper failed; restarting');
      }
      this.status.running = false;
      if (this.abort.signal.aborted) break;
      this.status.restarts++;
      if (Date.now() - started > 60_000) delay = this.backoff.firstMs;
      await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, this.backoff.maxMs);
    }
  }

  /** Stop: the shipper ships what is closed, then returns. */
  async stop(): Promise<void> {
    this.abort.abort('shutdown');
    await this.loop;
  }
}
