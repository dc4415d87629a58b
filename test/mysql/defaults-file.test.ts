// Credentials reach the external tools only through the option file, handed over as an
// unnamed file on fd 3; these tests log in with a deliberately awkward password through
// the real tools, and check each flavour's TLS option names.
import { fstatSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToolCredentials, quoteOptionValue, renderDefaultsFile, tlsOptionLines } from '../../src/mysql/defaults-file.js';
import { startTool } from '../../src/util/tool-process.js';
import { withConnection } from '../../src/mysql/client.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { freshDatabase, mariadb } from '../helpers/mariadb.js';

// Leading/trailing spaces, comment chars, both quotes, backslashes (also before a quote), escape look-alikes, tab.
const AWKWARD = ` p#a ss"w'o\\rd\\\\ \\' ;=[client] \\n\t# end `;

describe('quoteOptionValue', () => {
  it('double-quotes and escapes backslashes, quotes and control characters', () => {
    expect(quoteOptionValue('plain')).toBe('"plain"');
    expect(quoteOptionValue('a"b\'c\\d#e')).toBe('"a\\"b\\\'c\\\\d#e"');
    expect(quoteOptionValue('x\ty\nz')).toBe('"x\\ty\\nz"');
  });

  it('writes socket connections with host=localhost and TCP ones with protocol=tcp', () => {
    const tcp = renderDefaultsFile({ user: 'u', password: 'p', host: 'localhost', port: 3307 });
    expect(tcp).toContain('port=3307');
    expect(tcp).toContain('protocol=tcp');
    const sock = renderDefaultsFile({ user: 'u', password: 'p', host: 'x', port: 1, socket: '/s.sock' }, 'mariadb', 'mysqldump');
    expect(sock.startsWith('[mysqldump]\n')).toBe(true);
    expect(sock).toContain('socket="/s.sock"');
    expect(sock).not.toContain('port=');
  });
});

describe('TLS option names per tool flavour', () => {
  const tcp: MysqlConn = { user: 'u', password: 'p', host: 'db.example', port: 3306 };
  const files = { ca: '/etc/dbops/ca.pem', cert: '/etc/dbops/client.pem', key: '/etc/dbops/client.key' };

  it('MySQL clients get ssl-mode as is, with the files', () => {
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'VERIFY_IDENTITY', ...files } }, 'mysql')).toEqual([
      'ssl-mode=VERIFY_IDENTITY',
      'ssl-ca="/etc/dbops/ca.pem"',
      'ssl-cert="/etc/dbops/client.pem"',
      'ssl-key="/etc/dbops/client.key"',
    ]);
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'VERIFY_CA', ca: files.ca } }, 'mysql')).toEqual(['ssl-mode=VERIFY_CA', 'ssl-ca="/etc/dbops/ca.pem"']);
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'REQUIRED' } }, 'mysql')).toEqual(['ssl-mode=REQUIRED']);
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'DISABLED' } }, 'mysql')).toEqual(['ssl-mode=DISABLED']);
    expect(tlsOptionLines(tcp, 'mysql')).toEqual(['ssl-mode=PREFERRED']);
  });

  it('MariaDB clients get ssl / ssl-verify-server-cert / skip-ssl', () => {
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'VERIFY_IDENTITY', ...files } }, 'mariadb')).toEqual([
      'ssl',
      'ssl-verify-server-cert',
      'ssl-ca="/etc/dbops/ca.pem"',
      'ssl-cert="/etc/dbops/client.pem"',
      'ssl-key="/etc/dbops/client.key"',
    ]);
    // No CA-only check in MariaDB's clients: VERIFY_CA verifies the host name too.
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'VERIFY_CA', ca: files.ca } }, 'mariadb')).toEqual(['ssl', 'ssl-verify-server-cert', 'ssl-ca="/etc/dbops/ca.pem"']);
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'REQUIRED' } }, 'mariadb')).toEqual(['ssl']);
    expect(tlsOptionLines({ ...tcp, tls: { mode: 'DISABLED' } }, 'mariadb')).toEqual(['skip-ssl']);
    expect(tlsOptionLines(tcp, 'mariadb')).toEqual([]);
  });

  it('writes nothing about TLS for a unix socket', () => {
    const sock = { ...tcp, socket: '/run/mysqld.sock', tls: { mode: 'VERIFY_IDENTITY' as const, ca: files.ca } };
    expect(tlsOptionLines(sock, 'mysql')).toEqual([]);
    expect(tlsOptionLines(sock, 'mariadb')).toEqual([]);
  });

  it('puts the lines in the [client] group after the login', () => {
    const text = renderDefaultsFile({ ...tcp, tls: { mode: 'VERIFY_IDENTITY', ca: files.ca } }, 'mysql');
    expect(text).toBe('[client]\nuser="u"\npassword="p"\nhost="db.example"\nport=3306\nprotocol=tcp\nssl-mode=VERIFY_IDENTITY\nssl-ca="/etc/dbops/ca.pem"\n');
  });
});

describe('openToolCredentials', () => {
  const conn: MysqlConn = { user: 'u', password: 'secret', host: '127.0.0.1', port: 1 };

  it('holds the option file in a 0600 file without a name', () => {
    const c = openToolCredentials(conn, findTool('mariadb') ?? 'mariadb');
    try {
      expect(fstatSync(c.fd).mode & 0o777).toBe(0o600);
      expect(fstatSync(c.fd).nlink).toBe(0);
      expect(readlinkSync(`/proc/self/fd/${c.fd}`)).toMatch(/\(deleted\)$/);
      expect(c.arg).toBe('--defaults-extra-file=/dev/fd/3');
    } finally {
      c.close();
    }
  });
});

describe('defaults file against the real server', () => {
  const user = 'dbops_awkward';
  let conn: MysqlConn;

  beforeAll(async () => {
    const root = mariadb().conn;
    await freshDatabase('defaults_file_t');
    await withConnection(root, async (db) => {
      // Keep the plaintext password out of the shared binlog other tests decode.
      await db.exec('SET SESSION sql_log_bin = 0');
      await db.exec('DROP USER IF EXISTS ?@?', [user, '127.0.0.1']);
      await db.exec('CREATE USER ?@? IDENTIFIED BY ?', [user, '127.0.0.1', AWKWARD], { sensitive: true });
      await db.exec('GRANT ALL PRIVILEGES ON *.* TO ?@?', [user, '127.0.0.1']);
      await db.exec('CREATE TABLE defaults_file_t.t (id INT PRIMARY KEY)');
    });
    conn = { user, password: AWKWARD, host: '127.0.0.1', port: mariadb().port };
  });

  afterAll(async () => {
    await withConnection(mariadb().conn, async (db) => {
      await db.exec('SET SESSION sql_log_bin = 0');
      await db.exec('DROP USER IF EXISTS ?@?', [user, '127.0.0.1']);
    });
  });

  /** Runs a tool logged in as `c` the way dbops runs its tools; stdout, or the failure's stderr. */
  async function run(tool: string, c: MysqlConn, args: string[]): Promise<{ ok: boolean; out: string }> {
    const proc = startTool(tool, args, { credentials: c });
    proc.stdin.end();
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await proc;
      return { ok: true, out };
    } catch (err) {
      return { ok: false, out: String((err as { stderr?: unknown }).stderr) };
    }
  }

  it('logs the mariadb client in with the awkward password', async () => {
    const r = await run(findTool('mariadb') ?? 'mysql', conn, ['-N', '-e', 'SELECT CURRENT_USER()']);
    expect(r.out.trim()).toBe(`${user}@127.0.0.1`);
  });

  it('lets mariadb-dump read the credentials from a [client] section', async () => {
    const r = await run(findTool('mariadb-dump') ?? 'mysqldump', conn, ['--no-data', 'defaults_file_t']);
    expect(r.out).toContain('CREATE TABLE `t`');
  });

  it('lets mariadb-dump under stdbuf read them too (fd 3 survives the exec)', async () => {
    const proc = startTool(findTool('mariadb-dump') ?? 'mysqldump', ['--no-data', 'defaults_file_t'], { credentials: conn, bufferStdout: true });
    proc.stdin.end();
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await proc;
    expect(out).toContain('CREATE TABLE `t`');
  });

  it('fails with a wrong password (the file is really what authenticates)', async () => {
    const r = await run(findTool('mariadb') ?? 'mysql', { ...conn, password: AWKWARD.trim() }, ['-e', 'SELECT 1']);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/Access denied/);
  });
});
