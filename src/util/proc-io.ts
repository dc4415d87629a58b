// Bytes a child process has read and written so far, from Linux's /proc/<pid>/io (rchar,
// wchar): progress for programs whose data never passes through node (a decoder reading
// its files, a dump writing straight into zstd). Undefined where there is no such file
// (another OS, the process gone): progress then just moves less often.
import { readFileSync } from 'node:fs';

export function processIo(pid: number | undefined): { read: number; written: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    const read = field('rchar');
    const written = field('wchar');
    return Number.isFinite(read) && Number.isFinite(written) ? { read, written } : undefined;
  } catch {
    return undefined;
  }
}
