// What the source server is and how its binary log is set up, read with one
// statement that works on every flavour: SHOW GLOBAL VARIABLES only returns
// the variables that exist, so MySQL-only and MariaDB-only names can be asked
// for together. Parsing is pure so it is tested on recorded outputs.
import { createHash } from 'node:crypto';
import { OperationError } from '../errors.js';

export type Flavor = 'mysql' | 'mariadb';

export interface ServerInfo {
  flavor: Flavor;
  /** Numeric version, e.g. '10.11.19' (suffixes like -MariaDB-log stripped). */
  version: string;
  /** @@version as the server reports it. */
  versionString: string;
  versionComment: string;
  major: number;
  minor: number;
  patch: number;
  /**
   * Stable identity of the binlog stream's source. MySQL: @@server_uuid.
   * MariaDB has no server_uuid: `mariadb-<server_id>-<12 hex of sha256(port|datadir|log_bin_basename)>`.
   * Hostname is deliberately left out: containers get a new one on every
   * re-create, which would split one server's binlog chain in two.
   */
  serverUuid: string;
  serverId: number;
  gtidMode: boolean;
  logBin: boolean;
  binlogFormat: string;
  binlogRowImage: string;
  /** 0 = never expires. */
  binlogExpirySeconds: number;
  /** @@sync_binlog and @@innodb_flush_log_at_trx_commit; undefined where the server did not say. */
  syncBinlog?: number;
  innodbFlushLogAtTrxCommit?: number;
  hostname?: string;
  datadir?: string;
  /** MariaDB: @@gtid_binlog_pos; MySQL: @@gtid_executed (whitespace removed). */
  gtidExecuted?: string;
}

/** Variables requested by readServerInfo; absent ones are simply not returned. */
export const SERVER_INFO_VARIABLES = [
  'version',
  'version_comment',
  'server_uuid',
  'server_id',
  'port',
  'hostname',
  'datadir',
  'log_bin',
  'log_bin_basename',
  'binlog_format',
  'binlog_row_image',
  'binlog_expire_logs_seconds',
  'expire_logs_days',
  'gtid_mode',
  'gtid_executed',
  'gtid_strict_mode',
  'gtid_binlog_pos',
  'gtid_domain_id',
  'sync_binlog',
  'innodb_flush_log_at_trx_commit',
] as const;

export const SERVER_INFO_SQL = `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${SERVER_INFO_VARIABLES.map((v) => `'${v}'`).join(', ')})`;

/** A row of SHOW VARIABLES as mysql2 returns it. */
export interface VariableRow {
  Variable_name: string;
  Value: string | null;
}

const on = (v: string | undefined): boolean => /^(on|1|true|yes)$/i.test((v ?? '').trim());

/** Splits '8.0.36-0ubuntu0.22.04.1' or '5.5.5-10.11.19-MariaDB-log' into numbers. */
export function parseVersion(versionString: string): { version: string; major: number; minor: number; patch: number } {
  // MariaDB's handshake prefixes '5.5.5-' for old clients; @@version does not, but accept both.
  const s = versionString.replace(/^5\.5\.5-(?=\d+\.\d+\.\d+-MariaDB)/i, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(s);
  if (!m) throw new OperationError(`cannot parse server version "${versionString}": is this a MySQL or MariaDB server?`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { version: `${major}.${minor}.${patch}`, major, minor, patch };
}

export function detectFlavor(versionString: string, versionComment = ''): Flavor {
  return /mariadb/i.test(versionString) || /mariadb/i.test(versionComment) ? 'mariadb' : 'mysql';
}

/** The stable source id for MariaDB (see ServerInfo.serverUuid). */
export function mariadbSourceId(serverId: number, port: string, datadir: string, logBinBasename: string): string {
  const h = createHash('sha256').update(`${port}|${datadir}|${logBinBasename}`).digest('hex').slice(0, 12);
  return `mariadb-${serverId}-${h}`;
}

/** Builds ServerInfo from SHOW GLOBAL VARIABLES rows (or a plain name→value map). */
export function parseServerInfo(rows: VariableRow[] | Record<string, string>): ServerInfo {
  const vars = new Map<string, string>();
  if (Array.isArray(rows)) for (const r of rows) vars.set(r.Variable_name.toLowerCase(), r.Value ?? '');
  else for (const [k, v] of Object.entries(rows)) vars.set(k.toLowerCase(), v);

  const versionString = vars.get('version');
  if (!versionString) throw new OperationError('server did not report @@version: check the account can run SHOW GLOBAL VARIABLES');
  const versionComment = vars.get('version_comment') ?? '';
  const flavor = detectFlavor(versionString, versionComment);
  const v = parseVersion(versionString);
  const serverId = Number(vars.get('server_id') ?? 0);

  let gtidMode: boolean;
  let gtidExecuted: string | undefined;
  let binlogExpirySeconds: number;
  let serverUuid: string;
  const expirySeconds = vars.get('binlog_expire_logs_seconds');
  const expireDays = Number(vars.get('expire_logs_days') ?? 0);

  if (flavor === 'mysql') {
    // gtid_mode: OFF | OFF_PERMISSIVE | ON_PERMISSIVE | ON. Only ON guarantees every transaction has a GTID.
    gtidMode = (vars.get('gtid_mode') ?? 'OFF').toUpperCase() === 'ON';
    gtidExecuted = vars.get('gtid_executed')?.replace(/\s+/g, '') || undefined;
    binlogExpirySeconds = expirySeconds !== undefined ? Number(expirySeconds) : Math.round(expireDays * 86400);
    // 8.0: if binlog_expire_logs_seconds is 0 and expire_logs_days set, days win.
    if (binlogExpirySeconds === 0 && expireDays > 0) binlogExpirySeconds = Math.round(expireDays * 86400);
    serverUuid = vars.get('server_uuid') ?? '';
    if (!serverUuid) throw new OperationError('MySQL server did not report @@server_uuid: it needs MySQL 5.6 or newer');
  } else {
    // MariaDB writes GTIDs for every transaction; the mode counts as on once any exist or strict mode is set.
    gtidExecuted = vars.get('gtid_binlog_pos')?.trim() || undefined;
    gtidMode = on(vars.get('gtid_strict_mode')) || gtidExecuted !== undefined;
    // 10.6+: binlog_expire_logs_seconds and expire_logs_days are two views of one setting.
    binlogExpirySeconds = expirySeconds !== undefined && Number(expirySeconds) > 0
      ? Number(expirySeconds)
      : Math.round(expireDays * 86400);
    serverUuid = mariadbSourceId(serverId, vars.get('port') ?? '', vars.get('datadir') ?? '', vars.get('log_bin_basename') ?? '');
  }

  const info: ServerInfo = {
    flavor,
    ...v,
    versionString,
    versionComment,
    serverUuid,
    serverId,
    gtidMode,
    logBin: on(vars.get('log_bin')),
    binlogFormat: (vars.get('binlog_format') ?? '').toUpperCase(),
    binlogRowImage: (vars.get('binlog_row_image') ?? '').toUpperCase(),
    binlogExpirySeconds,
  };
  const hostname = vars.get('hostname');
  if (hostname) info.hostname = hostname;
  const datadir = vars.get('datadir');
  if (datadir) info.datadir = datadir;
  if (gtidExecuted) info.gtidExecuted = gtidExecuted;
  const syncBinlog = vars.get('sync_binlog');
  if (syncBinlog) info.syncBinlog = Number(syncBinlog);
  const flushAtCommit = vars.get('innodb_flush_log_at_trx_commit');
  if (flushAtCommit) info.innodbFlushLogAtTrxCommit = Number(flushAtCommit);
  return info;
}

/** Minimal query surface so this module does not depend on the client wrapper. */
export interface Queryable {
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** Reads and parses the server's identity and binlog settings. */
export async function readServerInfo(db: Queryable): Promise<ServerInfo> {
  return parseServerInfo(await db.query<VariableRow>(SERVER_INFO_SQL));
}
