// Watches a process tree through /proc while a measured command runs: which programs
// it spawned (and how many of each), each one's peak RSS (VmHWM), and the peak of the
// summed RSS of everything below the command's main process at any one moment, which
// is the memory the pipeline really held. Sampling misses processes that live less
// than one interval; their count is then a lower bound.
import { readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  name: string;
  /** argv, NUL-separated in /proc, read once when first seen. */
  argv: string[];
  hwmKb: number;
}

export interface TreeStats {
  processes: ProcessInfo[];
  /** Peak of the summed VmRSS of the main process's descendants (sampled). */
  peakDescendantsRssKb: number;
  samples: number;
}

function readStatus(pid: number): { name: string; ppid: number; rssKb: number; hwmKb: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (key: string): string | undefined => new RegExp(`^${key}:\\s*(.+)$`, 'm').exec(text)?.[1];
  return {
    name: field('Name') ?? '?',
    ppid: Number(field('PPid') ?? 0),
    rssKb: parseInt(field('VmRSS') ?? '0', 10) || 0,
    hwmKb: parseInt(field('VmHWM') ?? '0', 10) || 0,
  };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  // Children are listed per thread that forked them; libuv and bash fork from the main thread.
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const p of text ? text.split(' ') : []) out.push(Number(p));
  } catch {
    // gone
  }
  return out;
}

function readArgv(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "(comm) ": state is index 0, utime 11, stime 12 (fields 14 and 15 of proc(5)).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Samples the tree under `rootPid` every `intervalMs`. The "main" process is the root's
 * first child when `mainIsChild` (the root is a /usr/bin/time wrapper), else the root.
 */
export class TreeMonitor {
  private readonly seen = new Map<number, ProcessInfo>();
  private peak = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rootPid: number,
    private readonly mainIsChild: boolean,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  stop(): TreeStats {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return { processes: [...this.seen.values()], peakDescendantsRssKb: this.peak, samples: this.samples };
  }

  private sample(): void {
    this.samples++;
    const mainPids = this.mainIsChild ? childrenOf(this.rootPid) : [this.rootPid];
    let sum = 0;
    const visit = (pid: number, isMainOrAbove: boolean): void => {
      const st = readStatus(pid);
      if (!st) return;
      let info = this.seen.get(pid);
      if (!info) {
        info = { pid, ppid: st.ppid, name: st.name, argv: readArgv(pid), hwmKb: 0 };
        this.seen.set(pid, info);
      }
      // A process that exec()s (bash → mariadb-dump) keeps its pid: take the newest name/argv.
      if (info.name !== st.name) {
        info.name = st.name;
        info.argv = readArgv(pid);
      }
      info.hwmKb = Math.max(info.hwmKb, st.hwmKb);
      if (!isMainOrAbove) sum += st.rssKb;
      for (const c of childrenOf(pid)) visit(c, false);
    };
    if (this.mainIsChild) readStatus(this.rootPid);
    for (const m of mainPids) visit(m, true);
    this.peak = Math.max(this.peak, sum);
  }
}

/** A direct child of `pid` whose argv matches, e.g. a server this process started. */
export function findChildProcess(pid: number, match: (argv: string[]) => boolean): number | undefined {
  return childrenOf(pid).find((c) => match(readArgv(c)));
}

/** CPU seconds the whole machine has been busy (all processes, all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return (total - idle) / 100;
  } catch {
    return 0;
  }
}
