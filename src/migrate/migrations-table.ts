// The schema_migrations bookkeeping table: one row per applied (or failed) migration, so `status`
// can say what ran, when, by whom, how long it took, and where a failed one stopped.
import type { Connection, RowDataPacket } from 'mysql2/promise';

export const MIGRATIONS_TABLE = 'schema_migrations';

const CREATE_SQL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  version INT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL,
  checksum CHAR(64) NOT NULL COMMENT 'sha256 of up file, NUL, down file',
  status ENUM('applied','failed') NOT NULL,
  failed_direction ENUM('up','down') NULL,
  applied_at DATETIME(3) NOT NULL COMMENT 'UTC',
  duration_ms INT UNSIGNED NOT NULL DEFAULT 0,
  applied_by VARCHAR(255) NOT NULL,
  statements_done INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'statements that succeeded before a failure',
  failed_statement TEXT NULL,
  error TEXT NULL,
  PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

export interface MigrationRow {
  version: number;
  name: string;
  checksum: string;
  status: 'applied' | 'failed';
  failedDirection: 'up' | 'down' | null;
  appliedAt: Date;
  durationMs: number;
  appliedBy: string;
  statementsDone: number;
  failedStatement: string | null;
  error: string | null;
}

export async function ensureMigrationsTable(conn: Connection): Promise<void> {
  await conn.query(CREATE_SQL);
}

export async function migrationsTableExists(conn: Connection): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    [MIGRATIONS_TABLE],
  );
  return rows.length > 0;
}

/** All rows by ascending version; empty when the table does not exist yet. */
export async function readMigrationRows(conn: Connection): Promise<MigrationRow[]> {
  if (!(await migrationsTableExists(conn))) return [];
  const [rows] = await conn.query<RowDataPacket[]>(
    // applied_at as text: independent of the connection's dateStrings/timezone settings.
    `SELECT version, name, checksum, status, failed_direction,
            DATE_FORMAT(applied_at, '%Y-%m-%dT%H:%i:%s.%f') AS applied_at, duration_ms, applied_by,
            statements_done, failed_statement, error
       FROM ${MIGRATIONS_TABLE} ORDER BY version`,
  );
  return rows.map((r) => ({
    version: Number(r.version),
    name: String(r.name),
    checksum: String(r.checksum),
    status: r.status as MigrationRow['status'],
    failedDirection: (r.failed_direction ?? null) as MigrationRow['failedDirection'],
    appliedAt: new Date(`${String(r.applied_at).slice(0, 23)}Z`),
    durationMs: Number(r.duration_ms),
    appliedBy: String(r.applied_by),
    statementsDone: Number(r.statements_done),
    failedStatement: (r.failed_statement ?? null) as string | null,
    error: (r.error ?? null) as string | null,
  }));
}

export interface RecordInput {
  version: number;
  name: string;
  checksum: string;
  status: 'applied' | 'failed';
  failedDirection?: 'up' | 'down';
  durationMs: number;
  appliedBy: string;
  statementsDone: number;
  failedStatement?: string;
  error?: string;
}

/** Inserts or replaces the row for one version. */
export async function recordMigration(conn: Connection, r: RecordInput): Promise<void> {
  await conn.query(
    `REPLACE INTO ${MIGRATIONS_TABLE}
       (version, name, checksum, status, failed_direction, applied_at, duration_ms, applied_by,
        statements_done, failed_statement, error)
     VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(3), ?, ?, ?, ?, ?)`,
    [
      r.version,
      r.name,
      r.checksum,
      r.status,
      r.failedDirection ?? null,
      Math.min(Math.round(r.durationMs), 4_294_967_295),
      r.appliedBy.slice(0, 255),
      r.statementsDone,
      r.failedStatement ?? null,
      r.error ?? null,
    ],
  );
}

export async function deleteMigrationRow(conn: Connection, version: number): Promise<void> {
  await conn.query(`DELETE FROM ${MIGRATIONS_TABLE} WHERE version = ?`, [version]);
}
