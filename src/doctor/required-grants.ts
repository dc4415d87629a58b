// The exact privileges the backup account needs, per flavour and version, and nothing
// broader. Measured on MariaDB 10.11 by running `dbops backup`, `binlog ship --once`
// and `checksum` as an account holding only these (test/doctor): the dump needs
// SELECT, SHOW VIEW (views), TRIGGER (triggers) and EVENT (events) — MariaDB takes the
// consistent binlog position from binlog_snapshot_* without FLUSH TABLES WITH READ
// LOCK, so no RELOAD and no LOCK TABLES (--single-transaction, --skip-add-locks).
// RELOAD is optional for backups: with it the largest tables are dumped in parallel
// (BACKUP STAGE, see backup/parallel-dump.ts); shipping needs it anyway.
// Shipping needs REPLICATION SLAVE (the binlog stream), BINLOG MONITOR (SHOW BINARY
// LOGS; REPLICATION CLIENT before MariaDB 10.5.2 and on MySQL) and RELOAD (FLUSH
// BINARY LOGS, which bounds the lag). MySQL's mysqldump with --source-data and
// --single-transaction runs FLUSH TABLES WITH READ LOCK (RELOAD) and SHOW MASTER
// STATUS (REPLICATION CLIENT), and since 8.0.21 reads tablespaces (PROCESS).
import { versionAtLeast } from '../mysql/flavor.js';
import type { ServerInfo } from '../mysql/server-info.js';

export interface RequiredPrivileges {
  backup: string[];
  shipping: string[];
}

export function requiredPrivileges(info: Pick<ServerInfo, 'flavor' | 'major' | 'minor' | 'patch'>): RequiredPrivileges {
  const objects = ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'];
  if (info.flavor === 'mariadb') {
    const monitor = versionAtLeast(info, 10, 5, 2) ? 'BINLOG MONITOR' : 'REPLICATION CLIENT';
    return { backup: objects, shipping: ['RELOAD', monitor, 'REPLICATION SLAVE'] };
  }
  const backup = [...objects, 'RELOAD', 'REPLICATION CLIENT'];
  if (versionAtLeast(info, 8, 0, 21)) backup.push('PROCESS');
  return { backup, shipping: ['RELOAD', 'REPLICATION CLIENT', 'REPLICATION SLAVE'] };
}

/** Privileges granted ON *.* according to SHOW GRANTS lines (ALL PRIVILEGES covers everything). */
export function globalPrivileges(grantLines: readonly string[]): { all: boolean; privileges: Set<string> } {
  const privileges = new Set<string>();
  let all = false;
  for (const line of grantLines) {
    const m = /^GRANT (.+?) ON \*\.\* TO /i.exec(line.trim());
    if (!m) continue;
    for (const p of m[1]!.split(',').map((s) => s.trim().toUpperCase())) {
      if (p === 'ALL' || p === 'ALL PRIVILEGES') all = true;
      privileges.add(p);
    }
  }
  // Older names that imply the newer ones.
  if (privileges.has('SUPER')) privileges.add('BINLOG MONITOR');
  if (privileges.has('REPLICATION CLIENT')) privileges.add('BINLOG MONITOR');
  if (privileges.has('BINLOG MONITOR')) privileges.add('REPLICATION CLIENT');
  return { all, privileges };
}

export function missingPrivileges(grantLines: readonly string[], needed: readonly string[]): string[] {
  const { all, privileges } = globalPrivileges(grantLines);
  return all ? [] : needed.filter((p) => !privileges.has(p));
}

/** `GRANT … ON *.* TO 'user'@'host';` for CURRENT_USER() (user@host). */
export function grantStatement(privileges: readonly string[], currentUser: string): string {
  const at = currentUser.lastIndexOf('@');
  const user = at >= 0 ? currentUser.slice(0, at) : currentUser;
  const host = at >= 0 ? currentUser.slice(at + 1) : '%';
  const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  return `GRANT ${privileges.join(', ')} ON *.* TO ${q(user)}@${q(host)};`;
}
