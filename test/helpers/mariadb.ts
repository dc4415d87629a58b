// Access to the one MariaDB (binlog on) that test/global-setup.ts starts for
// the whole run, plus a helper that hands each test file an empty database.
import { inject } from 'vitest';
import { parseConnectionUrl, formatConnectionUrl, type MysqlConn } from '../../src/mysql/connection-url.js';
import { withConnection } from '../../src/mysql/client.js';

export interface ProvidedMariadb {
  /** mysql://root:<pw>@127.0.0.1:<port> */
  url: string;
  port: number;
  socket: string;
  version: string;
  binlogDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    mariadb: ProvidedMariadb;
  }
}

/** The shared server (root credentials). */
export function mariadb(): ProvidedMariadb & { conn: MysqlConn } {
  const m = inject('mariadb');
  return { ...m, conn: parseConnectionUrl(m.url) };
}

/** Drops and re-creates `name` (letters, digits, _ only) on the shared server; returns it with a URL pointing at it. */
export async function freshDatabase(name: string): Promise<{ name: string; url: string; conn: MysqlConn }> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`freshDatabase: invalid name ${JSON.stringify(name)}`);
  const { conn } = mariadb();
  await withConnection(conn, async (db) => {
    await db.exec(`DROP DATABASE IF EXISTS \`${name}\``);
    await db.exec(`CREATE DATABASE \`${name}\``);
  });
  const dbConn = { ...conn, database: name };
  return { name, url: formatConnectionUrl(dbConn), conn: dbConn };
}
