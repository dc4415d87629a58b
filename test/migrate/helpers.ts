// Shared by the migrate and seed tests: a mysql2 connection to a fresh database on the shared
// MariaDB, configured exactly as the CLI's client, and a schema snapshot to compare.
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { connect, type MysqlClient } from '../../src/mysql/client.js';
import { defaultMigrationsDir } from '../../src/migrate/index.js';
import { freshDatabase, mariadb } from '../helpers/mariadb.js';

export interface TestDb {
  name: string;
  conn: Connection;
  clients: MysqlClient[];
  /** Another connection to the same database (e.g. for concurrency tests). */
  another(): Promise<Connection>;
  close(): Promise<void>;
}

export async function openFreshDb(name: string): Promise<TestDb> {
  const db = await freshDatabase(name);
  const clients: MysqlClient[] = [];
  const another = async (): Promise<Connection> => {
    const c = await connect(mariadb().conn, { database: db.name });
    clients.push(c);
    return c.raw;
  };
  const conn = await another();
  return {
    name: db.name,
    conn,
    clients,
    another,
    close: async () => {
      for (const c of clients) await c.close();
    },
  };
}

/** SHOW CREATE TABLE of every table, by name. */
export async function schemaSnapshot(conn: Connection): Promise<Record<string, string>> {
  const [tables] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [rows] = await conn.query<RowDataPacket[]>(`SHOW CREATE TABLE \`${String(t)}\``);
    out[String(t)] = String(rows[0]?.['Create Table']);
  }
  return out;
}

/** A private copy of db/migrations that a test may edit. */
export async function copyMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-migrations-'));
  await cp(defaultMigrationsDir(), dir, { recursive: true });
  return dir;
}
