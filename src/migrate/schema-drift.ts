// Drift between the live schema and the schema its applied migrations make (what Atlas and Flyway
// call schema drift): a column or index added or dropped by hand, a table nobody migrated, a
// partition layout that is not the one maintenance keeps. The expected schema is built for real,
// not parsed: the applied migrations' up files run into a scratch database on the same server,
// whose information_schema is then compared with the live one's. Daily partitions (pYYYYMMDD
// holding that day) are partition maintenance's work and are expected.
import { randomBytes } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { OperationError } from '../errors.js';
import { log } from '../util/logger.js';
import { loadMigrations, defaultMigrationsDir } from './migration-files.js';
import { MIGRATIONS_TABLE, readMigrationRows } from './migrations-table.js';
import { addDays } from './partitions.js';
import { splitSqlStatements } from './split-sql.js';

export interface DriftItem {
  table: string;
  kind: 'table' | 'column' | 'index' | 'constraint' | 'partitioning' | 'partition';
  name: string;
  change: 'added' | 'removed' | 'changed';
  /** Live definition (added/changed) or expected one (removed). */
  detail?: string;
}

/** One line per item, e.g. "pageviews: column ip_address added (varchar(45) NULL)". */
export function describeDrift(d: DriftItem): string {
  const what = d.kind === 'table' ? `table ${d.table}` : `${d.table}: ${d.kind}${d.kind === 'partitioning' ? '' : ` ${d.name}`}`;
  return `${what} ${d.change}${d.detail ? ` (${d.detail})` : ''}`;
}

type Shape = Map<string, Map<string, string>>; // table → name → definition

interface SchemaShape {
  tables: Set<string>;
  columns: Shape;
  indexes: Shape;
  constraints: Shape;
  partitioning: Map<string, string>;
  partitions: Shape;
}

function put(shape: Shape, table: string, name: string, def: string): void {
  let t = shape.get(table);
  if (!t) shape.set(table, (t = new Map()));
  t.set(name, def);
}

async function readShape(conn: Connection, schema: string): Promise<SchemaShape> {
  const q = async (sql: string): Promise<RowDataPacket[]> => (await conn.query<RowDataPacket[]>(sql, [schema, MIGRATIONS_TABLE]))[0];
  const tables = new Set(
    (await q("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> ? AND TABLE_TYPE = 'BASE TABLE'")).map((r) => String(r.t)),
  );
  const shape: SchemaShape = { tables, columns: new Map(), indexes: new Map(), constraints: new Map(), partitioning: new Map(), partitions: new Map() };
  for (const r of await q(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nul, COLUMN_DEFAULT AS def, EXTRA AS extra, COLLATION_NAME AS coll
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> ?`,
  )) {
    const parts = [String(r.type), r.nul === 'YES' ? 'NULL' : 'NOT NULL'];
    if (r.def != null) parts.push(`DEFAULT ${String(r.def)}`);
    if (r.extra) parts.push(String(r.extra));
    if (r.coll) parts.push(`COLLATE ${String(r.coll)}`);
    put(shape.columns, String(r.t), String(r.c), parts.join(' '));
  }
  for (const r of await q(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS i, MAX(NON_UNIQUE) AS nu, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> ? GROUP BY TABLE_NAME, INDEX_NAME`,
  )) {
    put(shape.indexes, String(r.t), String(r.i), `${Number(r.nu) === 0 ? 'UNIQUE ' : ''}(${String(r.cols)})`);
  }
  for (const r of await q(
    `SELECT TABLE_NAME AS t, CONSTRAINT_NAME AS n, CONSTRAINT_TYPE AS type FROM information_schema.TABLE_CONSTRAINTS
      WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME <> ? AND CONSTRAINT_TYPE IN ('FOREIGN KEY', 'CHECK')`,
  )) {
    put(shape.constraints, String(r.t), String(r.n), String(r.type));
  }
  for (const r of await q(
    `SELECT TABLE_NAME AS t, PARTITION_NAME AS p, PARTITION_METHOD AS m, PARTITION_EXPRESSION AS e, PARTITION_DESCRIPTION AS d
       FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> ? AND PARTITION_NAME IS NOT NULL
      ORDER BY TABLE_NAME, PARTITION_ORDINAL_POSITION`,
  )) {
    shape.partitioning.set(String(r.t), `${String(r.m)} (${String(r.e)})`);
    put(shape.partitions, String(r.t), String(r.p), String(r.d ?? ''));
  }
  return shape;
}

/** pYYYYMMDD VALUES LESS THAN (the next day): what partition maintenance and the seed create. */
function isDailyPartition(name: string, description: string): boolean {
  const m = /^p(\d{4})(\d{2})(\d{2})$/.exec(name);
  if (!m) return false;
  try {
    return description.replace(/'/g, '') === addDays(`${m[1]}-${m[2]}-${m[3]}`, 1);
  } catch {
    return false;
  }
}

function compareShape(live: SchemaShape, want: SchemaShape): DriftItem[] {
  const out: DriftItem[] = [];
  for (const t of want.tables) if (!live.tables.has(t)) out.push({ table: t, kind: 'table', name: t, change: 'removed' });
  for (const t of live.tables) if (!want.tables.has(t)) out.push({ table: t, kind: 'table', name: t, change: 'added' });
  const both = [...want.tables].filter((t) => live.tables.has(t)).sort();
  const diff = (kind: DriftItem['kind'], l: Shape, w: Shape): void => {
    for (const t of both) {
      const lt = l.get(t) ?? new Map<string, string>();
      const wt = w.get(t) ?? new Map<string, string>();
      for (const [name, def] of wt) {
        if (!lt.has(name)) out.push({ table: t, kind, name, change: 'removed', detail: def });
        else if (lt.get(name) !== def) out.push({ table: t, kind, name, change: 'changed', detail: `${lt.get(name)}, expected ${def}` });
      }
      for (const [name, def] of lt) if (!wt.has(name)) out.push({ table: t, kind, name, change: 'added', detail: def });
    }
  };
  diff('column', live.columns, want.columns);
  diff('index', live.indexes, want.indexes);
  diff('constraint', live.constraints, want.constraints);
  for (const t of both) {
    const lp = live.partitioning.get(t);
    const wp = want.partitioning.get(t);
    if (lp !== wp) {
      out.push({ table: t, kind: 'partitioning', name: t, change: !wp ? 'added' : !lp ? 'removed' : 'changed', detail: lp && wp ? `${lp}, expected ${wp}` : (lp ?? wp) });
      continue;
    }
    if (!lp) continue;
    const lt = live.partitions.get(t) ?? new Map<string, string>();
    const wt = want.partitions.get(t) ?? new Map<string, string>();
    for (const [name, def] of wt) if (!lt.has(name)) out.push({ table: t, kind: 'partition', name, change: 'removed', detail: `LESS THAN ${def}` });
    for (const [name, def] of lt) {
      if (!wt.has(name) && !isDailyPartition(name, def)) out.push({ table: t, kind: 'partition', name, change: 'added', detail: `LESS THAN ${def}` });
    }
  }
  return out;
}

/**
 * Differences between the live schema of the connection's database and the schema its applied
 * migrations make. Needs CREATE and DROP on a scratch database `dbops_shadow_<random>` (removed
 * again before this returns). Assumes the files match their records (verify checks that first).
 */
export async function schemaDrift(conn: Connection, opts: { dir?: string } = {}): Promise<DriftItem[]> {
  const [dbRows] = await conn.query<RowDataPacket[]>(
    'SELECT DATABASE() AS db, DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS coll FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()',
  );
  const db = String(dbRows[0]?.db ?? '');
  if (!db) throw new OperationError('the connection has no default database; put the database name in the source URL');
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const applied = new Set((await readMigrationRows(conn)).filter((r) => r.status === 'applied').map((r) => r.version));
  const shadow = `dbops_shadow_${randomBytes(6).toString('hex')}`;
  try {
    await conn.query(`CREATE DATABASE \`${shadow}\` DEFAULT CHARACTER SET ${String(dbRows[0]!.cs)} COLLATE ${String(dbRows[0]!.coll)}`);
  } catch (err) {
    throw new OperationError(
      `comparing the live schema needs a scratch database, but CREATE DATABASE ${shadow} failed (${(err as Error).message}); grant CREATE and DROP on \`dbops_shadow_%\`.*`,
      { cause: err },
    );
  }
  try {
    await conn.query(`USE \`${shadow}\``);
    for (const f of files.filter((x) => applied.has(x.version))) {
      for (const st of splitSqlStatements(f.up, f.id)) {
        try {
          await conn.query(st.sql);
        } catch (err) {
          throw new OperationError(`cannot build the expected schema: ${f.id}.up.sql:${st.line} fails on an empty database (${(err as Error).message})`, { cause: err });
        }
      }
    }
    await conn.query(`USE \`${db}\``);
    return compareShape(await readShape(conn, db), await readShape(conn, shadow));
  } finally {
    await conn.query(`USE \`${db}\``).catch(() => undefined);
    await conn.query(`DROP DATABASE IF EXISTS \`${shadow}\``).catch((err: Error) => log.error({ err: err.message, database: shadow }, 'could not drop the scratch database; drop it by hand'));
  }
}
