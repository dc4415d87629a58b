// Whether a backup can be rolled forward with binlogs, and the one way every command says
// why not: a source without binary logging still gets daily backups (they restore), but
// nothing can replay past them until log_bin is on.
import type { BackupManifest } from './backup-manifest.js';

export const BINLOG_OFF = 'binary logging is off on the source';

/** The manifest warning (and the one log line) of a backup taken without binary logging. */
export const BINLOG_OFF_WARNING = `${BINLOG_OFF}: this backup restores, but point-in-time recovery is impossible until binary logging is on (log_bin, binlog_format=ROW)`;

/** Why point-in-time recovery cannot start from this backup; undefined when it can. */
export function pitrUnavailable(m: Pick<BackupManifest, 'consistentPoint' | 'warnings'>): string | undefined {
  if (m.consistentPoint.binlogFile) return undefined;
  return m.warnings.some((w) => w.startsWith(BINLOG_OFF)) ? BINLOG_OFF : 'the backup recorded no binlog position';
}
