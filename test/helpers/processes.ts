// The processes a dbops run started, found through /proc for fault tests: by a mark in
// their environment (FAULT_MARK, which every child inherits: fake or real tools alike), so
// a test can kill one child by pid and then prove that none outlived the run.
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';

export interface Proc {
  pid: number;
  ppid: number;
  /** The program name (/proc/PID/comm, e.g. zstd, age, mariadb-dump, mariadb). */
  comm: string;
  state: string;
}

/** A new mark for one run: pass `{ FAULT_MARK: mark }` in its environment. */
export function newMark(): string {
  return randomBytes(8).toString('hex');
}

async function stat(pid: number): Promise<Proc | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const [state, ppid] = text.slice(close + 2).split(' ');
    return { pid, ppid: Number(ppid), comm: text.slice(text.indexOf('(') + 1, close), state: state! };
  } catch {
    return undefined;
  }
}

/** Live processes below `root` (its children, theirs…), from /proc/PID/task/TID/children: cheap enough to poll every few ms. */
export async function descendants(root: number): Promise<Proc[]> {
  const out: Proc[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    let tasks: string[];
    try {
      tasks = await readdir(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      let text: string;
      try {
        text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of text.split(' ').filter(Boolean).map(Number)) {
        const p = await stat(child);
        if (p && p.state !== 'Z') out.push(p);
        queue.push(child);
      }
    }
  }
  return out;
}

/** Live (not zombie) processes whose environment carries FAULT_MARK=mark. */
export async function markedProcesses(mark: string): Promise<Proc[]> {
  const needle = Buffer.from(`FAULT_MARK=${mark}\0`);
  const out: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      env = await readFile(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if (!env.includes(needle)) continue;
    const p = await stat(pid);
    if (p && p.state !== 'Z') out.push(p);
  }
  return out;
}

/** The first marked process named `comm` (polls until `timeoutMs`). */
export async function waitForProcess(mark: string, comm: string, timeoutMs = 30_000, exclude: readonly number[] = []): Promise<Proc> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = (await markedProcesses(mark)).find((x) => x.comm === comm && !exclude.includes(x.pid));
    if (p) return p;
    if (Date.now() > deadline) throw new Error(`no ${comm} process of this run appeared within ${timeoutMs} ms`);
    await delay(5);
  }
}

/** Waits until no marked process is left; returns those still there after `timeoutMs` (then killed). */
export async function survivors(mark: string, timeoutMs = 15_000): Promise<Proc[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await markedProcesses(mark);
    if (left.length === 0) return [];
    if (Date.now() > deadline) {
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      return left;
    }
    await delay(50);
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
