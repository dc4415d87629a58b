// Server detection, binlog coordinates and client helpers against the shared MariaDB.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MysqlClient, MysqlQueryError, withConnection } from '../../src/mysql/client.js';
import { flavorProfile, resolveTools } from '../../src/mysql/flavor.js';
import { readServerInfo } from '../../src/mysql/server-info.js';
import { listBinaryLogs, readBinlogStatus } from '../../src/mysql/binlog-status.js';
import { inspectServer } from '../../src/mysql/inspect-server.js';
import { OperationError } from '../../src/errors.js';
import { freshDatabase, mariadb } from '../helpers/mariadb.js';

describe('server info on the live MariaDB', () => {
  beforeAll(async () => {
    await freshDatabase('live_server_t');
  });

  it('detects flavor, version and binlog settings', async () => {
    const m = mariadb();
    const info = await withConnection(m.conn, readServerInfo);
    expect(info.flavor).toBe('mariadb');
    expect(m.version.startsWith(info.version)).toBe(true);
    expect(info.major).toBeGreaterThanOrEqual(10);
    expect(info.logBin).toBe(true);
    expect(info.binlogFormat).toBe('ROW');
    expect(info.binlogRowImage).toBe('FULL');
    expect(info.serverId).toBe(1);
    expect(info.serverUuid).toMatch(/^mariadb-1-[0-9a-f]{12}$/);
    // Stable across connections.
    expect((await withConnection(m.conn, readServerInfo)).serverUuid).toBe(info.serverUuid);
    const profile = flavorProfile(info);
    expect(profile.binlogStatusSql).toBe('SHOW BINLOG STATUS');
    const tools = resolveTools(profile);
    expect(tools.dump).toMatch(/mariadb-dump$/);
    expect(tools.binlog).toMatch(/mariadb-binlog$/);
  });

  it('reads binlog coordinates that advance with writes and match SHOW BINARY LOGS', async () => {
    const m = mariadb();
    await withConnection(m.conn, async (db) => {
      const profile = flavorProfile(await readServerInfo(db));
      await db.exec('CREATE TABLE live_server_t.t (id INT PRIMARY KEY)');
      const before = await readBinlogStatus(db, profile);
      expect(before.file).toMatch(/^binlog\.\d{6}$/);
      expect(before.gtidSet).toMatch(/^0-1-\d+$/);
      await db.exec('INSERT INTO live_server_t.t VALUES (1)');
      const after = await readBinlogStatus(db, profile);
      expect(after.file).toBe(before.file);
      expect(after.position).toBeGreaterThan(before.position);
      expect(after.gtidSet).not.toBe(before.gtidSet);
      const logs = await listBinaryLogs(db, profile);
      const last = logs.at(-1)!;
      expect(last.file).toBe(after.file);
      expect(last.size).toBe(after.position);
      expect(existsSync(join(m.binlogDir, after.file))).toBe(true);
    });
  });

  it('inspects info, profile and binlog position in one call', async () => {
    const r = await withConnection(mariadb().conn, inspectServer);
    expect(r.info.flavor).toBe('mariadb');
    expect(r.profile.dumpCoordinateFlags).toEqual(['--master-data=2', '--gtid']);
    expect(r.binlog?.file).toMatch(/^binlog\.\d{6}$/);
  });

  it('lists user databases and non-transactional tables', async () => {
    await withConnection(mariadb().conn, async (db) => {
      await db.exec('CREATE TABLE live_server_t.inno (id INT PRIMARY KEY) ENGINE=InnoDB');
      await db.exec('CREATE TABLE live_server_t.my (id INT PRIMARY KEY) ENGINE=MyISAM');
      await db.exec('CREATE TABLE live_server_t.ar (id INT PRIMARY KEY) ENGINE=Aria');
      await db.exec('CREATE VIEW live_server_t.v AS SELECT 1 AS one');
      const dbs = await db.listUserDatabases();
      expect(dbs).toContain('live_server_t');
      for (const sys of ['mysql', 'information_schema', 'performance_schema', 'sys']) expect(dbs).not.toContain(sys);
      const nontx = await db.nonTransactionalTables(['live_server_t']);
      expect(nontx).toEqual([
        { database: 'live_server_t', table: 'ar', engine: 'Aria' },
        { database: 'live_server_t', table: 'my', engine: 'MyISAM' },
      ]);
      expect(await db.nonTransactionalTables([])).toEqual([]);
    });
  });

  it('keeps numbers exact and dates as strings', async () => {
    await withConnection(mariadb().conn, async (db) => {
      const [row] = await db.query<{ big: number | string; d: unknown }>(
        "SELECT CAST(18446744073709551615 AS UNSIGNED) AS big, CAST('2026-11-27 14:03:00' AS DATETIME) AS d",
      );
      expect(row!.big).toBe('18446744073709551615');
      expect(row!.d).toBe('2026-11-27 14:03:00');
    });
  });

  it('rejects multiple statements by default and withholds messages of sensitive statements', async () => {
    await withConnection(mariadb().conn, async (db) => {
      await expect(db.query('SELECT 1; SELECT 2')).rejects.toBeInstanceOf(MysqlQueryError);
      const err = await db.exec("CREATE USER 'x'@'%' IDENTIFIED BY ? garbage", ['hunter2'], { sensitive: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MysqlQueryError);
      expect((err as Error).message).not.toContain('hunter2');
      expect((err as MysqlQueryError).code).toBe('ER_PARSE_ERROR');
      expect(Object.values(err as object).join(' ')).not.toContain('hunter2');
    });
  });

  it('closes the connection even when fn throws', async () => {
    let client: MysqlClient | undefined;
    await expect(
      withConnection(mariadb().conn, async (db) => {
        client = db;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(client!.query('SELECT 1')).rejects.toThrow();
  });

  it('names host and user but not the password when it cannot connect', async () => {
    const conn = { ...mariadb().conn, password: 'wrong-pw-xyz' };
    const err = await MysqlClient.connect(conn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toContain(`127.0.0.1:${conn.port} as root`);
    expect((err as Error).message).not.toContain('wrong-pw-xyz');
  });
});
