// Cron arithmetic the daemon needs beyond node-cron's timer: the interval a schedule
// implies (how old a backup may get) and whether a run was due while the daemon was
// down (catch-up). Times are the daemon host's local time, as node-cron uses them.
import { createTask } from 'node-cron';

/** Milliseconds between the next two runs of `expr` (its period, for staleness limits). */
export function scheduleIntervalMs(expr: string, now = new Date()): number {
  const task = createTask(expr, () => undefined);
  try {
    const [a, b] = task.getNextRuns(2).filter((d) => d >= now);
    return a && b ? b.getTime() - a.getTime() : 86_400_000;
  } finally {
    void task.destroy();
  }
}

/**
 * Was `expr` due at some instant in (since, now]? Walks back from now one step (a
 * second for 6-field expressions, a minute otherwise) and stops at the first match,
 * so the cost is bounded by the schedule's period, not by the downtime.
 */
export function dueSince(expr: string, since: Date, now: Date): boolean {
  const task = createTask(expr, () => undefined);
  try {
    const seconds = expr.trim().split(/\s+/).length === 6;
    const step = seconds ? 1000 : 60_000;
    let t = Math.floor(now.getTime() / step) * step;
    for (let i = 0; t > since.getTime() && i < 600_000; i++, t -= step) {
      if (task.match(new Date(t))) return true;
    }
    return false;
  } finally {
    void task.destroy();
  }
}
