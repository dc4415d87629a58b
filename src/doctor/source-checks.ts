// Checks that need the source server: reachable, how the connection is protected, the
// backup account's privileges (with the exact GRANT to run), binary log settings, binlog
// expiry against shipping lag, and the clock difference between this host and the server.
import type { MysqlConn } from '../mysql/connection-url.js';
import { readServerInfo, type ServerInfo } from '../mysql/server-info.js';
import { EXPIRY_MARGIN_SECONDS } from '../binlog/source-checks.js';
import { check, type DoctorCheck } from './check.js';
import { roleNeeds } from './required-grants.js';
import { connectCheck, privilegeCheck, tlsCheck } from './account-checks.js';

export interface SourceFindings {
  checks: DoctorCheck[];
  info?: ServerInfo;
}

export interface SourceCheckOptions {
  maxLagSeconds: number;
  /** Current shipping lag of a source from the repository (null: nothing shipped yet). */
  shippingLag?: (serverUuid: string) => Promise<number | null>;
  /** The daemon ships binlogs: shipping privileges and log_bin are then required. */
  shipping: boolean;
  /** backup.kind physical: the physical tool's privileges are required too. */
  physical: boolean;
}

/**
 * A commit is in the binlog on disk only with sync_binlog=1 (MariaDB's default is 0), and in
 * InnoDB's redo on disk only with innodb_flush_log_at_trx_commit=1. Otherwise a crash of the
 * source's host can lose the binlog events of transactions InnoDB kept (or the other way
 * round): the shipper never sees them, and a point-in-time recovery silently lacks them.
 */
function durabilityCheck(info: ServerInfo): DoctorCheck {
  const loose = [
    ...(info.syncBinlog !== undefined && info.syncBinlog !== 1 ? [{ name: 'sync_binlog', value: info.syncBinlog }] : []),
    ...(info.innodbFlushLogAtTrxCommit !== undefined && info.innodbFlushLogAtTrxCommit !== 1 ? [{ name: 'innodb_flush_log_at_trx_commit', value: info.innodbFlushLogAtTrxCommit }] : []),
  ];
  const title = 'crash-safe commits (binlog and InnoDB)';
  if (info.syncBinlog === undefined || info.innodbFlushLogAtTrxCommit === undefined) return check('source.durability', title, 'warn', 'the server did not report sync_binlog and innodb_flush_log_at_trx_commit', 'let the backup account run SHOW GLOBAL VARIABLES');
  if (!loose.length) return check('source.durability', title, 'ok', 'sync_binlog and innodb_flush_log_at_trx_commit are 1');
  return check(
    'source.durability',
    title,
    'warn',
    `${loose.map((l) => `${l.name} is ${l.value}`).join(' and ')}: a crash of the source's host can lose binlog events of committed transactions before they are shipped, so point-in-time recovery would miss them`,
    `${loose.map((l) => `SET GLOBAL ${l.name} = 1`).join('; ')} (and in my.cnf [mysqld]); each commit then waits for a disk flush, which group commit shares among concurrent ones`,
  );
}

export async function sourceChecks(conn: MysqlConn, opts: SourceCheckOptions): Promise<SourceFindings> {
  const connected = await connectCheck('backup', conn);
  if (!connected.db) return { checks: [connected.check!] };
  const db = connected.db;
  try {
    const checks: DoctorCheck[] = [];
    const info = await readServerInfo(db);
    const user = (await db.query<{ u: string }>('SELECT CURRENT_USER() AS u'))[0]?.u ?? '';
    checks.push(check('source.reachable', 'source reachable', 'ok', `${info.flavor} ${info.version} at ${conn.socket ?? `${conn.host}:${conn.port}`} as ${user}`));
    checks.push(await tlsCheck('backup', conn, db));
    checks.push(await privilegeCheck('backup', db, roleNeeds('backup', info, { database: '', shipping: opts.shipping, physical: opts.physical })));

    if (!info.logBin) {
      checks.push(check('source.log_bin', 'binary log on', opts.shipping ? 'fail' : 'warn', 'log_bin is OFF: no binlogs to ship, no point-in-time recovery', 'start the server with log_bin=binlog (and binlog_format=ROW, binlog_row_image=FULL, server_id set), e.g. in my.cnf [mysqld] log_bin = binlog; then restart it'));
    } else {
      checks.push(check('source.log_bin', 'binary log on', 'ok', 'log_bin is ON'));
      checks.push(info.binlogFormat === 'ROW'
        ? check('source.binlog_format', 'binlog_format=ROW', 'ok', 'binlog_format is ROW')
        : check('source.binlog_format', 'binlog_format=ROW', 'warn', `binlog_format is ${info.binlogFormat || 'unknown'}: statement events may replay differently`, "SET PERSIST binlog_format='ROW' (MySQL) or binlog_format=ROW in my.cnf (MariaDB), then restart"));
      checks.push(info.binlogRowImage === 'FULL' || info.binlogRowImage === ''
        ? check('source.binlog_row_image', 'binlog_row_image=FULL', 'ok', `binlog_row_image is ${info.binlogRowImage || 'FULL (default)'}`)
        : check('source.binlog_row_image', 'binlog_row_image=FULL', 'warn', `binlog_row_image is ${info.binlogRowImage}: row events lack columns`, 'set binlog_row_image=FULL in my.cnf and restart'));
      if (info.flavor === 'mysql') {
        checks.push(info.gtidMode
          ? check('source.gtid', 'GTIDs', 'ok', 'gtid_mode is ON')
          : check('source.gtid', 'GTIDs', 'warn', 'gtid_mode is not ON: --to-gtid targets and GTID checks are unavailable', 'set gtid_mode=ON and enforce_gtid_consistency=ON (step through OFF_PERMISSIVE, ON_PERMISSIVE)'));
      } else {
        checks.push(check('source.gtid', 'GTIDs', 'ok', `MariaDB GTIDs (domain ${info.serverId ? 'set' : 'default'}): gtid_binlog_pos ${info.gtidExecuted ?? '(empty)'}`));
      }
      checks.push(durabilityCheck(info));
      const needed = opts.maxLagSeconds + EXPIRY_MARGIN_SECONDS;
      const lag = (await opts.shippingLag?.(info.serverUuid)) ?? null;
      if (info.binlogExpirySeconds === 0) {
        checks.push(check('source.binlog_expiry', 'binlog expiry vs shipping lag', 'ok', 'binlogs never expire on the source (watch its disk)'));
      } else if (lag !== null && lag >= info.binlogExpirySeconds) {
        checks.push(check('source.binlog_expiry', 'binlog expiry vs shipping lag', 'fail', `shipping lags ${lag} s, longer than the source keeps binlogs (${info.binlogExpirySeconds} s): files are being purged before they are shipped`, 'start the shipper (dbops daemon / binlog ship) now and raise binlog_expire_logs_seconds; then take a full backup'));
      } else if (info.binlogExpirySeconds < needed) {
        checks.push(check('source.binlog_expiry', 'binlog expiry vs shipping lag', 'warn', `binlogs expire after ${info.binlogExpirySeconds} s, less than max lag + ${EXPIRY_MARGIN_SECONDS} s (${needed} s): a short shipper outage loses binlogs`, `SET GLOBAL binlog_expire_logs_seconds = ${Math.max(needed, 86_400)} (and in my.cnf)`));
      } else {
        checks.push(check('source.binlog_expiry', 'binlog expiry vs shipping lag', 'ok', `binlogs expire after ${info.binlogExpirySeconds} s${lag !== null ? `; shipping lag is ${lag} s` : ''}`));
      }
    }

    const t0 = Date.now();
    const row = (await db.query<{ t: string | number }>('SELECT UNIX_TIMESTAMP(NOW(6)) AS t'))[0];
    const t1 = Date.now();
    const skew = Number(row?.t) - (t0 + t1) / 2000;
    checks.push(Math.abs(skew) <= 5
      ? check('source.clock', 'clock skew', 'ok', `this host and the server differ by ${skew.toFixed(2)} s`)
      : check('source.clock', 'clock skew', 'warn', `this host and the server differ by ${skew.toFixed(1)} s: lag, backup age and --to <time> are off by as much`, 'run NTP (chrony or systemd-timesyncd) on both hosts'));
    return { checks, info };
  } finally {
    await db.close();
  }
}
