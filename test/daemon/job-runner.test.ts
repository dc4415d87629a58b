// The daemon's job runner when one job covers another (the full backup covers the physical
// incremental): the two never run at once, an incremental due during the full is skipped,
// and a full due during an incremental starts when the incremental ends, never skipped.
import { describe, it, expect } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { JobRunner, type JobFn } from '../../src/daemon/job-runner.js';
import { emptyState, loadState } from '../../src/daemon/state-file.js';

interface Run {
  job: string;
  start: number;
  end: number;
}

async function runnerWithBackups(): Promise<{ runner: JobRunner; runs: Run[]; statePath: string; release: Record<string, () => void> }> {
  const statePath = join(await mkdtemp(join(tmpdir(), 'dbops-jobrunner-')), 'state.json');
  const runner = new JobRunner(emptyState(), statePath, () => undefined);
  const runs: Run[] = [];
  const release: Record<string, () => void> = {};
  // Each run lasts until the test releases it (or the daemon shuts down).
  const job =
    (name: string): JobFn =>
    async (signal) => {
      const run = { job: name, start: performance.now(), end: 0 };
      await new Promise<void>((resolve) => {
        release[name] = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      run.end = performance.now();
      runs.push(run);
    };
  runner.define('backup', job('backup'));
  runner.define('incremental', job('incremental'), { yieldsTo: 'backup' });
  return { runner, runs, statePath, release };
}

describe('a job that yields to the one covering it', () => {
  it('is skipped while the covering job runs, and counted', async () => {
    const { runner, runs, statePath, release } = await runnerWithBackups();
    const full = runner.trigger('backup', 'test');
    await delay(20);
    expect(runner.trigger('incremental', 'test')).toBeUndefined();
    release.backup!();
    await full;
    expect(runs.map((r) => r.job)).toEqual(['backup']);
    expect((await loadState(statePath)).jobs.incremental?.skippedOverlaps).toBe(1);
    // Once the full is done, the incremental runs again.
    const next = runner.trigger('incremental', 'test');
    expect(next).toBeDefined();
    await delay(20);
    release.incremental!();
    await next;
    expect(runs.map((r) => r.job)).toEqual(['backup', 'incremental']);
  });

  it('holds the covering job back until it ends, and it still runs', async () => {
    const { runner, runs, release } = await runnerWithBackups();
    const incremental = runner.trigger('incremental', 'test');
    await delay(20);
    const full = runner.trigger('backup', 'test');
    expect(full).toBeDefined();
    await delay(50);
    // The full waits: only the incremental has started.
    expect(release.backup).toBeUndefined();
    // A further incremental, due while the full waits for the first, is skipped.
    expect(runner.trigger('incremental', 'test')).toBeUndefined();
    release.incremental!();
    await incremental;
    await delay(20);
    release.backup!();
    await full;
    expect(runs.map((r) => r.job)).toEqual(['incremental', 'backup']);
    expect(runs[1]!.start).toBeGreaterThanOrEqual(runs[0]!.end);
  });

  it('does not start the waiting job once the daemon stops', async () => {
    const { runner, runs, release } = await runnerWithBackups();
    runner.trigger('incremental', 'test');
    await delay(20);
    const full = runner.trigger('backup', 'test');
    await delay(50);
    expect(release.backup).toBeUndefined();
    expect(await runner.stop(5000)).toBe(true);
    await full;
    expect(runs.map((r) => r.job)).toEqual(['incremental']);
    expect(runner.jobState('backup').runs).toBeUndefined();
  });
});
