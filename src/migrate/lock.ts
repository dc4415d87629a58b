// One migration run per database at a time, across processes and hosts: a named server lock
// (GET_LOCK) held by the connection that runs the DDL, released when the run ends or the
// connection dies.
import { createHash } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { OperationError } from '../errors.js';

/** MySQL rejects lock names longer than 64 characters; long database names are hashed. */
export function migrationLockName(database: string): string {
  const name = `dbops_migrate_${database}`;
  if (name.length <= 64) return name;
  return `dbops_migrate_${createHash('sha256').update(database).digest('hex').slice(0, 48)}`;
}

export async function withMigrationLock<T>(
  conn: Connection,
  database: string,
  timeoutSec: number,
  fn: () => Promise<T>,
): Promise<T> {
  const name = migrationLockName(database);
  const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [name, timeoutSec]);
  const got = rows[0]?.got;
  if (got !== 1 && got !== '1') {
    let holder = '';
    try {
      const [h] = await conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [name]);
      if (h[0]?.holder != null) holder = ` (held by connection ${String(h[0].holder)})`;
    } catch {
      // best effort only
    }
    throw new OperationError(
      `another migration of database ${database} is running${holder}; waited ${timeoutSec} s for lock ${name} — let it finish, then retry`,
    );
  }
  try {
    return await fn();
  } finally {
    await conn.query('SELECT RELEASE_LOCK(?)', [name]).catch(() => undefined);
  }
}
