// Applies and reverts migrations one statement at a time under a per-database lock, records every
// outcome in schema_migrations, and refuses to run over drift (an applied file that changed) or over
// a migration that failed half-way until someone has decided how to recover.
import { hostname, userInfo } from 'node:os';
import { basename } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { OperationError, UsageError, VerificationError } from '../errors.js';
import { log } from '../util/logger.js';
import { withMigrationLock } from './lock.js';
import { defaultMigrationsDir, loadMigrations, type MigrationFile } from './migration-files.js';
import {
  deleteMigrationRow,
  ensureMigrationsTable,
  readMigrationRows,
  recordMigration,
  type MigrationRow,
} from './migrations-table.js';
import { splitSqlStatements } from './split-sql.js';

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

export type MigrationState = 'applied' | 'pending' | 'failed' | 'changed' | 'missing';

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

function failedHint(row: MigrationRow): string {
  const id = rowId(row);
  if (row.failedDirection === 'down') {
    return `down of ${id} stopped after ${row.statementsDone} statement(s); fix the cause and run \`dbops migrate down\` again, or repair by hand and run \`dbops migrate resolve ${row.version} --applied\``;
  }
  return `up of ${id} stopped after ${row.statementsDone} statement(s); fix the file, then either run \`dbops migrate down\` (down files use IF EXISTS and undo the partial change) and \`migrate up\` again, or finish it by hand and run \`dbops migrate resolve ${row.version} --applied\``;
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
  const failed = rows.find((r) => r.status === 'failed');
  if (failed) {
    throw new OperationError(
      `migration ${rowId(failed)} failed${failed.error ? ` (${truncate(failed.error, 200)})` : ''}: ${failedHint(failed)}`,
    );
  }
}

/** Checks every applied migration against its files; throws VerificationError naming the changed or missing file. */
export async function verify(conn: Connection, opts: { dir?: string } = {}): Promise<void> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  throwIfDrift(files, await readMigrationRows(conn));
}

/** Every known migration (files and rows), ascending, with its state. Read-only, takes no lock. */
export async function status(conn: Connection, opts: { dir?: string } = {}): Promise<MigrationStatus[]> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const rows = await readMigrationRows(conn);
  const rowByVersion = new Map(rows.map((r) => [r.version, r]));
  const fileByVersion = new Map(files.map((f) => [f.version, f]));
  const versions = [...new Set([...files.map((f) => f.version), ...rows.map((r) => r.version)])].sort((a, b) => a - b);
  return versions.map((version): MigrationStatus => {
    const file = fileByVersion.get(version);
    const row = rowByVersion.get(version);
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
      const failedRow = { version: file.version, name: file.name, statementsDone: done, failedDirection: direction } as MigrationRow;
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

/** Applies pending migrations in order (up to `to`). Returns what it applied; [] when up to date. */
export async function up(conn: Connection, opts: UpOptions = {}): Promise<AppliedStep[]> {
  const files = await loadMigrations(opts.dir ?? defaultMigrationsDir());
  const db = await currentDatabase(conn);
  if (opts.to !== undefined && opts.to !== 0 && !files.some((f) => f.version === opts.to)) {
    throw new UsageError(`no migration with version ${opts.to}; see \`dbops migrate status\``);
  }
  return withMigrationLock(conn, db, opts.lockTimeoutSec ?? 60, async () => {
    await ensureMigrationsTable(conn);
    const rows = await readMigrationRows(conn);
    throwIfDrift(files, rows);
    throwIfFailed(rows);
    const applied = new Set(rows.map((r) => r.version));
    const latest = rows.reduce((m, r) => Math.max(m, r.version), 0);
    const pending = files.filter((f) => !applied.has(f.version) && (opts.to === undefined || f.version <= opts.to));
    const stale = pending.find((f) => f.version < latest);
    if (stale) {
      throw new UsageError(
        `migration ${stale.id} is older than the latest applied version ${latest}; renumber it above ${latest}`,
      );
    }
    if (pending.length === 0) return [];
    await opts.beforeChange?.();
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
  return withMigrationLock(conn, db, opts.lockTimeoutSec ?? 60, async () => {
    await ensureMigrationsTable(conn);
    const rows = await readMigrationRows(conn);
    throwIfDrift(files, rows);
    const desc = [...rows].sort((a, b) => b.version - a.version);
    const targets =
      opts.to !== undefined ? desc.filter((r) => r.version > opts.to!) : desc.slice(0, opts.steps ?? 1);
    if (targets.length === 0) return [];
    const byVersion = new Map(files.map((f) => [f.version, f]));
    for (const row of targets) {
      if (!byVersion.has(row.version)) {
        throw new VerificationError(
          `cannot revert ${rowId(row)}: its files are missing from the migrations directory; restore them`,
          `${rowId(row)}.down.sql`,
        );
      }
    }
    await opts.beforeChange?.();
    const appliedBy = opts.appliedBy ?? (await defaultAppliedBy(conn));
    const steps: AppliedStep[] = [];
    for (const row of targets) steps.push(await runStatements(conn, byVersion.get(row.version)!, 'down', appliedBy));
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
  await withMigrationLock(conn, db, opts.lockTimeoutSec ?? 60, async () => {
    await ensureMigrationsTable(conn);
    const rows = await readMigrationRows(conn);
    const row = rows.find((r) => r.version === version);
    if (!row || row.status !== 'failed') {
      throw new UsageError(`migration ${version} is not in a failed state; nothing to resolve (see \`dbops migrate status\`)`);
    }
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
