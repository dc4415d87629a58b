// The checks of a restore test, each producing report entries with expected and actual
// values: schema objects and row counts against the manifest, content checksums against
// the source's signed checksums.
import type { BackupManifest } from '../manifest/backup-manifest.js';
import type { Check } from '../report/report-schema.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { withConnection } from '../mysql/client.js';
import { schemaInventory } from '../backup/schema-inventory.js';
import { quoteQualified } from '../verify/quote-ident.js';
import { checksumsOn } from '../checksum/take-checksums.js';
import { type StoredChecksums } from '../repo/checksum-store.js';

export async function schemaObjectChecks(manifest: BackupManifest, target: MysqlConn): Promise<Check[]> {
  const databases = Object.keys(manifest.objects);
  if (databases.length === 0) return [{ name: 'schema-objects', depth: 'restore', ok: false, detail: 'the manifest records no schema inventory (backup made by an older dbops)' }];
  const actual = await withConnection(target, (db) => schemaInventory(db, databases));
  const checks: Check[] = [];
  for (const db of databases) {
    const want = manifest.objects[db]!;
    const got = actual[db]!;
    for (const kind of ['tables', 'sequences', 'views', 'routines', 'triggers', 'events'] as const) {
      const missing = want[kind].filter((n) => !got[kind].includes(n));
      const extra = got[kind].filter((n) => !want[kind].includes(n));
      checks.push({
        name: `schema-${kind}`,
        depth: 'restore',
        object: db,
        expected: want[kind].length,
        actual: got[kind].length,
        ok: missing.length === 0 && extra.length === 0,
        ...(missing.length || extra.length ? { detail: [missing.length ? `missing: ${missing.join(', ')}` : '', extra.length ? `unexpected: ${extra.join(', ')}` : ''].filter(Boolean).join('; ') } : {}),
      });
    }
  }
  return checks;
}

/**
 * Each restored table's rows against the backup's count: the manifest's, or, for a part whose
 * bytes node did not read at backup time (a table dumped by its own process: no count in the
 * manifest), the rows the restore counted in that authenticated part as it loaded them.
 */
export async function rowCountChecks(manifest: BackupManifest, target: MysqlConn, loaded: ReadonlyArray<{ database: string; table: string; rows: number }> = []): Promise<Check[]> {
  const counted = new Map(loaded.map((l) => [`${l.database}.${l.table}`, l.rows]));
  const tables = manifest.parts.flatMap((p) => {
    if (p.kind !== 'table') return [];
    const rows = p.rows ?? counted.get(`${p.database}.${p.table}`);
    return rows === undefined ? [] : [{ ...p, rows, inManifest: p.rows !== null }];
  });
  return withConnection(target, async (db) => {
    const checks: Check[] = [];
    // The dump carries the history rows of system-versioned tables (--dump-history): count those too.
    const versioned = new Set(
      (await db.query<{ db: string; name: string }>("SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_TYPE = 'SYSTEM VERSIONED'")).map((r) => `${r.db}.${r.name}`),
    );
    for (const p of tables) {
      const object = `${p.database}.${p.table}`;
      const name = p.inManifest ? 'row-count' : 'part-row-count';
      try {
        const all = versioned.has(object) ? ' FOR SYSTEM_TIME ALL' : '';
        const [row] = await db.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${quoteQualified(p.database!, p.table!)}${all}`);
        const n = Number(row?.n ?? -1);
        const basis = p.inManifest ? 'the backup recorded' : 'its backup part held (counted while loading)';
        checks.push({ name, depth: 'restore', object, expected: p.rows, actual: n, ok: n === p.rows, ...(n !== p.rows ? { detail: `${object} has ${n} rows, ${basis} ${p.rows}` } : {}) });
      } catch (err) {
        checks.push({ name, depth: 'restore', object, expected: p.rows, actual: null, ok: false, detail: `cannot count rows: ${(err as Error).message}` });
      }
    }
    return checks;
  });
}

export async function contentChecks(set: StoredChecksums, target: MysqlConn): Promise<Check[]> {
  const actual = await checksumsOn(target, set.tables);
  const checks: Check[] = [];
  for (const [db, tables] of Object.entries(set.tables)) {
    for (const [table, want] of Object.entries(tables)) {
      const got = actual[db]![table]!;
      const object = `${db}.${table}`;
      if ('missing' in got) {
        checks.push({ name: 'content-checksum', depth: 'content', object, expected: want.checksum, actual: null, ok: false, detail: `${object} is missing or unreadable in the restored server` });
        continue;
      }
      const equal = got.checksum === want.checksum && got.rows === want.rows;
      checks.push({
        name: 'content-checksum',
        depth: 'content',
        object,
        expected: { rows: want.rows, checksum: want.checksum },
        actual: { rows: got.rows, checksum: got.checksum },
        // Non-transactional tables are outside the snapshot: a difference there is reported, not failed.
        ok: equal || !want.transactional,
        ...(!equal ? { detail: want.transactional ? `content differs: ${got.rows} rows vs ${want.rows} on the source` : 'differs, but the table is non-transactional (outside the snapshot); not counted' } : {}),
      });
    }
  }
  return checks;
}

/**
 * A physical backup records no row counts (counting every table at backup time would scan it,
 * and not at the backup's point): each table of the manifest is read whole on the restored
 * server (its tablespace opens and every row is readable). With a checksum set taken exactly
 * at the backup's point, each table's rows are compared with it as well.
 */
export async function tableReadChecks(manifest: BackupManifest, target: MysqlConn, atPoint: StoredChecksums | undefined): Promise<Check[]> {
  return withConnection(target, async (db) => {
    const versioned = new Set(
      (await db.query<{ db: string; name: string }>("SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_TYPE = 'SYSTEM VERSIONED'")).map((r) => `${r.db}.${r.name}`),
    );
    const checks: Check[] = [];
    for (const [database, objects] of Object.entries(manifest.objects)) {
      for (const table of objects.tables) {
        const object = `${database}.${table}`;
        const want = atPoint?.tables[database]?.[table];
        try {
          const all = versioned.has(object) ? ' FOR SYSTEM_TIME ALL' : '';
          const [row] = await db.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${quoteQualified(database, table)}${all}`);
          const n = Number(row?.n ?? -1);
          if (want && !all) {
            const ok = n === want.rows || !want.transactional;
            checks.push({ name: 'row-count', depth: 'restore', object, expected: want.rows, actual: n, ok, ...(n !== want.rows ? { detail: `${object} has ${n} rows, the checksums taken at the backup's point ${want.rows}${want.transactional ? '' : ' (non-transactional: not counted)'}` } : {}) });
          } else {
            checks.push({ name: 'table-readable', depth: 'restore', object, actual: n, ok: true });
          }
        } catch (err) {
          checks.push({ name: 'table-readable', depth: 'restore', object, actual: null, ok: false, detail: `cannot read ${object}: ${(err as Error).message}` });
        }
      }
    }
    return checks;
  });
}
