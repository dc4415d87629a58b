// Which server and database the schema commands (migrate, seed, partitions) and the daemon's
// partitions job work on: the admin account (admin.*, else the source's; config/connections.ts)
// for the server, and --database, else the database in that account's URL, else `horizn`. One
// place so they can never disagree about their target.
import type { Connection } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { connect, type MysqlClient } from '../mysql/client.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { adminConnection } from '../config/connections.js';

export const DEFAULT_DATABASE = 'horizn';

export interface DatabaseTarget {
  /** Server connection without a default database (what runBackup and the tools need). */
  server: MysqlConn;
  database: string;
}

export function resolveTarget(config: Config, databaseFlag: string | undefined): DatabaseTarget {
  const parsed = adminConnection(config);
  const database = databaseFlag ?? parsed.database ?? DEFAULT_DATABASE;
  if (!/^[A-Za-z0-9_$]{1,64}$/.test(database)) {
    throw new UsageError(`database name "${database}" is not supported: use letters, digits, _ or $ (at most 64)`);
  }
  const { database: _drop, ...server } = parsed;
  return { server, database };
}

export interface OpenDatabase {
  client: MysqlClient;
  conn: Connection;
  close(): Promise<void>;
}

/** Whether the target database exists (asked over a connection without a default database). */
export async function databaseExists(target: DatabaseTarget): Promise<boolean> {
  const admin = await connect(target.server);
  try {
    const rows = await admin.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [target.database]);
    return Number(rows[0]?.n ?? 0) > 0;
  } finally {
    await admin.close();
  }
}

/** Connects to the target database; with `create`, creates it first when it does not exist. */
export async function openDatabase(target: DatabaseTarget, opts: { create?: boolean } = {}): Promise<OpenDatabase> {
  if (opts.create) {
    const admin = await connect(target.server);
    try {
      const rows = await admin.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [target.database]);
      if (Number(rows[0]?.n ?? 0) === 0) {
        await admin.exec(`CREATE DATABASE \`${target.database}\` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      }
    } finally {
      await admin.close();
    }
  }
  let client: MysqlClient;
  try {
    client = await connect(target.server, { database: target.database });
  } catch (err) {
    if (/Unknown database/i.test((err as Error).message)) {
      throw new UsageError(`database ${target.database} does not exist on the server; run \`dbops migrate up --database ${target.database}\` first`);
    }
    throw err;
  }
  return { client, conn: client.raw, close: () => client.close() };
}
