// TLS for the node connection (mysql2) with the MySQL client's ssl-mode semantics, and
// connection failures turned into messages that name the cause: a server that requires
// TLS answers a plaintext login with a bare "Access denied" (MariaDB), which used to send
// users looking for a wrong password.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { SslOptions } from 'mysql2';
import { readPrivateFile } from '../config/secret-file.js';
import { DbopsError, UsageError } from '../errors.js';
import type { MysqlConn } from './connection-url.js';
import { effectiveMode, verifiesCertificate, type SslMode } from './tls-settings.js';

/** TLS is never used over a unix socket: it is local, and servers count it as secure transport. */
export function usesTls(conn: MysqlConn): boolean {
  return !conn.socket && effectiveMode(conn.tls) !== 'DISABLED';
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? err}): point ${what} at a PEM file`);
  }
}

/**
 * mysql2's `ssl` option for this connection, or undefined for plaintext. mysql2 checks the
 * host name only for DNS names (for an IP it checks "localhost"), so for an IP host the
 * name is checked by checkPeerIdentity() right after connecting; the chain was checked
 * before the password was sent.
 */
export function mysql2Ssl(conn: MysqlConn): SslOptions | undefined {
  if (!usesTls(conn)) return undefined;
  const mode = effectiveMode(conn.tls);
  const t = conn.tls ?? {};
  const ssl: SslOptions = { rejectUnauthorized: verifiesCertificate(mode) };
  if (mode === 'VERIFY_IDENTITY' && !isIP(conn.host)) ssl.verifyIdentity = true;
  if (t.ca) ssl.ca = readPem(t.ca, 'ssl-ca');
  if (t.cert) ssl.cert = readPem(t.cert, 'ssl-cert');
  if (t.key) ssl.key = readPrivateFile(t.key, 'ssl-key');
  return ssl;
}

/** TLS for the probe after a refused plaintext login: nothing verified, the client certificate if one is set (REQUIRE X509 accounts). */
export function probeSsl(conn: MysqlConn): SslOptions {
  const ssl: SslOptions = { rejectUnauthorized: false };
  if (conn.tls?.cert && conn.tls.key) {
    ssl.cert = readPem(conn.tls.cert, 'ssl-cert');
    ssl.key = readPrivateFile(conn.tls.key, 'ssl-key');
  }
  return ssl;
}

/** VERIFY_IDENTITY to an IP address: the certificate must list that address. */
export function checkPeerIdentity(conn: MysqlConn, cert: PeerCertificate | undefined): void {
  if (effectiveMode(conn.tls) !== 'VERIFY_IDENTITY' || conn.socket || !isIP(conn.host)) return;
  const err = cert ? checkServerIdentity(conn.host, cert) : new Error('the server sent no certificate');
  if (err) throw hostMismatch(conn, err.message);
}

function where(conn: MysqlConn): string {
  return conn.socket ? `socket ${conn.socket}` : `${conn.host}:${conn.port}`;
}

function hostMismatch(conn: MysqlConn, detail: string): UsageError {
  return new UsageError(`cannot connect to ${where(conn)}: host name does not match the certificate (${detail}): connect by a name or address the certificate lists, or use ssl-mode=VERIFY_CA`);
}

interface ErrorShape {
  message?: string;
  code?: string;
  errno?: number;
}

/** OpenSSL's verify failures, as Node reports them: the chain does not lead to a trusted CA. */
const UNTRUSTED = /self[- ]signed certificate|unable to (get local issuer|get issuer|verify the first) certificate|certificate signature failure|certificate not trusted|unable to verify leaf/i;
const EXPIRED = /certificate has expired|certificate is not yet valid/i;

/**
 * A configuration error (exit 2) when the failure is one of TLS settings, else undefined
 * (the caller reports a plain connection failure). `requiresTls` tells whether a plaintext
 * login was refused because the server wants TLS (asked by the caller with a TLS probe).
 */
export function tlsConnectError(err: unknown, conn: MysqlConn, requiresTls = false): DbopsError | undefined {
  const e = (err ?? {}) as ErrorShape;
  const msg = e.message ?? String(err);
  const mode: SslMode = effectiveMode(conn.tls);
  if (e.code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return new UsageError(`cannot connect to ${where(conn)}: the server does not offer TLS but ssl-mode is ${mode}: enable TLS on the server (ssl_cert, ssl_key) or lower ssl-mode`);
  }
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /does not match certificate's altnames/i.test(msg)) return hostMismatch(conn, msg);
  if (UNTRUSTED.test(msg)) {
    return new UsageError(`cannot connect to ${where(conn)}: server certificate not signed by ssl-ca ${conn.tls?.ca ?? '(none given: the system CAs)'} (${msg}): set ssl-ca to the CA that signed the server's certificate`);
  }
  if (EXPIRED.test(msg)) return new UsageError(`cannot connect to ${where(conn)}: the server certificate is outside its validity period (${msg}): renew it on the server`);
  if (e.errno === 3159 || requiresTls) {
    return new UsageError(`cannot connect to ${where(conn)}: the server requires TLS (require_secure_transport): add ssl-mode=REQUIRED or VERIFY_IDENTITY (with ssl-ca)`);
  }
  return undefined;
}

/** A refused plaintext TCP login that may really be "TLS required" (MariaDB says only Access denied). */
export function mayBeTlsRequired(err: unknown, conn: MysqlConn): boolean {
  const e = (err ?? {}) as ErrorShape;
  return !conn.socket && !usesTls(conn) && (e.errno === 1045 || e.code === 'ER_ACCESS_DENIED_ERROR');
}
