// Runs one measured command: in its own process group (so Ctrl-C can stop the whole
// pipeline), under GNU time for the CPU seconds of the whole tree, with /proc sampling
// for memory, and with the CPU the database server (and S3 server) spent meanwhile,
// since on 2 cores their work competes with ours.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { TreeMonitor, cpuSeconds, machineBusySeconds, type ProcessInfo } from './process-tree.js';
import { warmMemory } from './warm-memory.js';

export interface CommandSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** stderr goes here (appended). */
  logFile: string;
  /** Preload probe output of a node main process (see rss-probe.mjs). */
  probeFile?: string;
  /** Other processes whose CPU time to attribute to this run (mariadbd, s3rver). */
  watchPids?: Record<string, number>;
}

export interface ProbeResult {
  maxRssKb: number;
  userSeconds: number;
  systemSeconds: number;
}

export interface Measurement {
  wallSeconds: number;
  exitCode: number;
  stdout: string;
  /** user+system CPU of the command and all its descendants (GNU time). */
  treeCpuSeconds: number | null;
  /** GNU time %M: the largest single process of the tree, not a sum. */
  treeMaxRssKb: number | null;
  /** CPU seconds each watched process spent during the run. */
  watchedCpuSeconds: Record<string, number>;
  /**
   * CPU seconds everything else on the machine used meanwhile (busy time from /proc/stat
   * minus the tree and the watched servers): other people's work competing for the cores.
   */
  otherCpuSeconds: number | null;
  probe: ProbeResult | null;
  processes: ProcessInfo[];
  peakDescendantsRssKb: number;
  /** Untimed, just before: faulting in the memory the run will write into (warm-memory.ts). */
  warmMemorySeconds: number;
}

const TIME = '/usr/bin/time';
const running = new Set<number>();

/** Signal every running measured command's process group (used on Ctrl-C). */
export function killRunningCommands(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const pid of running) {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }
}

export function haveGnuTime(): boolean {
  return existsSync(TIME);
}

export async function measureCommand(spec: CommandSpec, timeFile: string): Promise<Measurement> {
  const warmMemorySeconds = await warmMemory();
  const useTime = haveGnuTime();
  const [file, args] = useTime ? [TIME, ['-f', '%e %U %S %M', '-o', timeFile, spec.file, ...spec.args]] : [spec.file, spec.args];
  const watchedBefore = Object.fromEntries(Object.entries(spec.watchPids ?? {}).map(([k, pid]) => [k, cpuSeconds(pid) ?? 0]));
  if (spec.probeFile) await rm(spec.probeFile, { force: true });
  const busyBefore = machineBusySeconds();
  const started = performance.now();
  const child = execa(file, args, {
    env: { ...spec.env, ...(spec.probeFile ? { BENCH_PROBE_FILE: spec.probeFile } : {}) },
    extendEnv: false,
    detached: true,
    cleanup: false,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: { file: spec.logFile, append: true },
  });
  const pid = child.pid!;
  running.add(pid);
  const monitor = new TreeMonitor(pid, useTime).start();
  let result;
  try {
    result = await child;
  } finally {
    running.delete(pid);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const busy = machineBusySeconds() - busyBefore;
  const tree = monitor.stop();
  const watchedCpuSeconds = Object.fromEntries(
    Object.entries(spec.watchPids ?? {}).map(([k, p]) => [k, Math.round(((cpuSeconds(p) ?? 0) - (watchedBefore[k] ?? 0)) * 100) / 100]),
  );
  let treeCpuSeconds: number | null = null;
  let treeMaxRssKb: number | null = null;
  if (useTime) {
    const text = await readFile(timeFile, 'utf8').catch(() => '');
    // GNU time writes "Command exited with non-zero status N" first when it fails.
    const m = /(\d+\.\d+) (\d+\.\d+) (\d+\.\d+) (\d+)\s*$/.exec(text.trim());
    if (m) {
      treeCpuSeconds = Number(m[2]) + Number(m[3]);
      treeMaxRssKb = Number(m[4]);
    }
  }
  const watchedTotal = Object.values(watchedCpuSeconds).reduce((a, b) => a + b, 0);
  const otherCpuSeconds = treeCpuSeconds === null ? null : Math.max(0, Math.round((busy - treeCpuSeconds - watchedTotal) * 10) / 10);
  let probe: ProbeResult | null = null;
  if (spec.probeFile) probe = JSON.parse(await readFile(spec.probeFile, 'utf8').catch(() => 'null')) as ProbeResult | null;
  return {
    wallSeconds,
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout ?? ''),
    treeCpuSeconds,
    treeMaxRssKb,
    watchedCpuSeconds,
    otherCpuSeconds,
    probe,
    processes: tree.processes,
    peakDescendantsRssKb: tree.peakDescendantsRssKb,
    warmMemorySeconds: Math.round(warmMemorySeconds * 100) / 100,
  };
}
