// The facts a physical backup tool records about its copy, parsed from the files it writes
// (both names: MariaDB 11 renamed xtrabackup_* to mariadb_backup_*):
//   xtrabackup_checkpoints  backup_type / from_lsn / to_lsn / last_lsn (key = value lines)
//   xtrabackup_info         … binlog_pos = filename 'F', position 'P', GTID of the last change 'G'
//   xtrabackup_binlog_info  F<TAB>P[<TAB>G]   (in the stream)
// and the same binlog line the tool prints on stderr ("MySQL binlog position: …"). The GTID is
// the server's gtid_current_pos (MariaDB) or Executed_Gtid_Set (MySQL, which may span lines).
import type { ConsistentPoint } from '../manifest/backup-manifest.js';

export const CHECKPOINT_FILES = ['xtrabackup_checkpoints', 'mariadb_backup_checkpoints'] as const;
export const INFO_FILES = ['xtrabackup_info', 'mariadb_backup_info'] as const;

export interface Checkpoints {
  backupType: string;
  fromLsn: string;
  toLsn: string;
  lastLsn: string;
}

/** Undefined when a required key is missing or not a number. */
export function parseCheckpoints(text: string): Checkpoints | undefined {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_ ]+?)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) kv.set(m[1]!.replace(/\s+/g, '_'), m[2]!);
  }
  const num = (k: string): string | undefined => (/^\d+$/.test(kv.get(k) ?? '') ? kv.get(k) : undefined);
  const backupType = kv.get('backup_type');
  const fromLsn = num('from_lsn');
  const toLsn = num('to_lsn');
  const lastLsn = num('last_lsn') ?? toLsn;
  if (!backupType || fromLsn === undefined || toLsn === undefined || lastLsn === undefined) return undefined;
  return { backupType, fromLsn, toLsn, lastLsn };
}

const BINLOG_LINE = /filename '([^']+)', position '(\d+)'(?:, GTID of the last change '([^']*)')?/;

/** The consistent point from an info file or the tool's stderr; all null when binary logging was off. */
export function parseBinlogPosition(text: string): ConsistentPoint {
  const m = BINLOG_LINE.exec(text);
  if (!m) return { binlogFile: null, binlogPosition: null, gtidSet: null };
  const gtid = m[3]?.replace(/\s+/g, '');
  return { binlogFile: m[1]!, binlogPosition: Number(m[2]), gtidSet: gtid ? gtid : null };
}

/** `xtrabackup_binlog_info` as found in an extracted stream (file, position, GTID set on the rest). */
export function parseBinlogInfoFile(text: string): ConsistentPoint {
  const [file, position, ...rest] = text.trim().split(/\t/);
  if (!file || !position || !/^\d+$/.test(position)) return { binlogFile: null, binlogPosition: null, gtidSet: null };
  const gtid = rest.join('').replace(/\s+/g, '');
  return { binlogFile: file, binlogPosition: Number(position), gtidSet: gtid || null };
}
