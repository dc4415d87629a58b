// Credentials reach the external tools only through the option file; these
// tests log in with a deliberately awkward password through the real tools.
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultsFileArg, quoteOptionValue, renderDefaultsFile, withDefaultsFile } from '../../src/mysql/defaults-file.js';
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
    const sock = renderDefaultsFile({ user: 'u', password: 'p', host: 'x', port: 1, socket: '/s.sock' }, 'mysqldump');
    expect(sock.startsWith('[mysqldump]\n')).toBe(true);
    expect(sock).toContain('socket="/s.sock"');
    expect(sock).not.toContain('port=');
  });
});

describe('withDefaultsFile', () => {
  const conn: MysqlConn = { user: 'u', password: 'secret', host: '127.0.0.1', port: 1 };

  it('creates a 0600 file in a 0700 dir and removes both afterwards', async () => {
    let seen = '';
    await withDefaultsFile(conn, async (path) => {
      seen = path;
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    });
    expect(seen).not.toBe('');
    expect(existsSync(dirname(seen))).toBe(false);
  });

  it('removes the file when fn throws', async () => {
    let seen = '';
    await expect(
      withDefaultsFile(conn, async (path) => {
        seen = path;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(dirname(seen))).toBe(false);
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

  it('logs the mariadb client in with the awkward password', async () => {
    const client = findTool('mariadb') ?? 'mysql';
    const out = await withDefaultsFile(conn, async (path) =>
      (await execa(client, [defaultsFileArg(path), '-N', '-e', 'SELECT CURRENT_USER()'])).stdout,
    );
    expect(out.trim()).toBe(`${user}@127.0.0.1`);
  });

  it('lets mariadb-dump read the credentials from a [client] section', async () => {
    const dump = findTool('mariadb-dump') ?? 'mysqldump';
    const out = await withDefaultsFile(conn, async (path) => (await execa(dump, [defaultsFileArg(path), '--no-data', 'defaults_file_t'])).stdout);
    expect(out).toContain('CREATE TABLE `t`');
  });

  it('fails with a wrong password (the file is really what authenticates)', async () => {
    const client = findTool('mariadb') ?? 'mysql';
    const wrong = { ...conn, password: AWKWARD.trim() };
    const r = await withDefaultsFile(wrong, (path) => execa(client, [defaultsFileArg(path), '-e', 'SELECT 1'], { reject: false }));
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Access denied/);
  });
});
