// Fake executables on PATH for faults a real server cannot produce on demand: each
// wraps the REAL tool and only adds the fault (a kill or a pause mid-stream).
import { mkdtemp, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from '../../src/mysql/find-tool.js';

/** A directory holding one executable `name` with this script (put it first on PATH). */
export async function fakeBin(name: string, script: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-fakebin-'));
  const file = join(dir, name);
  await writeFile(file, script);
  await chmod(file, 0o755);
  return dir;
}

function realDump(): string {
  const real = findTool('mariadb-dump') ?? findTool('mysqldump');
  if (!real) throw new Error('mariadb-dump not installed');
  return real;
}

/** A mariadb-dump that streams `bytes` of the real dump and then dies by SIGKILL. */
export function dumpKilledAfter(bytes: number): Promise<string> {
  return fakeBin(
    'mariadb-dump',
    `#!/bin/sh\n"${realDump()}" "$@" | dd bs=${bytes} count=1 iflag=fullblock 2>/dev/null\nkill -9 $$\n`,
  );
}

/** A mariadb-dump that streams `bytes`, pauses `seconds`, then streams the rest. */
export function dumpPausedAfter(bytes: number, seconds: number): Promise<string> {
  return fakeBin(
    'mariadb-dump',
    `#!/bin/sh\n"${realDump()}" "$@" | { dd bs=${bytes} count=1 iflag=fullblock 2>/dev/null; sleep ${seconds}; cat; }\n`,
  );
}

export function withPath(dir: string): string {
  return `${dir}:${process.env.PATH ?? ''}`;
}
