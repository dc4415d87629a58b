// Server options for a throwaway server whose only job is to take one big restore (restore-test's
// sandbox, the benchmark's target). A default-sized server spends the load checkpointing a small
// redo log, evicting pages it reads back for the index build, and merging index sorts through a
// 1 MiB buffer. Measured on the 1 GB bench restore (2 cores), same target for plain and dbops:
// 256M pool + 16M redo log: dbops 45.1 s; + 512M redo log, 64M sort buffer: 34.8 s; + 1G pool: 30.7 s.
import type { Flavor } from '../mysql/server-info.js';
import { UsageError } from '../errors.js';
import { findServerBinary } from './process-server.js';

const MiB = 1024 * 1024;
const POOL_MAX = 1024 * MiB;
const REDO_MAX = 512 * MiB;

/** '2g', '512m', '1048576k', '123' (bytes) as the container engines take them. */
export function parseMemoryLimit(limit: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(limit.trim());
  if (!m) throw new UsageError(`sandbox memory must be a size like 2g or 512m, got "${limit}"`);
  const unit = { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

function mib(bytes: number): string {
  return `${Math.max(8, Math.floor(bytes / MiB))}M`;
}

/**
 * Options for a restore target. Under a memory limit (which a tmpfs datadir counts against too)
 * the buffer pool takes at most 35% of it and the redo log 20%, so the server and its files fit.
 */
export function restoreTuningArgs(flavor: Flavor, memoryLimit?: string): string[] {
  const limit = memoryLimit ? parseMemoryLimit(memoryLimit) : Infinity;
  const pool = Math.min(POOL_MAX, limit * 0.35);
  const redo = Math.min(REDO_MAX, limit * 0.2);
  return [
    `--innodb-buffer-pool-size=${mib(pool)}`,
    // MySQL 8 sizes its redo capacity from this times innodb_log_files_in_group (2).
    `--innodb-log-file-size=${mib(flavor === 'mysql' ? redo / 2 : redo)}`,
    '--innodb-sort-buffer-size=64M', // the maximum; used by the deferred index builds after a load
    '--innodb-adaptive-hash-index=OFF', // MariaDB's default already; MySQL 8.0 has it on, costing CPU on every insert
  ];
}

/** restoreTuningArgs for the locally installed server (the process sandbox, the bench targets). */
export async function localRestoreTuningArgs(): Promise<string[]> {
  return restoreTuningArgs((await findServerBinary()).flavor);
}
