// Version/flavour rules checked on recorded server outputs (MySQL 8.0/8.4,
// MariaDB 10.6/10.11/11.4) without needing those servers.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flavorProfile } from '../../src/mysql/flavor.js';
import { parseServerInfo, parseVersion, type ServerInfo, type VariableRow } from '../../src/mysql/server-info.js';
import { parseBinaryLogs, parseBinlogStatus, parseDumpCoordinates } from '../../src/mysql/binlog-status.js';
import { OperationError } from '../../src/errors.js';

interface Fixture {
  server: string;
  variables: VariableRow[];
  binlogStatus: { statement: string; rows: Record<string, unknown>[] };
  gtidPosition?: string;
  binaryLogs: Record<string, unknown>[];
  dumpHeader: string;
  expected: {
    info: Partial<ServerInfo>;
    profile: Record<string, unknown>;
    binlogStatus: unknown;
    binaryLogs: unknown;
    dumpCoordinates: unknown;
  };
}

const dir = join(import.meta.dirname, '../fixtures/recorded');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture] as const);

describe('recorded server outputs', () => {
  it('covers MySQL 8.0 and 8.4 and MariaDB 10.6, 10.11 and 11.4', () => {
    expect(fixtures.map(([f]) => f).sort()).toEqual([
      'mariadb-10.11.19.json',
      'mariadb-10.6.16.json',
      'mariadb-11.4.4.json',
      'mysql-8.0.36-gtid.json',
      'mysql-8.4.3.json',
    ]);
  });

  describe.each(fixtures)('%s', (_name, fx) => {
    const info = parseServerInfo(fx.variables);
    const profile = flavorProfile(info);

    it('parses server info', () => {
      expect(info).toMatchObject(fx.expected.info);
    });

    it('picks statements, dump flags and tools', () => {
      expect(profile).toMatchObject(fx.expected.profile);
      // The recorded status row came from the statement the profile picks.
      expect(profile.binlogStatusSql).toBe(fx.binlogStatus.statement);
    });

    it('parses the binlog status row', () => {
      expect(parseBinlogStatus(fx.binlogStatus.rows[0], fx.gtidPosition)).toEqual(fx.expected.binlogStatus);
    });

    it('parses SHOW BINARY LOGS', () => {
      expect(parseBinaryLogs(fx.binaryLogs)).toEqual(fx.expected.binaryLogs);
    });

    it('reads the consistent point from the dump header', () => {
      expect(parseDumpCoordinates(fx.dumpHeader)).toEqual(fx.expected.dumpCoordinates);
    });
  });
});

function mysqlInfo(version: string, gtid: boolean, logBin = true): ServerInfo {
  return parseServerInfo({ version, version_comment: 'MySQL Community Server - GPL', server_uuid: 'u', gtid_mode: gtid ? 'ON' : 'OFF', log_bin: logBin ? 'ON' : 'OFF' });
}

function mariaInfo(version: string, logBin = true): ServerInfo {
  return parseServerInfo({ version: `${version}-MariaDB`, server_id: '1', log_bin: logBin ? 'ON' : 'OFF' });
}

describe('version rules', () => {
  it('asks a source without binary logging for no coordinates (the dump would fail: error 1381)', () => {
    expect(flavorProfile(mariaInfo('10.11.19', false)).dumpCoordinateFlags).toEqual([]);
    expect(flavorProfile(mysqlInfo('8.4.3', false, false)).dumpCoordinateFlags).toEqual(['--set-gtid-purged=OFF']);
  });
  it('uses --master-data before MySQL 8.0.26 and --source-data from it', () => {
    expect(flavorProfile(mysqlInfo('8.0.25', false)).dumpCoordinateFlags).toEqual(['--master-data=2', '--set-gtid-purged=OFF']);
    expect(flavorProfile(mysqlInfo('8.0.26', false)).dumpCoordinateFlags).toEqual(['--source-data=2', '--set-gtid-purged=OFF']);
    expect(flavorProfile(mysqlInfo('5.7.44', true)).dumpCoordinateFlags).toEqual(['--master-data=2', '--set-gtid-purged=OFF']);
  });

  it('comments the GTID set only from MySQL 8.0.32 and only with gtid_mode=ON', () => {
    expect(flavorProfile(mysqlInfo('8.0.31', true)).dumpCoordinateFlags).toContain('--set-gtid-purged=OFF');
    expect(flavorProfile(mysqlInfo('8.0.32', true)).dumpCoordinateFlags).toContain('--set-gtid-purged=COMMENTED');
    expect(flavorProfile(mysqlInfo('9.1.0', true)).dumpCoordinateFlags).toContain('--set-gtid-purged=COMMENTED');
    expect(flavorProfile(mysqlInfo('9.1.0', false)).dumpCoordinateFlags).toContain('--set-gtid-purged=OFF');
  });

  it('switches to SHOW BINARY LOG STATUS at MySQL 8.2.0', () => {
    expect(flavorProfile(mysqlInfo('8.1.0', false)).binlogStatusSql).toBe('SHOW MASTER STATUS');
    expect(flavorProfile(mysqlInfo('8.2.0', false)).binlogStatusSql).toBe('SHOW BINARY LOG STATUS');
  });

  it('switches to SHOW BINLOG STATUS at MariaDB 10.5.2', () => {
    expect(flavorProfile(mariaInfo('10.4.32')).binlogStatusSql).toBe('SHOW MASTER STATUS');
    expect(flavorProfile(mariaInfo('10.5.1')).binlogStatusSql).toBe('SHOW MASTER STATUS');
    expect(flavorProfile(mariaInfo('10.5.2')).binlogStatusSql).toBe('SHOW BINLOG STATUS');
  });

  it('reads MariaDB handshake versions and Percona as mysql', () => {
    expect(parseVersion('5.5.5-10.11.19-MariaDB-0+deb12u1-log')).toEqual({ version: '10.11.19', major: 10, minor: 11, patch: 19 });
    expect(parseVersion('8.0.36-28')).toMatchObject({ version: '8.0.36' });
    expect(parseServerInfo({ version: '8.0.36-28', version_comment: 'Percona Server (GPL), Release 28', server_uuid: 'x' }).flavor).toBe('mysql');
    expect(() => parseVersion('banana')).toThrow(OperationError);
  });

  it('reads the commit durability settings, unknown where the server does not say', () => {
    expect(parseServerInfo({ version: '8.0.36', server_uuid: 'x', sync_binlog: '1', innodb_flush_log_at_trx_commit: '1' })).toMatchObject({ syncBinlog: 1, innodbFlushLogAtTrxCommit: 1 });
    expect(parseServerInfo({ version: '10.11.19-MariaDB', sync_binlog: '0', innodb_flush_log_at_trx_commit: '2' })).toMatchObject({ syncBinlog: 0, innodbFlushLogAtTrxCommit: 2 });
    const unknown = parseServerInfo({ version: '10.11.19-MariaDB' });
    expect(unknown.syncBinlog).toBeUndefined();
    expect(unknown.innodbFlushLogAtTrxCommit).toBeUndefined();
  });

  it('uses expire_logs_days where binlog_expire_logs_seconds is absent or zero', () => {
    expect(parseServerInfo({ version: '10.5.9-MariaDB', expire_logs_days: '7' }).binlogExpirySeconds).toBe(604800);
    expect(parseServerInfo({ version: '8.0.20', server_uuid: 'x', binlog_expire_logs_seconds: '0', expire_logs_days: '3' }).binlogExpirySeconds).toBe(259200);
  });

  it('derives a MariaDB source id that changes with server_id and datadir but not hostname', () => {
    const base = { version: '10.11.19-MariaDB', server_id: '1', port: '3306', datadir: '/var/lib/mysql/', log_bin_basename: '/var/lib/mysql/bin', hostname: 'a' };
    const id = parseServerInfo(base).serverUuid;
    expect(id).toMatch(/^mariadb-1-[0-9a-f]{12}$/);
    expect(parseServerInfo({ ...base, hostname: 'b' }).serverUuid).toBe(id);
    expect(parseServerInfo({ ...base, server_id: '2' }).serverUuid).not.toBe(id);
    expect(parseServerInfo({ ...base, datadir: '/data/' }).serverUuid).not.toBe(id);
  });

  it('refuses a MySQL without server_uuid and a status row without a file', () => {
    expect(() => parseServerInfo({ version: '5.5.62' })).toThrow(/server_uuid/);
    expect(() => parseBinlogStatus(undefined)).toThrow(/binary logging is disabled/);
  });

  it('reads an uncommented GTID_PURGED and the pre-8.0.23 CHANGE MASTER form', () => {
    const header =
      "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'aaaaaaaa-0000-0000-0000-000000000001:1-9,\nbbbbbbbb-0000-0000-0000-000000000002:1-2';\n" +
      "-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000233', MASTER_LOG_POS=314582450;\n";
    expect(parseDumpCoordinates(header)).toEqual({
      file: 'mysql-bin.000233',
      position: 314582450,
      gtidSet: 'aaaaaaaa-0000-0000-0000-000000000001:1-9,bbbbbbbb-0000-0000-0000-000000000002:1-2',
    });
    expect(parseDumpCoordinates('-- no coordinates here')).toBeUndefined();
  });
});
