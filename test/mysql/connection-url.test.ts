import { describe, expect, it } from 'vitest';
import { formatConnectionUrl, parseConnectionUrl, redactUrl } from '../../src/mysql/connection-url.js';
import { UsageError } from '../../src/errors.js';

function usageMessage(url: string): string {
  try {
    parseConnectionUrl(url);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`expected ${url} to be rejected`);
}

describe('parseConnectionUrl', () => {
  it('parses all parts and decodes them', () => {
    expect(parseConnectionUrl('mysql://bak%40up:p%23ss%2Fw%3Ad@db.example:3307/horizn%5Fprod?socket=%2Frun%2Fmysqld.sock')).toEqual({
      user: 'bak@up',
      password: 'p#ss/w:d',
      host: 'db.example',
      port: 3307,
      database: 'horizn_prod',
      socket: '/run/mysqld.sock',
    });
  });

  it('defaults the port, allows no password, mariadb:// and IPv6', () => {
    expect(parseConnectionUrl('mariadb://root@[::1]')).toEqual({ user: 'root', password: '', host: '::1', port: 3306 });
    expect(parseConnectionUrl('mysql://root:pw@localhost/')).toEqual({ user: 'root', password: 'pw', host: 'localhost', port: 3306 });
  });

  it('reads the MySQL client TLS names as parameters (case of the mode and _ for - as the clients allow)', () => {
    expect(parseConnectionUrl('mysql://backup@db:3306?ssl-mode=verify_identity&ssl-ca=%2Fetc%2Fdbops%2Fca.pem&ssl_cert=/c.pem&ssl-key=/c.key')).toEqual({
      user: 'backup',
      password: '',
      host: 'db',
      port: 3306,
      tls: { mode: 'VERIFY_IDENTITY', ca: '/etc/dbops/ca.pem', cert: '/c.pem', key: '/c.key' },
    });
  });

  it('round-trips TLS parameters through formatConnectionUrl', () => {
    const conn = { user: 'u', password: 'p', host: 'db', port: 3306, tls: { mode: 'VERIFY_CA' as const, ca: '/a b/ca.pem' } };
    expect(parseConnectionUrl(formatConnectionUrl(conn))).toEqual(conn);
  });

  it('round-trips through formatConnectionUrl', () => {
    const conn = { user: 'a b', password: "p#'\"\\ @:/?", host: '127.0.0.1', port: 4000, database: 'd', socket: '/tmp/s.sock' };
    expect(parseConnectionUrl(formatConnectionUrl(conn))).toEqual(conn);
  });

  it.each([
    ['mysql://root:s3cr3t#x@host:3306', 'malformed'],
    ['postgres://root:s3cr3t@host', 'scheme'],
    ['mysql://root:s3cr3t@host:99999', 'port'],
    ['mysql://:s3cr3t@host', 'no user'],
    ['mysql://root:s3cr3t@host/a/b', 'nested'],
    ['mysql://root:s3cr3t@host?sslmode=on', 'unknown parameter'],
    ['mysql://root:s3cr3t@host?ssl-mode=strict', 'invalid ssl-mode'],
    ['mysql://root:s3cr3t@host?ssl-cert=/c.pem', 'ssl-cert and ssl-key go together'],
    ['mysql://root:s3cr3t@host?ssl-ca=', 'ssl-ca'],
    ['mysql://root:s3cr3t%ZZ@host', 'percent'],
    ['mysql://root:s3cr3t@host?socket=relative.sock', 'absolute'],
  ])('rejects %s with a one-line message that hides the password', (url, fragment) => {
    const msg = usageMessage(url);
    expect(msg).toContain(fragment);
    expect(msg).not.toContain('s3cr3t');
    expect(msg).not.toContain('\n');
  });
});

describe('redactUrl', () => {
  it('hides the password, even in malformed URLs', () => {
    expect(redactUrl('mysql://root:s3cr3t@host:3306/db')).toBe('mysql://root:***@host:3306/db');
    expect(redactUrl('mysql://root:s3@cr#3t@host')).toBe('mysql://root:***@host');
    expect(redactUrl('mysql://root@host:3306')).toBe('mysql://root@host:3306');
    expect(redactUrl('mysql://host:3306')).toBe('mysql://host:3306');
  });
});
