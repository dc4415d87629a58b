// A recovery --into-schema creates the new database itself (the backup's CREATE DATABASE
// names the old one), with the server's utf8mb4. The binlog's DDL relies on the database's
// default character set (its events say collation_database=DEFAULT): a CREATE TABLE
// replayed into a utf8mb4 database builds utf8mb4 columns, and the next row events, written
// for the source's latin1 columns, fail ("cannot be converted", MariaDB error 1677). So a
// database this recovery created gets the source database's defaults, read from the
// backup's database part, before anything is replayed into it.
import type { Repository } from '../repo/repository.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { withConnection } from '../mysql/client.js';
import { openPartSource } from '../pipeline/part-download.js';
import { quoteIdent } from '../verify/quote-ident.js';

const DEFAULTS = /DEFAULT CHARACTER SET (\w+)(?: COLLATE (\w+))?/i;

/** Whether `name` exists on the target now (asked before the restore creates it). */
export async function databaseExists(conn: MysqlConn, name: string): Promise<boolean> {
  return withConnection(conn, async (db) => (await db.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name])).length > 0);
}

/** ALTER DATABASE `into` to the character set and collation `from` had on the source (when the backup says). */
export async function matchSourceDefaults(o: { repo: Repository; manifest: BackupManifest; identityFile: string; conn: MysqlConn; from: string; into: string }): Promise<void> {
  const part = o.manifest.parts.find((p) => p.kind === 'database' && p.database === o.from);
  if (!part) return;
  const source = await openPartSource(o.repo.storage, part, o.identityFile);
  const chunks: Buffer[] = [];
  for await (const c of source.raw) chunks.push(c as Buffer);
  await source.done;
  const m = DEFAULTS.exec(Buffer.concat(chunks).toString('utf8'));
  if (!m) return;
  await withConnection(o.conn, (db) => db.exec(`ALTER DATABASE ${quoteIdent(o.into)} CHARACTER SET ${m[1]}${m[2] ? ` COLLATE ${m[2]}` : ''}`));
}
