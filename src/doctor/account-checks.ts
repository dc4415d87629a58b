// The checks every configured account gets, whatever its role: it can log in, how the
// connection is protected (encrypted? which cipher? was the certificate verified?), and
// its grants against the role's (missing ones block; more than the role needs warns, since
// a leaked password then gives all of it).
import { MysqlClient } from '../mysql/client.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { effectiveMode } from '../mysql/tls-settings.js';
import type { Role } from '../config/connections.js';
import { check, type DoctorCheck } from './check.js';
import { excessGrants, grantStatements, missingGrants, parseGrants, type RoleNeeds } from './required-grants.js';

/** Where each role's settings live, for fixes. */
export const ROLE_SETTING: Record<Role, { prefix: string; title: string; env: string }> = {
  backup: { prefix: 'source', title: 'source', env: 'DBOPS_SOURCE_URL' },
  admin: { prefix: 'admin', title: 'admin account', env: 'DBOPS_ADMIN_URL' },
  restore: { prefix: 'restore', title: 'restore target', env: 'DBOPS_RESTORE_TARGET_URL' },
  monitor: { prefix: 'monitor', title: 'monitor account', env: 'DBOPS_MONITOR_URL' },
};

export function isLoopback(conn: MysqlConn): boolean {
  return Boolean(conn.socket) || conn.host === 'localhost' || conn.host === '::1' || /^127\./.test(conn.host);
}

function where(conn: MysqlConn): string {
  return conn.socket ?? `${conn.host}:${conn.port}`;
}

/** Connects as the role's account; the open client, or the failed check. */
export async function connectCheck(role: Role, conn: MysqlConn): Promise<{ db?: MysqlClient; check?: DoctorCheck }> {
  const s = ROLE_SETTING[role];
  try {
    return { db: await MysqlClient.connect(conn, { connectTimeoutMs: 5000 }) };
  } catch (err) {
    return { check: check(`${s.prefix}.reachable`, `${s.title} reachable`, 'fail', (err as Error).message, `check ${s.env} (host, port, user), its password (file) and TLS settings, and that the server accepts connections from this host`) };
  }
}

/** Encrypted, cipher, certificate verified; plaintext or an unverified certificate across the network warns. */
export async function tlsCheck(role: Role, conn: MysqlConn, db: MysqlClient): Promise<DoctorCheck> {
  const s = ROLE_SETTING[role];
  const id = `${s.prefix}.tls`;
  const title = `${s.title} connection encrypted`;
  if (conn.socket) return check(id, title, 'ok', `local socket ${conn.socket}: not on the network, TLS not used`);
  const tls = await db.tlsStatus();
  const mode = effectiveMode(conn.tls);
  const fix = `add ssl-mode=VERIFY_IDENTITY&ssl-ca=/path/to/ca.pem to ${s.env} (or ${s.prefix === 'restore' ? 'restore.target' : s.prefix}.tls.mode / .ca in dbops.yaml)`;
  if (!tls.encrypted) {
    return isLoopback(conn)
      ? check(id, title, 'ok', `plaintext (ssl-mode=${mode}) on loopback ${where(conn)}`)
      : check(id, title, 'warn', `plaintext (ssl-mode=${mode}) to ${where(conn)}: the login, the data and SHOW CREATE USER hashes cross the network readable`, `enable TLS on the server, then ${fix}`);
  }
  const what = `${tls.version} ${tls.cipher}`;
  if (tls.verified) return check(id, title, 'ok', `${what}, server certificate verified (ssl-mode=${mode})`);
  return isLoopback(conn)
    ? check(id, title, 'ok', `${what}, server certificate not verified (ssl-mode=${mode}) on loopback`)
    : check(id, title, 'warn', `${what}, but the server certificate is not verified (ssl-mode=${mode}): anyone in the path can pose as the server`, fix);
}

/** SHOW GRANTS of the current account against the role's needs. */
export async function privilegeCheck(role: Role, db: MysqlClient, needs: RoleNeeds): Promise<DoctorCheck> {
  const s = ROLE_SETTING[role];
  const id = `${s.prefix}.privileges`;
  const title = `${s.title} privileges (${role} role)`;
  const user = (await db.query<{ u: string }>('SELECT CURRENT_USER() AS u'))[0]?.u ?? '';
  const held = parseGrants((await db.query<Record<string, string>>('SHOW GRANTS')).map((r) => String(Object.values(r)[0] ?? '')));
  const grant = grantStatements(needs, user).join(' ');
  const missing = missingGrants(held, needs);
  if (missing.length) return check(id, title, 'fail', `${user} lacks ${missing.join('; ')} (needed for ${needs.purpose})`, `run on the server: ${grant}`);
  const excess = excessGrants(held, needs);
  if (excess.length) {
    return check(id, title, 'warn', `${user} holds more than ${needs.purpose} need: ${excess.join('; ')}; a leaked password gives all of it`, `use an account with only: ${grant} (dbops doctor --print-grants)`);
  }
  return check(id, title, 'ok', `${user} has exactly what ${needs.purpose} need: ${grant}`);
}
