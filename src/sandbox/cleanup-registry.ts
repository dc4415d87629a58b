// Guarantees throwaway servers never outlive the process: every live one is
// registered here, and on exit / SIGINT / SIGTERM / SIGHUP it is SIGKILLed and
// its temp dir removed, synchronously (an 'exit' handler cannot await).
import { readFileSync, rmSync } from 'node:fs';

export interface Disposable {
  pid: number | undefined;
  dir: string;
  /** Extra synchronous teardown run first, e.g. removing a container (`podman rm -f`). */
  disposeSync?: () => void;
}

const live = new Set<Disposable>();
let installed = false;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A killed child stays a zombie until reaped, so "gone" means no /proc entry or state Z. */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

/** Kills and removes one entry without awaiting anything. */
export function disposeSync(d: Disposable): void {
  try {
    d.disposeSync?.();
  } catch {
    // best effort at exit
  }
  if (d.pid !== undefined) {
    try {
      process.kill(d.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    // Wait briefly so the server is not still creating files while we delete its dir.
    for (let i = 0; i < 100 && !isGone(d.pid); i++) sleepSync(20);
  }
  try {
    rmSync(d.dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort at exit
  }
  live.delete(d);
}

function disposeAll(): void {
  for (const d of [...live]) disposeSync(d);
}

/**
 * signal-exit (loaded by execa's `cleanup`) adds one listener per signal and
 * only re-raises when it sees no other listeners; so do we. Left alone, the
 * two would each wait for the other and the process would never exit. Its
 * listeners are counted through the registry it keeps on `global`.
 */
function signalExitListeners(): number {
  const emitter = (globalThis as Record<symbol, { count?: unknown } | undefined>)[Symbol.for('signal-exit emitter')];
  return typeof emitter?.count === 'number' ? emitter.count : 0;
}

function onSignal(signal: NodeJS.Signals): void {
  disposeAll();
  // Re-raise so the default action (exit by the signal) happens, unless the
  // application handles the signal itself: then exiting is its job.
  const others = process.listenerCount(signal) - 1 - signalExitListeners();
  if (others <= 0) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', disposeAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

export function register(d: Disposable): void {
  install();
  live.add(d);
}

export function unregister(d: Disposable): void {
  live.delete(d);
}

/** How many are still registered (for tests). */
export function liveCount(): number {
  return live.size;
}
