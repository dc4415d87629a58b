// Applies and reverts migrations one statement at a time under a per-database lock, records every
// outcome in schema_migrations, and refuses to run over drift (an applied file that changed) or over
// a migration that failed half-way until someone has decided how to recover. A migration that failed
// at its first statement changed nothing: `up` simply tries it again and `down` only forgets it,
// never running its down file (which would drop what the failed up found already there).
import { hostname, userInfo } from 'node:os';
import { basename } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { OperationError, UsageError, VerificationError } from '../errors.js';
import { log } from '../util/logger.js';
import { withSchemaLock } from './lock.js';
import { defaultMigrationsDir, loadMigrations, type MigrationFile } from './migration-files.js';
import { describeDrift, schemaDrift } from './schema-drift.js';
import {
  deleteMigrationRow,
  ensureMigrationsTable,
  migrationsTableExists,
  MIGRATIONS_TABLE,
  readMigrationRows,
  recordMigration,
  type MigrationRow,
} from './migrations-table.js';
import { splitSqlStatements, type SqlStatement } from './split-sql.js';

export interface MigrateOptions {
  /** Directory of NNNN_name.{up,down}.sql files; default: this package's db/migrations. */
  dir?: string;
  /** Seconds to wait for another run's lock before failing; default 60. */
  lockTimeoutSec?: number;
  /** Recorded in schema_migrations.applied_by; default "<os user>@<host> as <CURRENT_USER()>". */
  appliedBy?: string;
  /** Called once, after the lock is held and before the first change, only if there is something to do
   *  (the CLI wires the production guard and the pre-migration backup here). */
  beforeChange?: () => Promise<void>;
}

export interface UpOptions extends MigrateOptions {
  /** Apply pending migrations up to and including this version; default: all. */
  to?: number;
}

export interface DownOptions extends MigrateOptions {
  /** Revert every migration above this version (0 = all). Wins over `steps`. */
  to?: number;
  /** Revert this many of the latest migrations; default 1. */
  steps?: number;
}

/** out-of-order: pending, but numbered below the latest applied one (`up` refuses it). */
export type MigrationState = 'applied' | 'pending' | 'out-of-order' | 'failed' | 'changed' | 'missing';

export interface MigrationStatus {
  version: number;
  id: string;
  state: MigrationState;
  appliedAt?: Date;
  durationMs?: number;
  appliedBy?: string;
  failedDirection?: 'up' | 'down';
  failedStatement?: string;
  error?: string;
  /** What to do next, for failed/changed/missing migrations. */
  hint?: string;
}

export interface AppliedStep {
  version: number;
  id: string;
  direction: 'up' | 'down';
  durationMs: number;
  statements: number;
  /** A failed up that changed nothing was only forgotten: its down file did not run. */
  forgotten?: boolean;
}

export interface PlannedMigration {
  version: number;
  id: string;
  path: string;
  statements: SqlStatement[];
}

async function currentDatabase(conn: Connection): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT DATABASE() AS db');
  const db = rows[0]?.db as string | null | undefined;
  if (!db) throw new UsageError('the connection has no default database; put the database name in the source URL');
  return db;
}

async function defaultAppliedBy(conn: Connection): Promise<string> {
  let osUser = 'unknown';
  try {
    osUser = userInfo().username;
  } catch {
    // containers without a passwd entry
  }
  const [rows] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
  return `${osUser}@${hostname()} as ${String(rows[0]?.u ?? '?')}`;
}

function rowId(row: MigrationRow): string {
  return `${String(row.version).padStart(4, '0')}_${row.name}`;
}

/** A failed up that stopped at its first statement: nothing of it reached the database. */
function madeNoChange(row: Pick<MigrationRow, 'status' | 'failedDirection' | 'statementsDone'>): boolean {
  return row.status === 'failed' && (row.failedDirection ?? 'up') === 'up' && row.statementsDone === 0;
}

function failedHint(row: MigrationRow): string {
  const id = rowId(row);
  if (row.failedDirection === 'down') {
    return `down of ${id} stopped after ${row.statementsDone} statement(s); fix the cause and run \`dbops migrate down\` again, or repair by hand and run \`dbops migrate resolve ${row.version} --applied\``;
  }
  if (madeNoChange(row)) {
    return `up of ${id} failed at its first statement and changed nothing: fix the cause and run \`dbops migrate up\` again; for a database created before dbops, \`dbops migrate baseline --version N\` records the migrations it already has`;
  }
  return `up of ${id} stopped after ${row.statementsDone} statement(s); fix the file, then either run \`dbops migrate down\` (its down file undoes the whole migration with IF EXISTS: read it first, it must not drop anything that existed before) and \`migrate up\` again, or finish it by hand and run \`dbops migrate resolve ${row.version} --applied\``;
}

function truncate(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Drift problems of applied migrations against the files: changed checksum or files gone. */
function driftProblems(files: MigrationFile[], rows: MigrationRow[]): { message: string; object: string }[] {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const problems: { message: string; object: string }[] = [];
  for (const row of rows) {
    if (row.status !== 'applied') continue; // a failed one is expected to be fixed
    const file = byVersion.get(row.version);
    if (!file) {
      problems.push({
        message: `migration ${rowId(row)} is applied but its files are missing from the migrations directory; restore them`,
        object: `${rowId(row)}.up.sql`,
      });
    } else if (file.checksum !== row.checksum || file.name !== row.name) {
      problems.push({
        message: `${basename(file.upPath)} / ${basename(file.downPath)} changed after the migration was applied (checksum ${file.checksum.slice(0, 12)}…, recorded ${row.checksum.slice(0, 12)}…); restore the original files and put changes in a new migration`,
        object: file.upPath,
      });
    }
  }
  return problems;
}

function throwIfDrift(files: MigrationFile[], rows: MigrationRow[]): void {
  const problems = driftProblems(files, rows);
  if (problems.length > 0) {
    throw new VerificationError(problems.map((p) => p.message).join('; '), problems[0]!.object);
  }
}

function throwIfFailed(rows: MigrationRow[]): void {
  const failed = rows.find((r) => r.status === 'failed' && !madeNoChange(r));
  if (failed) {
    throw new OperationError(
      `migration ${rowId(failed)} failed${failed.error ? ` (${truncate(failed.error, 200)})` : ''}: ${failedHint(failed)}`,
    );
  }
}

/** Checks every applied migration against its files; throws VerificationError naming the changed or missing file.
 *  (schema-drift.ts compares the live schema with what these files make.) */
export async function verifyFiles(conn: Connection, opts: { dir?: string } = {}): Promise<void> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  throwIfDrift(files, await readMigrationRows(conn));
}

/** Not initialised: the database has no migration history at all. */
export function notInitialisedError(database: string): UsageError {
  return new UsageError(
    `database ${database} is not initialised: it has no ${MIGRATIONS_TABLE} table; run \`dbops migrate up\`, or \`dbops migrate baseline --version N\` for a database created before dbops`,
  );
}

/**
 * Applied migrations match their files, and the live schema is the one they make (schema-drift.ts).
 * Throws VerificationError naming the changed file or every drifted column, index, table or
 * partition; UsageError when the database has no migration history. Returns how many are applied.
 */
export async function verify(conn: Connection, opts: { dir?: string } = {}): Promise<{ applied: number }> {
  await verifyFiles(conn, opts);
  const db = await currentDatabase(conn);
  if (!(await migrationsTableExists(conn))) throw notInitialisedError(db);
  const drift = await schemaDrift(conn, opts);
  if (drift.length > 0) {
    throw new VerificationError(
      `schema of ${db} drifted from its migrations: ${drift.map(describeDrift).join('; ')}; put schema changes in a migration (\`dbops migrate create\`) or undo them`,
      `${db}.${drift[0]!.table}`,
    );
  }
  return { applied: (await readMigrationRows(conn)).filter((r) => r.status === 'applied').length };
}

/** Files to apply, in order, given the rows: refuses one numbered below the latest applied. */
function pendingFiles(files: MigrationFile[], rows: MigrationRow[], to: number | undefined): MigrationFile[] {
  const counted = rows.filter((r) => !madeNoChange(r));
  const applied = new Set(counted.map((r) => r.version));
  const latest = counted.reduce((m, r) => Math.max(m, r.version), 0);
  const pending = files.filter((f) => !applied.has(f.version) && (to === undefined || f.version <= to));
  const stale = pending.find((f) => f.version < latest);
  if (stale) {
    throw new UsageError(`migration ${stale.id} is older than the latest applied version ${latest}; renumber it above ${latest}`);
  }
  return pending;
}

function checkTarget(files: MigrationFile[], to: number | undefined): void {
  if (to !== undefined && to !== 0 && !files.some((f) => f.version === to)) {
    throw new UsageError(`no migration with version ${to}; see \`dbops migrate status\``);
  }
}

/**
 * What `up` would run now, statement by statement. Read-only: takes no lock and creates nothing;
 * `conn` is undefined for a database that does not exist yet (then everything is pending).
 */
export async function planUp(conn: Connection | undefined, opts: UpOptions = {}): Promise<PlannedMigration[]> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  checkTarget(files, opts.to);
  const rows = conn ? await readMigrationRows(conn) : [];
  throwIfDrift(files, rows);
  throwIfFailed(rows);
  return pendingFiles(files, rows, opts.to).map((f) => ({
    version: f.version,
    id: f.id,
    path: f.upPath,
    statements: splitSqlStatements(f.up, basename(f.upPath)),
  }));
}

/** Every known migration (files and rows), ascending, with its state. Read-only, takes no lock;
 *  `conn` is undefined for a database that does not exist yet (everything pending). */
export async function status(conn: Connection | undefined, opts: { dir?: string } = {}): Promise<MigrationStatus[]> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const rows = conn ? await readMigrationRows(conn) : [];
  const rowByVersion = new Map(rows.map((r) => [r.version, r]));
  const fileByVersion = new Map(files.map((f) => [f.version, f]));
  const versions = [...new Set([...files.map((f) => f.version), ...rows.map((r) => r.version)])].sort((a, b) => a - b);
  const latest = rows.filter((r) => !madeNoChange(r)).reduce((m, r) => Math.max(m, r.version), 0);
  return versions.map((version): MigrationStatus => {
    const file = fileByVersion.get(version);
    const row = rowByVersion.get(version);
    if (!row && version < latest) {
      return { version, id: file!.id, state: 'out-of-order', hint: `numbered below the latest applied version ${latest}, so \`migrate up\` refuses it: renumber it above ${latest}` };
    }
    if (!row) return { version, id: file!.id, state: 'pending' };
    const base = {
      version,
      id: rowId(row),
      appliedAt: row.appliedAt,
      durationMs: row.durationMs,
      appliedBy: row.appliedBy,
    };
    if (row.status === 'failed') {
      return {
        ...base,
        state: 'failed',
        failedDirection: row.failedDirection ?? 'up',
        ...(row.failedStatement != null ? { failedStatement: row.failedStatement } : {}),
        ...(row.error != null ? { error: row.error } : {}),
        hint: failedHint(row),
      };
    }
    if (!file) return { ...base, state: 'missing', hint: 'applied but its files are gone; restore them from version control' };
    if (file.checksum !== row.checksum || file.name !== row.name) {
      return { ...base, state: 'changed', hint: 'files edited after being applied; restore them and put changes in a new migration' };
    }
    return { ...base, state: 'applied' };
  });
}

async function runStatements(
  conn: Connection,
  file: MigrationFile,
  direction: 'up' | 'down',
  appliedBy: string,
): Promise<AppliedStep> {
  const path = direction === 'up' ? file.upPath : file.downPath;
  const statements = splitSqlStatements(direction === 'up' ? file.up : file.down, basename(path));
  const started = performance.now();
  let done = 0;
  for (const st of statements) {
    try {
      await conn.query(st.sql);
      done++;
    } catch (err) {
      const message = (err as Error).message;
      const durationMs = performance.now() - started;
      await recordMigration(conn, {
        version: file.version,
        name: file.name,
        checksum: file.checksum,
        status: 'failed',
        failedDirection: direction,
        durationMs,
        appliedBy,
        statementsDone: done,
        failedStatement: st.sql,
        error: message,
      });
      const failedRow = { version: file.version, name: file.name, status: 'failed', statementsDone: done, failedDirection: direction } as MigrationRow;
      throw new OperationError(
        `migration ${file.id} ${direction} failed at ${basename(path)}:${st.line} (${truncate(st.sql, 80)}): ${truncate(message, 200)}; ${failedHint(failedRow)}`,
        { cause: err },
      );
    }
  }
  const durationMs = performance.now() - started;
  if (direction === 'up') {
    await recordMigration(conn, {
      version: file.version,
      name: file.name,
      checksum: file.checksum,
      status: 'applied',
      durationMs,
      appliedBy,
      statementsDone: done,
    });
  } else {
    await deleteMigrationRow(conn, file.version);
  }
  log.info({ migration: file.id, direction, durationMs: Math.round(durationMs), statements: done }, 'migration done');
  return { version: file.version, id: file.id, direction, durationMs, statements: done };
}

/** Applies pending migrations in order (up to `to`). Returns what it applied; [] when up to date.
 *  Nothing is written (not even schema_migrations) unless there is something to apply and
 *  `beforeChange` let it go ahead. */
export async function up(conn: Connection, opts: UpOptions = {}): Promise<AppliedStep[]> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const db = await currentDatabase(conn);
  checkTarget(files, opts.to);
  return withSchemaLock(conn, db, opts.lockTimeoutSec ?? 60, async () => {
    const rows = await readMigrationRows(conn);
    throwIfDrift(files, rows);
    throwIfFailed(rows);
    const pending = pendingFiles(files, rows, opts.to);
    if (pending.length === 0) return [];
    await opts.beforeChange?.();
    await ensureMigrationsTable(conn);
    const appliedBy = opts.appliedBy ?? (await defaultAppliedBy(conn));
    const steps: AppliedStep[] = [];
    for (const file of pending) steps.push(await runStatements(conn, file, 'up', appliedBy));
    return steps;
  });
}

/** Reverts the latest migrations (default one step; `to: 0` reverts all). A failed one is reverted too. */
export async function down(conn: Connection, opts: DownOptions = {}): Promise<AppliedStep[]> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const db = await currentDatabase(conn);
  if (opts.steps !== undefined && (!Number.isInteger(opts.steps) || opts.steps < 1)) {
    throw new UsageError(`steps must be a positive integer, got ${opts.steps}`);
  }
  return withSchemaLock(conn, db, opts.lockTimeoutSec ?? 60, async () => {
    const rows = await readMigrationRows(conn);
    throwIfDrift(files, rows);
    const desc = [...rows].sort((a, b) => b.version - a.version);
    const targets =
      opts.to !== undefined ? desc.filter((r) => r.version > opts.to!) : desc.slice(0, opts.steps ?? 1);
    if (targets.length === 0) return [];
    const byVersion = new Map(files.map((f) => [f.version, f]));
    for (const row of targets) {
      if (!byVersion.has(row.version) && !madeNoChange(row)) {
        throw new VerificationError(
          `cannot revert ${rowId(row)}: its files are missing from the migrations directory; restore them`,
          `${rowId(row)}.down.sql`,
        );
      }
    }
    // Only forgetting failed ups that changed nothing is not a schema change: no backup, no guard.
    if (targets.some((r) => !madeNoChange(r))) await opts.beforeChange?.();
    const appliedBy = opts.appliedBy ?? (await defaultAppliedBy(conn));
    const steps: AppliedStep[] = [];
    for (const row of targets) {
      if (madeNoChange(row)) {
        await deleteMigrationRow(conn, row.version);
        log.info({ migration: rowId(row) }, 'failed migration forgotten: it changed nothing, so its down file did not run');
        steps.push({ version: row.version, id: rowId(row), direction: 'down', durationMs: 0, statements: 0, forgotten: true });
        continue;
      }
      steps.push(await runStatements(conn, byVersion.get(row.version)!, 'down', appliedBy));
    }
    return steps;
  });
}

/** After a by-hand repair of a failed migration: mark it applied (with the current files' checksum)
 *  or rolled back (forget it, so `up` runs it again). */
export async function resolve(
  conn: Connection,
  version: number,
  as: 'applied' | 'rolled-back',
  opts: MigrateOptions = {},
): Promise<void> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const db = await currentDatabase(conn);
  await withSchemaLock(conn, db, opts.lockTimeoutSec ?? 60, async () => {
    const rows = await readMigrationRows(conn);
    const row = rows.find((r) => r.version === version);
    if (!row || row.status !== 'failed') {
      throw new UsageError(`migration ${version} is not in a failed state; nothing to resolve (see \`dbops migrate status\`)`);
    }
    await opts.beforeChange?.();
    if (as === 'rolled-back') {
      await deleteMigrationRow(conn, version);
      return;
    }
    const file = files.find((f) => f.version === version);
    if (!file) throw new UsageError(`migration ${version} has no files in the migrations directory; restore them first`);
    await recordMigration(conn, {
      version,
      name: file.name,
      checksum: file.checksum,
      status: 'applied',
      durationMs: row.durationMs,
      appliedBy: opts.appliedBy ?? `${await defaultAppliedBy(conn)} (resolved by hand)`,
      statementsDone: row.statementsDone,
    });
  });
}

/**
 * For a database created before dbops (Flyway's baseline): records migrations 1..`version` as
 * applied without running them. Refused once the database has any migration history beyond failed
 * ups that changed nothing. Returns the ids recorded.
 */
export async function baseline(conn: Connection, version: number, opts: MigrateOptions = {}): Promise<string[]> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const db = await currentDatabase(conn);
  if (!files.some((f) => f.version === version)) throw new UsageError(`no migration with version ${version}; see \`dbops migrate status\``);
  return withSchemaLock(conn, db, opts.lockTimeoutSec ?? 60, async () => {
    const history = (await readMigrationRows(conn)).filter((r) => !madeNoChange(r));
    if (history.length > 0) {
      throw new UsageError(
        `database ${db} already has migration history (${history.map(rowId).join(', ')}); baseline is only for a database created before dbops — see \`dbops migrate status\``,
      );
    }
    await opts.beforeChange?.();
    await ensureMigrationsTable(conn);
    const appliedBy = `${opts.appliedBy ?? (await defaultAppliedBy(conn))} (baseline)`;
    const ids: string[] = [];
    for (const f of files.filter((x) => x.version <= version)) {
      await recordMigration(conn, { version: f.version, name: f.name, checksum: f.checksum, status: 'applied', durationMs: 0, appliedBy, statementsDone: 0 });
      ids.push(f.id);
    }
    return ids;
  });
}
