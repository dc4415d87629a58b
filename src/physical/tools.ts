// The physical backup programs per flavour, and their command lines, in one pure place so
// each flag is unit-tested (no MySQL server here: xtrabackup's lines are checked against its
// documentation). MariaDB: mariadb-backup and mbstream; MySQL: Percona's xtrabackup and
// xbstream, which take the same flags. The datadir is read only by these programs, on the
// host where it lives (or where it is mounted read-only).
import { availableParallelism } from 'node:os';
import { findFirstTool } from '../mysql/find-tool.js';
import { ToolError } from '../errors.js';
import type { Flavor } from '../mysql/server-info.js';

export type PhysicalTool = 'mariadb-backup' | 'xtrabackup';

export interface PhysicalTools {
  /** The name the manifest records. */
  tool: PhysicalTool;
  /** Absolute paths. */
  backup: string;
  stream: string;
}

const NAMES: Record<Flavor, { tool: PhysicalTool; backup: string[]; stream: string[]; pkg: string }> = {
  mariadb: { tool: 'mariadb-backup', backup: ['mariadb-backup', 'mariabackup'], stream: ['mbstream'], pkg: 'mariadb-backup' },
  mysql: { tool: 'xtrabackup', backup: ['xtrabackup'], stream: ['xbstream'], pkg: 'percona-xtrabackup-80 (Percona repository)' },
};

export function physicalToolFor(flavor: Flavor): PhysicalTool {
  return NAMES[flavor].tool;
}

/** The programs for a tool (as a manifest names it), found on PATH; a ToolError naming the package when missing. */
export function resolvePhysicalTools(tool: PhysicalTool, path?: string): PhysicalTools {
  const names = tool === 'mariadb-backup' ? NAMES.mariadb : NAMES.mysql;
  const pick = (candidates: string[]): string => {
    const found = findFirstTool(candidates, path);
    if (!found) throw new ToolError(candidates[0]!, `not found on PATH (tried ${candidates.join(', ')}): install ${names.pkg}`);
    return found.path;
  };
  return { tool, backup: pick(names.backup), stream: pick(names.stream) };
}

export interface BackupArgs {
  /** Scratch directory the tool insists on even when streaming. */
  targetDir: string;
  /** Where the tool leaves a copy of its checkpoints and info files (LSNs, binlog position). */
  extraLsnDir: string;
  /** The source's datadir as readable here. */
  datadir: string;
  /** An incremental: copy only pages newer than this LSN (the parent's toLsn). */
  incrementalLsn?: string;
}

/** `--backup` streaming xbstream to stdout; the credentials' option file comes first (tool-process.ts). */
export function backupArgs(a: BackupArgs): string[] {
  return [
    '--backup',
    '--stream=xbstream',
    `--target-dir=${a.targetDir}`,
    `--extra-lsndir=${a.extraLsnDir}`,
    `--datadir=${a.datadir}`,
    ...(a.incrementalLsn !== undefined ? [`--incremental-lsn=${a.incrementalLsn}`] : []),
  ];
}

/**
 * Extract a stream read on stdin into `dir`. With one thread the tool reads the pipe and
 * writes every file in turn, and it drops what it wrote from the page cache as it goes
 * (posix_fadvise), which starts writeback; a second thread keeps reading meanwhile, even on
 * one core. More cores get a thread each, up to four (untested beyond two).
 */
export function extractArgs(dir: string, threads = Math.max(2, Math.min(4, availableParallelism()))): string[] {
  return ['-x', `--parallel=${threads}`, '-C', dir];
}

/**
 * `--prepare` of the base (no incrementalDir) or one incremental applied onto it. xtrabackup
 * must not roll back uncommitted transactions while more incrementals follow
 * (`--apply-log-only`); mariadb-backup (10.2+) needs no such flag and applies each in turn.
 */
export function prepareArgs(tool: PhysicalTool, targetDir: string, incrementalDir: string | undefined, moreToApply: boolean): string[] {
  return [
    '--prepare',
    `--target-dir=${targetDir}`,
    ...(incrementalDir !== undefined ? [`--incremental-dir=${incrementalDir}`] : []),
    ...(tool === 'xtrabackup' && moreToApply ? ['--apply-log-only'] : []),
  ];
}
