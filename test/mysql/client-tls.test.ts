// The node side of TLS without a server: which mysql2 options each ssl-mode gives, the host
// name check for IP hosts that mysql2 skips, and how TLS failures become messages.
import { describe, it, expect } from 'vitest';
import type { PeerCertificate } from 'node:tls';
import { checkPeerIdentity, mysql2Ssl, tlsConnectError, usesTls } from '../../src/mysql/client-tls.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';
import { UsageError } from '../../src/errors.js';

const base: MysqlConn = { user: 'u', password: 'p', host: 'db.example', port: 3306 };

describe('mysql2Ssl', () => {
  it('follows ssl-mode: nothing for DISABLED and sockets, unverified for PREFERRED/REQUIRED, verified for VERIFY_*', () => {
    expect(mysql2Ssl({ ...base, tls: { mode: 'DISABLED' } })).toBeUndefined();
    expect(mysql2Ssl({ ...base, socket: '/run/mysqld.sock', tls: { mode: 'VERIFY_IDENTITY' } })).toBeUndefined();
    expect(usesTls({ ...base, socket: '/s' })).toBe(false);
    expect(mysql2Ssl(base)).toEqual({ rejectUnauthorized: false });
    expect(mysql2Ssl({ ...base, tls: { mode: 'REQUIRED' } })).toEqual({ rejectUnauthorized: false });
    expect(mysql2Ssl({ ...base, tls: { mode: 'VERIFY_CA' } })).toEqual({ rejectUnauthorized: true });
    expect(mysql2Ssl({ ...base, tls: { mode: 'VERIFY_IDENTITY' } })).toEqual({ rejectUnauthorized: true, verifyIdentity: true });
    // An IP address: our own check after connecting (mysql2 would compare it with "localhost").
    expect(mysql2Ssl({ ...base, host: '10.0.0.5', tls: { mode: 'VERIFY_IDENTITY' } })).toEqual({ rejectUnauthorized: true });
  });

  it('says which file it cannot read', () => {
    expect(() => mysql2Ssl({ ...base, tls: { mode: 'VERIFY_CA', ca: '/nonexistent/ca.pem' } })).toThrow('cannot read ssl-ca /nonexistent/ca.pem (ENOENT): point ssl-ca at a PEM file');
  });
});

describe('checkPeerIdentity', () => {
  const cert = (altnames: string): PeerCertificate => ({ subject: { CN: 'db' }, subjectaltname: altnames }) as unknown as PeerCertificate;
  const ip = { ...base, host: '10.0.0.5', tls: { mode: 'VERIFY_IDENTITY' as const } };

  it('accepts an IP host the certificate lists and refuses one it does not, as a host name mismatch', () => {
    expect(() => checkPeerIdentity(ip, cert('IP Address:10.0.0.5'))).not.toThrow();
    expect(() => checkPeerIdentity(ip, cert('DNS:localhost'))).toThrow(UsageError);
    expect(() => checkPeerIdentity(ip, cert('DNS:localhost'))).toThrow(/host name does not match the certificate/);
  });

  it('checks nothing below VERIFY_IDENTITY or for DNS names (mysql2 checks those before the login)', () => {
    expect(() => checkPeerIdentity({ ...ip, tls: { mode: 'VERIFY_CA' } }, cert('DNS:other'))).not.toThrow();
    expect(() => checkPeerIdentity({ ...ip, host: 'db.example' }, cert('DNS:other'))).not.toThrow();
  });
});

describe('tlsConnectError', () => {
  const verify: MysqlConn = { ...base, tls: { mode: 'VERIFY_IDENTITY', ca: '/etc/dbops/ca.pem' } };

  it.each([
    [{ code: 'HANDSHAKE_SSL_ERROR', message: 'self-signed certificate in certificate chain' }, /server certificate not signed by ssl-ca \/etc\/dbops\/ca\.pem/],
    [{ code: 'HANDSHAKE_SSL_ERROR', message: 'unable to verify the first certificate' }, /server certificate not signed by ssl-ca/],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames: Host: db.example. is not in the cert's altnames: DNS:other" }, /host name does not match the certificate/],
    [{ code: 'HANDSHAKE_NO_SSL_SUPPORT', message: 'Server does not support secure connection' }, /does not offer TLS but ssl-mode is VERIFY_IDENTITY/],
    [{ code: 'HANDSHAKE_SSL_ERROR', message: 'certificate has expired' }, /outside its validity period/],
    [{ code: 'ER_SECURE_TRANSPORT_REQUIRED', errno: 3159, message: 'Connections using insecure transport are prohibited' }, /the server requires TLS \(require_secure_transport\)/],
  ])('%o → a UsageError (exit 2) naming the cause', (err, message) => {
    const e = tlsConnectError(err, verify);
    expect(e).toBeInstanceOf(UsageError);
    expect(e!.message).toMatch(message);
    expect(e!.message).toMatch(/^cannot connect to db\.example:3306: /);
  });

  it('leaves a plain refusal alone unless a TLS login was accepted instead', () => {
    const denied = { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, message: "Access denied for user 'u'" };
    expect(tlsConnectError(denied, base)).toBeUndefined();
    expect(tlsConnectError(denied, { ...base, tls: { mode: 'DISABLED' } }, true)!.message).toMatch(/requires TLS \(require_secure_transport\): add ssl-mode=REQUIRED or VERIFY_IDENTITY/);
  });
});
