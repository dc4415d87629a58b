// A MariaDB that accepts TLS only (require_secure_transport=ON) with a certificate chain
// made here by openssl: a CA, a server certificate for the name `localhost` only (so the
// address 127.0.0.1 is a wrong host: the case mysql2 does not check by itself), a client
// certificate, and a second CA that signed nothing of ours.
// The server's own word on dbops's connections: every login records its transport
// (performance_schema.threads.CONNECTION_TYPE) and client program into tls_audit.conn
// (init_connect; kept out of the binlog so replays never see it), and a sampler reads the
// Ssl_cipher of each live session from performance_schema.status_by_thread (inside
// init_connect the server hides the session's TLS state, so the cipher is read from outside).
import { execa } from 'execa';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { withConnection } from '../../src/mysql/client.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';
import { tempDir } from './temp-dirs.js';

export interface TestCerts {
  dir: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await execa('openssl', args, { cwd: dir, stdin: 'ignore' });
}

/** Makes the CA, server (DNS:localhost only), client and unrelated-CA files; keys are 0600. */
export async function makeCerts(): Promise<TestCerts> {
  const dir = await tempDir('dbops-tls-certs-');
  const days = ['-days', '2'];
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', ...days, '-subj', '/CN=dbops test CA']);
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.pem', ...days, '-subj', '/CN=unrelated CA']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  await openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', ...days, '-extfile', 'server.ext']);
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=dbops-client']);
  await openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', ...days, '-extfile', 'client.ext']);
  for (const key of ['ca.key', 'other-ca.key', 'server.key', 'client.key']) await chmod(join(dir, key), 0o600);
  const f = (name: string): string => join(dir, name);
  return { dir, ca: f('ca.pem'), otherCa: f('other-ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

export interface TlsServer {
  server: SandboxServer;
  certs: TestCerts;
  /** root over the unix socket (TCP needs TLS there). */
  root: MysqlConn;
}

export async function startTlsServer(): Promise<TlsServer> {
  const certs = await makeCerts();
  const server = await startSandboxServer({
    binlog: true,
    extraArgs: [
      `--ssl-ca=${certs.ca}`,
      `--ssl-cert=${certs.serverCert}`,
      `--ssl-key=${certs.serverKey}`,
      '--require-secure-transport=ON',
      // For the client program name of each connection (session_connect_attrs).
      '--performance-schema=ON',
      '--binlog-ignore-db=tls_audit',
    ],
  });
  const root: MysqlConn = { ...server.conn, socket: server.socket };
  await withConnection(root, async (db) => {
    await db.exec('CREATE DATABASE tls_audit');
    await db.exec('CREATE TABLE tls_audit.conn (id BIGINT, user VARCHAR(300), transport VARCHAR(40), program VARCHAR(200), at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))');
    // Runs at every login of an account without SUPER, as that account.
    await db.exec(
      "SET GLOBAL init_connect = \"INSERT INTO tls_audit.conn (id, user, transport, program) SELECT CONNECTION_ID(), CURRENT_USER(), (SELECT CONNECTION_TYPE FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()), (SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = CONNECTION_ID() AND ATTR_NAME IN ('program_name', '_client_name') ORDER BY ATTR_NAME = 'program_name' DESC LIMIT 1)\"",
    );
  });
  return { server, certs, root };
}

/** The logins tls_audit recorded for `user` (user@host), oldest first. */
export async function recordedLogins(t: TlsServer, user: string): Promise<Array<{ id: number; transport: string | null; program: string | null }>> {
  return withConnection(t.root, (db) => db.query<{ id: number; transport: string | null; program: string | null }>('SELECT id, transport, program FROM tls_audit.conn WHERE user = ? ORDER BY at', [user]));
}

/** Samples the Ssl_cipher of every live session of `user` (the name, no host) until stopped: connection id → cipher.
 *  Sessions still logging in (command Connect) or running init_connect's INSERT are skipped: the TLS state is hidden then. */
export function sampleCiphers(t: TlsServer, user: string): { stop(): Promise<Map<number, string>> } {
  const seen = new Map<number, string>();
  let running = true;
  const loop = withConnection(t.root, async (db) => {
    while (running) {
      const rows = await db.query<{ id: number; cipher: string | null }>(
        "SELECT t.PROCESSLIST_ID AS id, s.VARIABLE_VALUE AS cipher FROM performance_schema.threads t LEFT JOIN performance_schema.status_by_thread s ON s.THREAD_ID = t.THREAD_ID AND s.VARIABLE_NAME = 'Ssl_cipher' WHERE t.PROCESSLIST_USER = ? AND t.PROCESSLIST_COMMAND <> 'Connect' AND IFNULL(t.PROCESSLIST_INFO, '') NOT LIKE 'INSERT INTO tls_audit.%'",
        [user],
      );
      // No status row (null) is a session between two states: not read, unlike '' (plaintext).
      for (const r of rows) if (r.cipher !== null && !seen.get(Number(r.id))) seen.set(Number(r.id), r.cipher);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}
