// `dbops doctor --print-grants`: CREATE USER and GRANT statements for the four roles, ready
// to run as an administrator. Users are the configured ones (else, and instead of root,
// dbops_backup, dbops_admin, dbops_restore, dbops_monitor at any host); an account whose settings ask for TLS is created REQUIRE SSL
// (REQUIRE X509 with a client certificate), so the server refuses it in plaintext too.
import type { Config } from '../config/schema.js';
import { ROLES, roleConfigured, roleConnection, type Role } from '../config/connections.js';
import { DEFAULT_DATABASE } from '../migrate/target.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import type { Flavor, ServerInfo } from '../mysql/server-info.js';
import { effectiveMode } from '../mysql/tls-settings.js';
import { createUserStatements, roleNeeds } from './required-grants.js';

export type GrantsTarget = Pick<ServerInfo, 'flavor' | 'major' | 'minor' | 'patch'> & { version: string };

/** Current releases, when no server says which one it is. */
export const CURRENT: Record<Flavor, GrantsTarget> = {
  mariadb: { flavor: 'mariadb', version: '10.11', major: 10, minor: 11, patch: 0 },
  mysql: { flavor: 'mysql', version: '8.4', major: 8, minor: 4, patch: 0 },
};

const DEFAULT_USER: Record<Role, string> = { backup: 'dbops_backup', admin: 'dbops_admin', restore: 'dbops_restore', monitor: 'dbops_monitor' };

function configured(config: Config, role: Role): MysqlConn | undefined {
  if (!roleConfigured(config, role)) return undefined;
  try {
    return roleConnection(config, role);
  } catch {
    return undefined;
  }
}

function requirement(conn: MysqlConn | undefined): 'NONE' | 'SSL' | 'X509' {
  if (!conn || conn.socket) return 'NONE';
  if (conn.tls?.cert) return 'X509';
  const mode = effectiveMode(conn.tls);
  return mode === 'DISABLED' || mode === 'PREFERRED' ? 'NONE' : 'SSL';
}

/** The statements for every role on one server version, with a comment per role. */
export function grantsText(config: Config, target: GrantsTarget): string {
  const lines = [`-- ${target.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${target.version}: one account per role; replace change-me, or use IDENTIFIED VIA/WITH your auth plugin`];
  for (const role of ROLES) {
    const conn = configured(config, role);
    const database = (role === 'admin' ? (conn?.database ?? configured(config, 'backup')?.database) : undefined) ?? DEFAULT_DATABASE;
    const needs = roleNeeds(role, target, { database, physical: config.backup.kind === 'physical' });
    lines.push('', `-- ${role}: ${needs.purpose}`);
    for (const note of needs.notes) lines.push(`-- (${note})`);
    // root is an administrator already: suggest the role's own account instead.
    const user = conn?.user && conn.user !== 'root' ? conn.user : DEFAULT_USER[role];
    lines.push(...createUserStatements(needs, user, requirement(conn)));
  }
  return lines.join('\n');
}
