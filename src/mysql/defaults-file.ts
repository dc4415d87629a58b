// Hands credentials to external tools (mariadb-dump, mariadb, mariadb-binlog)
// through a 0600 option file in a private 0700 temp dir, never through argv or
// env. Callers pass `--defaults-extra-file=PATH` as the FIRST argument: the
// tools only honour it there.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MysqlConn } from './connection-url.js';

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

/** Text of the option file; exported for tests. `protocol=tcp` keeps `localhost` on TCP like mysql2 does. */
export function renderDefaultsFile(conn: MysqlConn, section = 'client'): string {
  const lines = [`[${section}]`, `user=${quoteOptionValue(conn.user)}`, `password=${quoteOptionValue(conn.password)}`];
  if (conn.socket) {
    lines.push('host=localhost', `socket=${quoteOptionValue(conn.socket)}`, 'protocol=socket');
  } else {
    lines.push(`host=${quoteOptionValue(conn.host)}`, `port=${conn.port}`, 'protocol=tcp');
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the option file, runs fn(path), and removes file and dir afterwards, also on throw. */
export async function withDefaultsFile<T>(
  conn: MysqlConn,
  fn: (path: string) => Promise<T>,
  section = 'client',
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-cred-'));
  try {
    const path = join(dir, 'my.cnf');
    await writeFile(path, renderDefaultsFile(conn, section), { mode: 0o600, flag: 'wx' });
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The argument that must come first on a tool's command line. */
export function defaultsFileArg(path: string): string {
  return `--defaults-extra-file=${path}`;
}
