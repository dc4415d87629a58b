// `dbops doctor` as a library call: every check, in the order a new installation would
// fix them, each with its fix. `ok` is false when anything blocks backups or shipping.
// Each configured account (source, admin, restore target) is checked against its role.
import type { Config } from '../config/schema.js';
import { roleConfigured, roleConnection, type Role } from '../config/connections.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { readServerInfo } from '../mysql/server-info.js';
import { shippingStatus } from '../binlog/shipping-status.js';
import { DEFAULT_DATABASE } from '../migrate/target.js';
import { check, type DoctorCheck } from './check.js';
import { sourceChecks } from './source-checks.js';
import { toolChecks } from './tool-checks.js';
import { keyChecks } from './key-checks.js';
import { storageChecks } from './storage-checks.js';
import { connectCheck, privilegeCheck, ROLE_SETTING, tlsCheck } from './account-checks.js';
import { roleNeeds } from './required-grants.js';

export interface DoctorResult {
  ok: boolean;
  checks: DoctorCheck[];
}

/** The role's connection, or the check that says why there is none. */
function resolve(config: Config, role: Role): { conn?: MysqlConn; check?: DoctorCheck } {
  const s = ROLE_SETTING[role];
  try {
    return { conn: roleConnection(config, role) };
  } catch (err) {
    return { check: check(`${s.prefix}.reachable`, `${s.title} reachable`, 'fail', (err as Error).message, `fix ${s.env} and the settings beside it`) };
  }
}

/** An admin, restore or monitor account: reachable, TLS, grants for its role. */
async function accountChecks(config: Config, role: 'admin' | 'restore' | 'monitor'): Promise<DoctorCheck[]> {
  const s = ROLE_SETTING[role];
  if (!roleConfigured(config, role)) {
    const detail = {
      admin: `admin.url is not set: migrate, partitions and seed use the source account, which then needs DDL on the ${DEFAULT_DATABASE} database (see dbops doctor --print-grants)`,
      restore: 'restore.targetUrl is not set: restore and pitr need --target (restore tests use their own throwaway server)',
      monitor: 'monitor.url is not set: db report and the monitor job use the source account (its SELECT covers them; without PROCESS it sees only its own connections when performance_schema is off)',
    }[role];
    return [check(`${s.prefix}.account`, `${s.title}`, 'skip', detail)];
  }
  const r = resolve(config, role);
  if (!r.conn) return [r.check!];
  const connected = await connectCheck(role, r.conn);
  if (!connected.db) return [connected.check!];
  const db = connected.db;
  try {
    const info = await readServerInfo(db);
    const user = (await db.query<{ u: string }>('SELECT CURRENT_USER() AS u'))[0]?.u ?? '';
    const where = r.conn.socket ?? `${r.conn.host}:${r.conn.port}`;
    return [
      check(`${s.prefix}.reachable`, `${s.title} reachable`, 'ok', `${info.flavor} ${info.version} at ${where} as ${user}`),
      await tlsCheck(role, r.conn, db),
      await privilegeCheck(role, db, roleNeeds(role, info, { database: r.conn.database ?? DEFAULT_DATABASE })),
    ];
  } finally {
    await db.close();
  }
}

export async function runDoctor(config: Config): Promise<DoctorResult> {
  const checks: DoctorCheck[] = [];
  const storage = await storageChecks(config);
  const shipping = config.daemon.shipBinlogs;
  let info;
  if (!roleConfigured(config, 'backup')) {
    checks.push(check('source.reachable', 'source reachable', 'fail', 'source.url is not set', 'set DBOPS_SOURCE_URL=mysql://user@host:port and DBOPS_SOURCE_PASSWORD_FILE (or DBOPS_SOURCE_DEFAULTS_FILE)'));
  } else {
    const r = resolve(config, 'backup');
    if (r.check) checks.push(r.check);
    if (r.conn) {
      const repo = storage.repo;
      const shippingLag = async (id: string): Promise<number | null> => (repo && (await repo.binlogs.sources()).includes(id) ? (await shippingStatus(repo, id)).lagSeconds : null);
      const found = await sourceChecks(r.conn, { maxLagSeconds: config.binlog.maxLagSeconds, shipping, shippingLag, physical: config.backup.kind === 'physical' });
      info = found.info;
      checks.push(...found.checks);
    }
  }
  checks.push(...(await accountChecks(config, 'admin')));
  checks.push(...(await accountChecks(config, 'restore')));
  checks.push(...(await accountChecks(config, 'monitor')));
  checks.push(...(await toolChecks(info, { physical: config.backup.kind === 'physical' })));
  checks.push(...storage.checks);
  checks.push(...(await keyChecks(config, storage.repo)));
  return { ok: !checks.some((c) => c.status === 'fail'), checks };
}
