// Which parts a restore applies, and under which database name: whole backup, one
// database, or one table (optionally renamed into another schema for side-by-side work).
import type { BackupManifest, ManifestPart } from '../manifest/backup-manifest.js';
import { PART_ORDER } from '../manifest/backup-manifest.js';
import { UsageError } from '../errors.js';

export interface RestoreScope {
  database?: string;
  /** `db.table` */
  table?: string;
  intoSchema?: string;
  accounts?: boolean;
}

export interface PlannedPart {
  part: ManifestPart;
  /** Database the client session starts in (undefined for database/accounts parts). */
  targetDatabase?: string;
  /** Strip trigger blocks: a renamed copy must not carry triggers naming the original. */
  stripTriggers: boolean;
}

export interface RestorePlan {
  /** Databases to create in the target (already renamed). */
  createDatabases: Array<{ name: string; fromPart?: ManifestPart }>;
  steps: PlannedPart[];
  /** Tables that must not exist yet in the target (db, table), unless --force. */
  targets: Array<{ database: string; table?: string }>;
}

export function parseTableRef(ref: string): { database: string; table: string } {
  const dot = ref.indexOf('.');
  if (dot <= 0 || dot === ref.length - 1) throw new UsageError(`--table needs database.table (e.g. horizn.pageviews), got "${ref}"`);
  return { database: ref.slice(0, dot), table: ref.slice(dot + 1) };
}

export function planRestore(manifest: BackupManifest, scope: RestoreScope): RestorePlan {
  if (manifest.kind === 'physical') {
    // The stream is the whole server: restored into a datadir (physical-restore.ts), never part by part.
    if (scope.database !== undefined || scope.table !== undefined || scope.intoSchema !== undefined) {
      throw new UsageError(`backup ${manifest.id} is physical: it restores the whole server; --database, --table and --into-schema need a logical backup`);
    }
    return { createDatabases: [], steps: manifest.parts.map((part) => ({ part, stripTriggers: false })), targets: [] };
  }
  if (scope.table && scope.database) throw new UsageError('give either --database or --table, not both');
  if (scope.intoSchema !== undefined && !scope.table && !scope.database && manifest.databases.length > 1) {
    throw new UsageError('--into-schema renames one database: combine it with --database or --table');
  }
  const rename = (db: string): string => scope.intoSchema ?? db;
  const strip = scope.intoSchema !== undefined;
  const order = (a: ManifestPart, b: ManifestPart): number => PART_ORDER[a.kind] - PART_ORDER[b.kind] || a.name.localeCompare(b.name);

  if (scope.table) {
    const { database, table } = parseTableRef(scope.table);
    const part = manifest.parts.find((p) => (p.kind === 'table' || p.kind === 'sequence') && p.database === database && p.table === table);
    if (!part) {
      const known = manifest.parts.filter((p) => p.kind === 'table' && p.database === database).map((p) => p.table);
      throw new UsageError(`table ${scope.table} is not in backup ${manifest.id}${known.length ? `; tables of ${database}: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}` : `; databases: ${manifest.databases.join(', ')}`}`);
    }
    const dbPart = manifest.parts.find((p) => p.kind === 'database' && p.database === database);
    return {
      createDatabases: [{ name: rename(database), ...(dbPart && !strip ? { fromPart: dbPart } : {}) }],
      steps: [{ part, targetDatabase: rename(database), stripTriggers: strip }],
      targets: [{ database: rename(database), table }],
    };
  }
  const dbs = scope.database ? [scope.database] : manifest.databases;
  for (const db of dbs) {
    if (!manifest.databases.includes(db)) throw new UsageError(`database ${db} is not in backup ${manifest.id}; it holds: ${manifest.databases.join(', ')}`);
  }
  const steps: PlannedPart[] = manifest.parts
    .filter((p) => p.kind !== 'database' && p.kind !== 'accounts' && p.database !== undefined && dbs.includes(p.database))
    .sort(order)
    .map((part) => ({ part, targetDatabase: rename(part.database!), stripTriggers: strip }));
  if (scope.accounts) {
    const acc = manifest.parts.find((p) => p.kind === 'accounts');
    if (!acc) throw new UsageError(`backup ${manifest.id} holds no accounts part (it was taken with backup.accounts off)`);
    steps.push({ part: acc, stripTriggers: false });
  }
  return {
    createDatabases: dbs.map((db) => {
      const fromPart = manifest.parts.find((p) => p.kind === 'database' && p.database === db);
      return { name: rename(db), ...(fromPart && !strip ? { fromPart } : {}) };
    }),
    steps,
    targets: dbs.map((db) => ({ database: rename(db) })),
  };
}
