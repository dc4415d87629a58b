// One schema change per database at a time, across processes and hosts: migrations, the seed and
// partition maintenance all take this named server lock (GET_LOCK), held by the connection that
// runs the DDL and released when the work ends or the connection dies. Two partition maintenance
// runs planned from the same partition list would otherwise both try to drop the same partition
// ("Wrong partition name"), and a seed would load into tables a migration is rebuilding.
import { createHash } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { OperationError } from '../errors.js';

/** MySQL rejects lock names longer than 64 characters; long database names are hashed.
 *  The name predates the seed and partition maintenance taking it too, and stays so that a
 *  running older dbops and this one still exclude each other. */
export function migrationLockName(database: string): string {
  const name = `dbops_migrate_${database}`;
  if (name.length <= 64) return name;
  return `dbops_migrate_${createHash('sha256').update(database).digest('hex').slice(0, 48)}`;
}

export async function withSchemaLock<T>(
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
      `another migration, seed or partition maintenance of database ${database} is running${holder}; waited ${timeoutSec} s for lock ${name} — let it finish, then retry`,
    );
  }
  try {
    return await fn();
  } finally {
    await conn.query('SELECT RELEASE_LOCK(?)', [name]).catch(() => undefined);
  }
}
