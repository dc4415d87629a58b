// Runs the daemon's jobs: at most one run of a job at a time (a run due while the
// previous one is still going is skipped and counted, never queued or overlapped),
// every start and end recorded in the state file, every outcome reported to a
// listener (alerts). Runs get an AbortSignal that fires on shutdown. A job may yield to
// another that covers it (the incremental to the full backup): the two never run at once,
// and when both are due the covering one runs, since skipping it for the smaller job could
// postpone it by a whole period.
import { log } from '../util/logger.js';
import { saveState, type DaemonState, type JobState } from './state-file.js';

export type JobFn = (signal: AbortSignal) => Promise<string | void>;

export interface JobEvent {
  job: string;
  outcome: 'ok' | 'failed' | 'interrupted';
  error?: string;
  durationSeconds: number;
}

export interface JobOptions {
  /** The job that covers this one: a run of this one is skipped while it runs, and it waits for this one to end. */
  yieldsTo?: string;
}

export class JobRunner {
  private readonly jobs = new Map<string, JobFn>();
  private readonly yieldsTo = new Map<string, string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: DaemonState,
    private readonly statePath: string,
    private readonly onOutcome: (e: JobEvent) => void,
  ) {}

  define(name: string, fn: JobFn, options: JobOptions = {}): void {
    this.jobs.set(name, fn);
    if (options.yieldsTo) this.yieldsTo.set(name, options.yieldsTo);
    this.state.jobs[name] ??= {};
  }

  get names(): string[] {
    return [...this.jobs.keys()];
  }

  jobState(name: string): JobState {
    return (this.state.jobs[name] ??= {});
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  /** Start a run unless one is going (then skip) or the daemon is stopping. */
  trigger(name: string, reason: string, scheduledFor?: Date): Promise<void> | undefined {
    const fn = this.jobs.get(name);
    if (!fn || this.abort.signal.aborted) return undefined;
    const s = this.jobState(name);
    if (this.running.has(name)) {
      s.skippedOverlaps = (s.skippedOverlaps ?? 0) + 1;
      log.warn({ job: name, reason, since: s.lastStart }, 'job skipped: the previous run is still going');
      return undefined;
    }
    const covering = this.yieldsTo.get(name);
    if (covering && this.running.has(covering)) {
      s.skippedOverlaps = (s.skippedOverlaps ?? 0) + 1;
      log.warn({ job: name, reason, running: covering }, `job skipped: ${covering} is running, and covers it`);
      return undefined;
    }
    // Jobs yielding to this one that are running: this run starts when they end.
    const yielding = [...this.yieldsTo].filter(([other, to]) => to === name && this.running.has(other)).map(([other]) => other);
    if (yielding.length) log.info({ job: name, reason, waitsFor: yielding }, 'job waits for a run it covers to end');
    const after = Promise.allSettled(yielding.map((other) => this.running.get(other)));
    const run = after
      .then(() => (this.abort.signal.aborted ? undefined : this.execute(name, fn, reason, scheduledFor)))
      .finally(() => this.running.delete(name));
    this.running.set(name, run);
    return run;
  }

  private async execute(name: string, fn: JobFn, reason: string, scheduledFor?: Date): Promise<void> {
    const s = this.jobState(name);
    const started = new Date();
    s.lastStart = started.toISOString();
    s.outcome = 'running';
    delete s.error;
    s.runs = (s.runs ?? 0) + 1;
    await this.persist();
    log.info({ job: name, reason, scheduledFor: scheduledFor?.toISOString(), startedAt: s.lastStart }, 'job started');
    let outcome: JobEvent['outcome'];
    let error: string | undefined;
    let summary: string | void = undefined;
    try {
      summary = await fn(this.abort.signal);
      outcome = 'ok';
    } catch (err) {
      outcome = this.abort.signal.aborted ? 'interrupted' : 'failed';
      error = (err as Error).message;
    }
    const ended = new Date();
    const duration = (ended.getTime() - started.getTime()) / 1000;
    s.lastEnd = ended.toISOString();
    s.outcome = outcome;
    s.durationSeconds = duration;
    if (outcome === 'ok') {
      s.lastSuccess = s.lastEnd;
      s.lastSuccessDurationSeconds = duration;
    } else {
      s.error = error;
      if (outcome === 'failed') {
        s.failures = (s.failures ?? 0) + 1;
        s.lastFailure = s.lastEnd;
      }
    }
    await this.persist();
    const fields = { job: name, outcome, startedAt: s.lastStart, endedAt: s.lastEnd, durationSeconds: duration, ...(error ? { err: error } : {}), ...(summary ? { summary } : {}) };
    if (outcome === 'ok') log.info(fields, 'job finished');
    else log.error(fields, 'job finished');
    this.onOutcome({ job: name, outcome, durationSeconds: duration, ...(error ? { error } : {}) });
  }

  /** Serialised writes: concurrent jobs must not interleave temp files and renames. */
  persist(): Promise<void> {
    this.saving = this.saving.then(() => saveState(this.statePath, this.state)).catch((err: unknown) => log.error({ err: (err as Error).message, path: this.statePath }, 'cannot save daemon state'));
    return this.saving;
  }

  /** Abort running jobs and wait for them (up to timeoutMs); true when all ended in time. */
  async stop(timeoutMs: number): Promise<boolean> {
    this.abort.abort('shutdown');
    const all = Promise.allSettled([...this.running.values()]).then(() => true);
    const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
    const done = await Promise.race([all, timer]);
    await this.persist();
    return done;
  }
}
