// The mysqldump/mariadb-dump flags of a full backup, in one place (the benchmark reuses
// them so its bare-dump baseline dumps exactly what dbops dumps).
import type { ServerInfo } from '../mysql/server-info.js';
import { flavorProfile, versionAtLeast } from '../mysql/flavor.js';

/** `extra` goes before --databases (e.g. --ignore-table for tables dumped on their own). */
export function dumpArgs(info: ServerInfo, databases: readonly string[], extra: readonly string[] = []): string[] {
  return [
    '--single-transaction',
    '--quick',
    '--routines',
    '--triggers',
    '--events',
    '--hex-blob',
    // LOCK TABLES adds nothing inside --single-transaction and breaks restoring a
    // table whose DEFAULT is NEXTVAL(seq) ("was not locked with LOCK TABLES").
    '--skip-add-locks',
    // System-versioned tables keep their history (MariaDB ≥ 10.11).
    ...(info.flavor === 'mariadb' && versionAtLeast(info, 10, 11, 0) ? ['--dump-history'] : []),
    '--default-character-set=utf8mb4',
    '--max-allowed-packet=1G',
    ...flavorProfile(info).dumpCoordinateFlags,
    ...extra,
    '--databases',
    ...databases,
  ];
}
