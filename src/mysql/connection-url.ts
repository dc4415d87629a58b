// Parses a database URL (`mysql://user[:pass]@host:port[/db][?socket=/path&ssl-mode=…&ssl-ca=…]`)
// into connection fields. The password may be left out (it then comes from a file, see
// config/connections.ts). The password must never reach a message or log: errors quote
// the URL only through redactUrl().
import { UsageError } from '../errors.js';
import { parseSslMode, tlsProblems, type TlsSettings } from './tls-settings.js';

export interface MysqlConn {
  user: string;
  password: string;
  host: string;
  port: number;
  database?: string;
  /** Unix socket path; when set, clients connect through it instead of TCP (and TLS is not used). */
  socket?: string;
  /** TLS settings; unset means ssl-mode=PREFERRED with nothing verified, as the clients do. */
  tls?: TlsSettings;
}

const SCHEMES = new Set(['mysql:', 'mariadb:']);
/** URL parameters, by their canonical name; `_` may stand for `-` as in option files. */
const TLS_PARAMS = { 'ssl-mode': 'mode', 'ssl-ca': 'ca', 'ssl-cert': 'cert', 'ssl-key': 'key' } as const;
const PARAMS = new Set(['socket', ...Object.keys(TLS_PARAMS)]);

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

/** Parses a mysql:// or mariadb:// URL; throws a one-line UsageError (password redacted).
 *  `userOptional`: the user may come from elsewhere (an option file); it is then ''. */
export function parseConnectionUrl(url: string, opts: { userOptional?: boolean } = {}): MysqlConn {
  const shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(
      `malformed database URL ${shown}: expected mysql://user[:password]@host:port[/database][?ssl-mode=…&ssl-ca=/path] with special characters %-encoded`,
    );
  }
  if (!SCHEMES.has(u.protocol)) {
    throw new UsageError(`unsupported database URL scheme "${u.protocol}" in ${shown}: use mysql:// or mariadb://`);
  }
  const params = new Map<string, string>();
  for (const [rawKey, value] of u.searchParams) {
    const key = rawKey.toLowerCase().replace(/_/g, '-');
    if (!PARAMS.has(key)) throw new UsageError(`unknown parameter "${rawKey}" in database URL ${shown}: use socket, ${Object.keys(TLS_PARAMS).join(', ')}`);
    if (params.has(key)) throw new UsageError(`parameter "${key}" appears twice in database URL ${shown}`);
    params.set(key, value);
  }
  const user = decode(u.username, 'user', url);
  if (!user && !opts.userOptional) throw new UsageError(`database URL ${shown} has no user: write mysql://user@host:port`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new UsageError(`database URL ${shown} has no host: write mysql://user@host:port`);
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
  const socket = params.get('socket');
  if (socket !== undefined) {
    if (!socket.startsWith('/')) throw new UsageError(`socket in database URL ${shown} must be an absolute path`);
    conn.socket = socket;
  }
  const tls: TlsSettings = {};
  for (const [param, field] of Object.entries(TLS_PARAMS)) {
    const value = params.get(param);
    if (value === undefined) continue;
    if (field === 'mode') tls.mode = parseSslMode(value, `database URL ${shown}`);
    else if (!value) throw new UsageError(`${param} in database URL ${shown} is empty: give the path of a PEM file`);
    else tls[field] = value;
  }
  if (Object.keys(tls).length) {
    const problems = tlsProblems(tls, `database URL ${shown}`);
    if (problems.length) throw new UsageError(problems[0]!);
    conn.tls = tls;
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
  const params: string[] = [];
  if (conn.socket) params.push(`socket=${encodeURIComponent(conn.socket)}`);
  for (const [param, field] of Object.entries(TLS_PARAMS)) {
    const value = conn.tls?.[field];
    if (value !== undefined) params.push(`${param}=${encodeURIComponent(value)}`);
  }
  const q = params.length ? `?${params.join('&')}` : '';
  return `${scheme}://${auth}@${host}:${conn.port}${db}${q}`;
}
