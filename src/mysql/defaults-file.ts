// Hands credentials and TLS settings to external tools (mariadb-dump, mariadb,
// mariadb-binlog, their mysql* counterparts) through an option file that has no name:
// an O_TMPFILE inode (in /dev/shm, RAM, when available) written by us and inherited by the
// child as fd 3, which the tool opens as `--defaults-extra-file=/dev/fd/3` (Linux reopens
// the inode through /proc). Never argv or env, and nothing a `kill -9` can leave behind:
// the inode goes when the last descriptor closes. The tools only honour the argument when
// it comes FIRST on their command line.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { MysqlConn } from './connection-url.js';
import { effectiveMode, verifiesCertificate } from './tls-settings.js';

export type ToolFlavor = 'mariadb' | 'mysql';

/**
 * Quotes a value for a MySQL/MariaDB option file. The parser (mysys
 * my_default.c) strips a matching pair of quotes, ignores `#` inside them and
 * understands \\ \" \' \n \t \r \b \s escapes; outside quotes `#` starts a
 * comment and leading/trailing spaces are trimmed. So: always double-quote.
 */
export function quoteOptionValue(value: string): string {
  let out = '';
  for (const ch of value) {
    switch (ch) {
      case '\\': out += '\\\\'; break;
      case '"': out += '\\"'; break;
      case "'": out += "\\'"; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '\b': out += '\\b'; break;
      default: out += ch;
    }
  }
  return `"${out}"`;
}

/**
 * The TLS lines for one tool. The flavours name things differently: MySQL's clients take
 * `ssl-mode` as is; MariaDB's (10.x) have `ssl` / `skip-ssl` and `ssl-verify-server-cert`,
 * which checks the chain AND the host name (there is no CA-only check), so VERIFY_CA is as
 * strict as VERIFY_IDENTITY there. REQUIRED cannot be enforced by MariaDB's tools; the node
 * connection every command opens first refuses a server without TLS. Over a unix socket no
 * TLS is used.
 */
export function tlsOptionLines(conn: MysqlConn, flavor: ToolFlavor): string[] {
  if (conn.socket) return [];
  const mode = effectiveMode(conn.tls);
  const t = conn.tls ?? {};
  const files: string[] = [];
  if (t.ca) files.push(`ssl-ca=${quoteOptionValue(t.ca)}`);
  if (t.cert) files.push(`ssl-cert=${quoteOptionValue(t.cert)}`);
  if (t.key) files.push(`ssl-key=${quoteOptionValue(t.key)}`);
  if (flavor === 'mysql') return mode === 'DISABLED' ? ['ssl-mode=DISABLED'] : [`ssl-mode=${mode}`, ...files];
  if (mode === 'DISABLED') return ['skip-ssl'];
  if (mode === 'PREFERRED') return files;
  return ['ssl', ...(verifiesCertificate(mode) ? ['ssl-verify-server-cert'] : []), ...files];
}

/** Text of the option file; exported for tests. `protocol=tcp` keeps `localhost` on TCP like mysql2 does. */
export function renderDefaultsFile(conn: MysqlConn, flavor: ToolFlavor = 'mariadb', section = 'client'): string {
  const lines = [`[${section}]`, `user=${quoteOptionValue(conn.user)}`, `password=${quoteOptionValue(conn.password)}`];
  if (conn.socket) {
    lines.push('host=localhost', `socket=${quoteOptionValue(conn.socket)}`, 'protocol=socket');
  } else {
    lines.push(`host=${quoteOptionValue(conn.host)}`, `port=${conn.port}`, 'protocol=tcp');
  }
  lines.push(...tlsOptionLines(conn, flavor));
  return `${lines.join('\n')}\n`;
}

const flavors = new Map<string, ToolFlavor>();

/**
 * Whose client a tool is: Debian's mysql* names are links to mariadb-*, and a MySQL server
 * may be backed up with either, so the option names follow the tool, not the server.
 * By the resolved file name, else by `--version` (asked once per path).
 */
export function toolFlavor(path: string): ToolFlavor {
  let flavor = flavors.get(path);
  if (flavor) return flavor;
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // not resolvable here: the spawn will say so
  }
  if (basename(real).startsWith('mariadb')) flavor = 'mariadb';
  else {
    try {
      const out = execFileSync(real, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
      flavor = /mariadb/i.test(out) ? 'mariadb' : 'mysql';
    } catch {
      flavor = 'mariadb';
    }
  }
  flavors.set(path, flavor);
  return flavor;
}

/** Linux's O_TMPFILE (a file with no name); Node does not export it. Same value on x86-64 and arm64. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

/** A readable, writable descriptor of a file nobody else can open by name. */
function anonymousFile(): number {
  for (const dir of ['/dev/shm', tmpdir()]) {
    try {
      return openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600);
    } catch {
      // no O_TMPFILE support there (old kernel, some filesystems): next
    }
  }
  // Last resort: a named file, unlinked at once (microseconds with a name, in a 0700 dir).
  const dir = mkdtempSync(join(tmpdir(), 'dbops-cred-'));
  try {
    return openSync(join(dir, 'my.cnf'), constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The descriptor number the tools get the option file on. */
export const CREDENTIALS_FD = 3;

export interface ToolCredentials {
  /** Our descriptor; pass it as the child's fd 3 (stdio[3]) and close() once spawned. */
  fd: number;
  /** `--defaults-extra-file=/dev/fd/3`: the tool's FIRST argument. */
  arg: string;
  close(): void;
}

/** An option file for `toolPath` (its flavour's TLS option names) holding `conn`'s login. */
export function openToolCredentials(conn: MysqlConn, toolPath: string): ToolCredentials {
  const fd = anonymousFile();
  try {
    writeSync(fd, renderDefaultsFile(conn, toolFlavor(toolPath)));
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let open = true;
  return {
    fd,
    arg: defaultsFileArg(`/dev/fd/${CREDENTIALS_FD}`),
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** The argument that must come first on a tool's command line. */
export function defaultsFileArg(path: string): string {
  return `--defaults-extra-file=${path}`;
}
