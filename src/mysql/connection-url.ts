// Parses the source URL (`mysql://user:pass@host:port[/db][?socket=/path]`) into
// connection fields. The password must never reach a message or log: errors
// quote the URL only through redactUrl().
import { UsageError } from '../errors.js';

export interface MysqlConn {
  user: string;
  password: string;
  host: string;
  port: number;
  database?: string;
  /** Unix socket path; when set, clients connect through it instead of TCP. */
  socket?: string;
}

const SCHEMES = new Set(['mysql:', 'mariadb:']);
const PARAMS = new Set(['socket']);

/** Replaces the password in a URL-ish string with `***`; works on malformed input too. */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  const authStart = schemeEnd >= 0 ? schemeEnd + 3 : 0;
  const at = url.lastIndexOf('@');
  if (at < authStart) return url;
  const colon = url.indexOf(':', authStart);
  if (colon < 0 || colon > at) return url;
  return `${url.slice(0, colon + 1)}***${url.slice(at)}`;
}

function decode(part: string, what: string, url: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UsageError(`invalid percent-encoding in the ${what} of ${redactUrl(url)}: encode special characters as %XX`);
  }
}

/** Parses a mysql:// or mariadb:// URL; throws a one-line UsageError (password redacted). */
export function parseConnectionUrl(url: string): MysqlConn {
  const shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(
      `malformed database URL ${shown}: expected mysql://user:password@host:port[/database][?socket=/path] with special characters %-encoded`,
    );
  }
  if (!SCHEMES.has(u.protocol)) {
    throw new UsageError(`unsupported database URL scheme "${u.protocol}" in ${shown}: use mysql:// or mariadb://`);
  }
  for (const key of u.searchParams.keys()) {
    if (!PARAMS.has(key)) throw new UsageError(`unknown parameter "${key}" in database URL ${shown}: only "socket" is supported`);
  }
  const user = decode(u.username, 'user', url);
  if (!user) throw new UsageError(`database URL ${shown} has no user: write mysql://user:password@host:port`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new UsageError(`database URL ${shown} has no host: write mysql://user:password@host:port`);
  let port = 3306;
  if (u.port) {
    port = Number(u.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UsageError(`invalid port "${u.port}" in database URL ${shown}: use 1-65535`);
    }
  }
  const conn: MysqlConn = { user, password: decode(u.password, 'password', url), host, port };
  const path = u.pathname.replace(/^\//, '');
  if (path) {
    if (path.includes('/')) throw new UsageError(`database URL ${shown} has a nested path: only /database is allowed`);
    conn.database = decode(path, 'database', url);
  }
  const socket = u.searchParams.get('socket');
  if (socket !== null) {
    if (!socket.startsWith('/')) throw new UsageError(`socket in database URL ${shown} must be an absolute path`);
    conn.socket = socket;
  }
  return conn;
}

/** Builds a URL back from fields (used for test servers and for passing a conn as config). */
export function formatConnectionUrl(conn: MysqlConn, scheme: 'mysql' | 'mariadb' = 'mysql'): string {
  const host = conn.host.includes(':') ? `[${conn.host}]` : conn.host;
  const auth = conn.password
    ? `${encodeURIComponent(conn.user)}:${encodeURIComponent(conn.password)}`
    : encodeURIComponent(conn.user);
  const db = conn.database ? `/${encodeURIComponent(conn.database)}` : '';
  const q = conn.socket ? `?socket=${encodeURIComponent(conn.socket)}` : '';
  return `${scheme}://${auth}@${host}:${conn.port}${db}${q}`;
}
