// Which account each job logs in with, and how. Three roles, each with its own settings:
// `backup` (source.*: dump, ship, checksum), `admin` (admin.*: migrate, partitions, seed;
// falls back to the source account when unset) and `restore` (restore.targetUrl +
// restore.target.*), and `monitor` (monitor.*: db report and the daemon's monitor job, read
// only; falls back to the source account like admin). Per role, in increasing precedence: a MySQL option file
// (`defaultsFile`, its [client] group), the URL, then the `password` and `tls.*` keys —
// so a URL can leave the password out and take it from DBOPS_…_PASSWORD_FILE.
import { envNameFor, type Config } from './schema.js';
import { readPrivateFile } from './secret-file.js';
import { ConfigError, UsageError } from '../errors.js';
import { parseConnectionUrl, type MysqlConn } from '../mysql/connection-url.js';
import { clientOptions } from '../mysql/option-file.js';
import { mergeTls, tlsProblems, type TlsSettings } from '../mysql/tls-settings.js';

export type Role = 'backup' | 'admin' | 'restore' | 'monitor';

export const ROLES: readonly Role[] = ['backup', 'admin', 'restore', 'monitor'];

/** One role's settings, with the config keys they came from (for messages). */
interface RoleSettings {
  url?: string | undefined;
  password?: string | undefined;
  defaultsFile?: string | undefined;
  tls?: TlsSettings | undefined;
  keys: { url: string; password: string; defaultsFile: string; tls: string; flag?: string };
}

function settings(config: Config, role: Role): RoleSettings {
  if (role === 'backup') {
    const s = config.source;
    return { url: s.url, password: s.password, defaultsFile: s.defaultsFile, tls: s.tls, keys: { url: 'source.url', password: 'source.password', defaultsFile: 'source.defaultsFile', tls: 'source.tls', flag: '--source' } };
  }
  if (role === 'admin') {
    const s = config.admin;
    return { url: s.url, password: s.password, defaultsFile: s.defaultsFile, tls: s.tls, keys: { url: 'admin.url', password: 'admin.password', defaultsFile: 'admin.defaultsFile', tls: 'admin.tls' } };
  }
  if (role === 'monitor') {
    const s = config.monitor;
    return { url: s.url, password: s.password, defaultsFile: s.defaultsFile, tls: s.tls, keys: { url: 'monitor.url', password: 'monitor.password', defaultsFile: 'monitor.defaultsFile', tls: 'monitor.tls' } };
  }
  const t = config.restore.target;
  return { url: config.restore.targetUrl, password: t.password, defaultsFile: t.defaultsFile, tls: t.tls, keys: { url: 'restore.targetUrl', password: 'restore.target.password', defaultsFile: 'restore.target.defaultsFile', tls: 'restore.target.tls', flag: '--target' } };
}

/** The role has an account of its own (admin without one borrows the source's). */
export function roleConfigured(config: Config, role: Role): boolean {
  const s = settings(config, role);
  return Boolean(s.url || s.defaultsFile);
}

/** How to log in as `role`; ConfigError naming the setting to fix. */
export function roleConnection(config: Config, role: Role): MysqlConn {
  if (role === 'admin' && !roleConfigured(config, 'admin')) {
    if (config.admin.password || config.admin.tls) throw new ConfigError(['admin.password / admin.tls are set but admin.url is not: set DBOPS_ADMIN_URL (or admin.defaultsFile) for the admin account']);
    return roleConnection(config, 'backup');
  }
  if (role === 'monitor' && !roleConfigured(config, 'monitor')) {
    if (config.monitor.password || config.monitor.tls) throw new ConfigError(['monitor.password / monitor.tls are set but monitor.url is not: set DBOPS_MONITOR_URL (or monitor.defaultsFile) for the monitor account']);
    return roleConnection(config, 'backup');
  }
  const s = settings(config, role);
  const k = s.keys;
  if (!s.url && !s.defaultsFile) {
    throw new ConfigError([`missing ${k.url}: set ${envNameFor(k.url)} (or ${envNameFor(k.defaultsFile)})${k.flag ? `, pass ${k.flag}` : ''} or add it to dbops.yaml`]);
  }
  const file = s.defaultsFile ? clientOptions(readPrivateFile(s.defaultsFile, `${k.defaultsFile} (${envNameFor(k.defaultsFile)})`), s.defaultsFile) : {};
  const url = s.url ? parseConnectionUrl(s.url, { userOptional: Boolean(file.user) }) : undefined;
  if (url?.password && s.password) {
    throw new ConfigError([`${k.url} carries a password and ${k.password} (${envNameFor(k.password)} or ${envNameFor(`${k.password}File`)}) sets one too: keep one, preferably the file`]);
  }
  const user = url?.user || file.user;
  if (!user) throw new ConfigError([`no user for the ${role} account: put it in ${k.url} (mysql://user@host:port) or in the [client] group of ${s.defaultsFile}`]);
  const conn: MysqlConn = url
    ? { ...url, user }
    : { user, password: '', host: file.host ?? 'localhost', port: file.port ?? 3306, ...(file.socket ? { socket: file.socket } : {}), ...(file.database ? { database: file.database } : {}) };
  conn.password = s.password ?? (url?.password || file.password) ?? '';
  const tls = mergeTls(file.tls, url?.tls, s.tls);
  const problems = tlsProblems(tls, k.tls);
  if (problems.length) throw new ConfigError(problems);
  if (tls) conn.tls = tls;
  else delete conn.tls;
  return conn;
}

export function sourceConnection(config: Config): MysqlConn {
  return roleConnection(config, 'backup');
}

/** The account for migrate, partitions and seed (the source's when admin.* is unset). */
export function adminConnection(config: Config): MysqlConn {
  return roleConnection(config, 'admin');
}

/** The read-only account of db report and the monitor job (the source's when monitor.* is unset). */
export function monitorConnection(config: Config): MysqlConn {
  return roleConnection(config, 'monitor');
}

export function restoreTargetConnection(config: Config): MysqlConn {
  return roleConnection(config, 'restore');
}

/** Problems resolving `role`, as one-line strings (for the daemon's all-at-once check). */
export function roleProblems(config: Config, role: Role): string[] {
  try {
    roleConnection(config, role);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    if (err instanceof UsageError) return [err.message];
    throw err;
  }
}
