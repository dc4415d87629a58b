// CPU accounting for one phase inside a longer command (pitr's replay after its restore),
// which GNU time cannot give: samples every 100 ms the machine's busy time, a watched
// process (the target mariadbd) and every process of the command's tree, then reports
// the deltas over a time window known afterwards (from the command's own log). Good to
// about one sampling interval at each end.
import { readFileSync } from 'node:fs';
import { cpuSeconds, machineBusySeconds } from './process-tree.js';

interface Sample {
  t: number;
  busy: number;
  watched: number;
  tree: Map<number, number>;
}

export interface WindowCpu {
  /** CPU of the command's tree (the command and all its descendants) in the window. */
  treeCpuSeconds: number;
  watchedCpuSeconds: number;
  /** Everything else on the machine meanwhile. */
  otherCpuSeconds: number;
}

function children(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(' ').map(Number) : [];
  } catch {
    return [];
  }
}

export class WindowSampler {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private root: number | undefined;

  /** `findRoot` is asked until it names the command's process (it may start after us). */
  constructor(
    private readonly watchedPid: number,
    private readonly findRoot: () => number | undefined,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    this.root ??= this.findRoot();
    const tree = new Map<number, number>();
    const visit = (pid: number): void => {
      const cpu = cpuSeconds(pid);
      if (cpu === undefined) return;
      tree.set(pid, cpu);
      for (const c of children(pid)) visit(c);
    };
    if (this.root !== undefined) visit(this.root);
    this.samples.push({ t: Date.now(), busy: machineBusySeconds(), watched: cpuSeconds(this.watchedPid) ?? 0, tree });
  }

  /** CPU spent between t0 and t1 (epoch ms); null without samples around the window. */
  window(t0: number, t1: number): WindowCpu | null {
    let firstIdx = -1;
    for (let i = 0; i < this.samples.length && this.samples[i]!.t <= t0; i++) firstIdx = i;
    let lastIdx = this.samples.findIndex((s) => s.t >= t1);
    if (lastIdx < 0) lastIdx = this.samples.length - 1;
    if (firstIdx < 0 || lastIdx <= firstIdx) return null;
    const a = this.samples[firstIdx]!;
    const b = this.samples[lastIdx]!;
    // A process that exits inside the window is gone from b: take the most it was seen at.
    const peak = new Map<number, number>();
    for (const s of this.samples.slice(firstIdx, lastIdx + 1)) for (const [pid, cpu] of s.tree) peak.set(pid, Math.max(peak.get(pid) ?? 0, cpu));
    let tree = 0;
    for (const [pid, cpu] of peak) tree += cpu - (a.tree.get(pid) ?? 0);
    const watched = b.watched - a.watched;
    const round = (x: number): number => Math.round(x * 100) / 100;
    return { treeCpuSeconds: round(tree), watchedCpuSeconds: round(watched), otherCpuSeconds: round(Math.max(0, b.busy - a.busy - tree - watched)) };
  }
}
