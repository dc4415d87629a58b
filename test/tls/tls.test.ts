// TLS to a server that allows nothing else (require_secure_transport=ON, certificates made
// here by openssl, an account that needs a client certificate): the demo flow passes with
// ssl-mode=VERIFY_IDENTITY, the server records a cipher for every login dbops and its tools
// made, no password is ever in a process's argv while secrets come from files, and a wrong
// CA, a wrong host name and plaintext each fail with exit 2 and a message naming the cause.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startTlsServer, recordedLogins, sampleCiphers, type TlsServer } from '../helpers/tls-server.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { withConnection } from '../../src/mysql/client.js';
import { roleNeeds } from '../../src/doctor/required-grants.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { startTool, waitTool } from '../../src/util/tool-process.js';
import { ToolTlsError, type ToolError } from '../../src/errors.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';

const USER = 'dbops_tls';
const PASSWORD = 'Tls-Pa55-w0rd-x7';

let t: TlsServer;
let env: Record<string, string>;

/** mysql://dbops_tls@host:port?ssl-mode=…&ssl-ca=…&ssl-cert=…&ssl-key=… (no password: it comes from a file). */
function url(opts: { host?: string; mode?: string; ca?: string } = {}): string {
  const q = new URLSearchParams({ 'ssl-mode': opts.mode ?? 'VERIFY_IDENTITY', 'ssl-ca': opts.ca ?? t.certs.ca, 'ssl-cert': t.certs.clientCert, 'ssl-key': t.certs.clientKey });
  return `mysql://${USER}@${opts.host ?? 'localhost'}:${t.server.port}?${q.toString()}`;
}

/** Watches every process's argv (/proc/*\/cmdline) until stopped; returns the lines holding `needle` and how many tool lines it saw. */
function watchArgv(needle: string): { stop(): Promise<{ hits: string[]; toolLines: number }> } {
  const hits: string[] = [];
  let toolLines = 0;
  let running = true;
  // Synchronous reads: one pass over /proc takes a few ms, so short-lived tools are seen too.
  const scan = (): void => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let line: string;
      try {
        line = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (line.includes(needle)) hits.push(line);
      if (line.includes('--defaults-extra-file=/dev/fd/3')) toolLines++;
    }
  };
  const loop = (async () => {
    while (running) {
      scan();
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { hits, toolLines };
    },
  };
}

async function sql(statements: string[]): Promise<void> {
  await withConnection(t.root, async (db) => {
    for (const s of statements) await db.exec(s);
  });
}

beforeAll(async () => {
  t = await startTlsServer();
  const info = { flavor: 'mariadb' as const, major: 10, minor: 11, patch: 0 };
  const privileges = [...new Set([...roleNeeds('backup', info, { database: '' }).grants[0]!.privileges, ...roleNeeds('restore', info, { database: '' }).grants[0]!.privileges])];
  await withConnection(t.root, async (db) => {
    await db.exec("CREATE USER ?@'127.0.0.1' IDENTIFIED BY ? REQUIRE X509", [USER, PASSWORD], { sensitive: true });
    await db.exec(`GRANT ${privileges.join(', ')} ON *.* TO ?@'127.0.0.1'`, [USER]);
    // For the login record (helpers/tls-server.ts).
    await db.exec("GRANT INSERT ON tls_audit.* TO ?@'127.0.0.1'", [USER]);
    await db.exec("GRANT SELECT ON performance_schema.* TO ?@'127.0.0.1'", [USER]);
  });
  await sql([
    'CREATE DATABASE shop',
    'CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), qty INT)',
    "INSERT INTO shop.orders VALUES (1, 'apple', 3), (2, 'pear', 5)",
    'CREATE VIEW shop.big_orders AS SELECT id, item FROM shop.orders WHERE qty > 4',
  ]);
  const keys = await makeKeys();
  const repo = await tempRepoUrl();
  const secrets = await tempDir('dbops-tls-secrets-');
  const pwFile = join(secrets, 'password');
  await writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  env = {
    ...keys.env,
    DBOPS_STORAGE_URL: repo.url,
    DBOPS_SOURCE_URL: url(),
    DBOPS_SOURCE_PASSWORD_FILE: pwFile,
    DBOPS_SOURCE_DATABASES: 'shop',
    DBOPS_RESTORE_TARGET_URL: url(),
    DBOPS_RESTORE_TARGET_PASSWORD_FILE: pwFile,
    DBOPS_BINLOG_SPOOL_DIR: join(secrets, 'spool'),
  };
});

afterAll(async () => {
  await t?.server.stop();
});

describe('TLS with ssl-mode=VERIFY_IDENTITY against require_secure_transport=ON', () => {
  it('backup, verify, ship, checksum, restore, pitr and restore-test pass; every login is encrypted; no password in any argv', async () => {
    const watcher = watchArgv(PASSWORD);
    const sampler = sampleCiphers(t, USER);
    const steps: Array<[string[], () => Promise<void>]> = [
      [['init'], async () => {}],
      [['backup'], async () => sql(["INSERT INTO shop.orders VALUES (3, 'plum', 7)"])],
      [['verify', 'latest'], async () => {}],
      [['checksum'], async () => sql(["INSERT INTO shop.orders VALUES (4, 'fig', 1)"])],
      [['binlog', 'ship', '--once'], async () => {}],
      [['restore', 'latest', '--database', 'shop', '--into-schema', 'shop_restored'], async () => {}],
      [['pitr', '--to', 'latest', '--database', 'shop', '--into-schema', 'shop_pitr'], async () => {}],
      [['restore-test', '--depth', 'content'], async () => {}],
      [['doctor', '--json'], async () => {}],
    ];
    const outputs: Record<string, string> = {};
    let seen;
    let ciphers;
    try {
      for (const [args, after] of steps) {
        const r = await runCli(args, env);
        expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stderr + r.stdout).not.toContain(PASSWORD);
        outputs[args[0]!] = r.stdout;
        await after();
      }
    } finally {
      seen = await watcher.stop();
      ciphers = await sampler.stop();
    }
    expect(seen.hits, 'argv holding the password').toEqual([]);
    expect(seen.toolLines, 'tool processes were seen while they ran').toBeGreaterThan(0);

    await withConnection(t.root, async (db) => {
      expect(await db.query('SELECT id, item, qty FROM shop_restored.orders ORDER BY id')).toEqual([
        { id: 1, item: 'apple', qty: 3 },
        { id: 2, item: 'pear', qty: 5 },
      ]);
      expect((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM shop_pitr.orders'))[0]!.n).toBe(4);
    });

    const doctor = JSON.parse(outputs.doctor!) as { checks: Array<{ id: string; status: string; detail: string }> };
    for (const id of ['source.tls', 'restore.tls']) {
      expect(doctor.checks.find((c) => c.id === id), id).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^TLSv1\.[23] \S+, server certificate verified \(ssl-mode=VERIFY_IDENTITY\)$/) });
    }

    // The server's record: every login of the dbops account came over TLS, from node and
    // from each tool, and every session sampled while it ran had a cipher.
    const logins = await recordedLogins(t, `${USER}@127.0.0.1`);
    expect(logins.length).toBeGreaterThan(10);
    expect(logins.filter((l) => l.transport !== 'SSL/TLS')).toEqual([]);
    // MariaDB's tools send their legacy names as program_name.
    const programs = [...new Set(logins.map((l) => l.program))].sort();
    expect(programs).toEqual(['Node-MySQL-2', 'mysql', 'mysqlbinlog', 'mysqldump']);
    expect([...ciphers.values()].filter((c) => !/^TLS_|^ECDHE-|^DHE-/.test(c))).toEqual([]);
    // Sampling misses sessions shorter than its period (a dump of four rows); the transport of
    // every login above is the complete record, the ciphers show what TLS gave.
    const sampled = new Set(logins.filter((l) => ciphers.has(Number(l.id))).map((l) => l.program));
    expect(sampled.has('Node-MySQL-2'), 'a cipher sampled for a node session').toBe(true);
    expect(['mysql', 'mysqlbinlog', 'mysqldump'].some((p) => sampled.has(p)), 'a cipher sampled for a tool session').toBe(true);
  });

  it('a CA that did not sign the server certificate: exit 2, "server certificate not signed by ssl-ca"', async () => {
    const r = await runCli(['backup'], { ...env, DBOPS_SOURCE_URL: url({ ca: t.certs.otherCa }) });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/server certificate not signed by ssl-ca .*other-ca\.pem/);
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it('a host the certificate does not list: exit 2, "host name does not match the certificate"', async () => {
    // An IP address: mysql2 alone would compare the certificate with "localhost" and pass it.
    const r = await runCli(['backup'], { ...env, DBOPS_SOURCE_URL: url({ host: '127.0.0.1' }) });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/host name does not match the certificate \(.*IP: 127\.0\.0\.1 is not in the cert's list/);
  });

  it('ssl-mode=DISABLED against it: exit 2, "the server requires TLS (require_secure_transport)"', async () => {
    for (const args of [['backup'], ['restore', 'latest', '--database', 'shop', '--into-schema', 'shop_plain']]) {
      const r = await runCli(args, { ...env, DBOPS_SOURCE_URL: url({ mode: 'DISABLED' }), DBOPS_RESTORE_TARGET_URL: url({ mode: 'DISABLED' }) });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/the server requires TLS \(require_secure_transport\): add ssl-mode=REQUIRED or VERIFY_IDENTITY/);
    }
  });

  it('the tools check the certificate themselves (their option file carries the CA and ssl-verify-server-cert); a refusal is exit 2', async () => {
    const conn: MysqlConn = { user: USER, password: PASSWORD, host: 'localhost', port: t.server.port, tls: { mode: 'VERIFY_IDENTITY', ca: t.certs.ca, cert: t.certs.clientCert, key: t.certs.clientKey } };
    const client = findTool('mariadb')!;
    const run = async (c: MysqlConn): Promise<string | ToolError> => {
      const proc = startTool(client, ['-N', '-e', "SHOW SESSION STATUS LIKE 'Ssl_cipher'"], { credentials: c });
      proc.stdin.end();
      let out = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await waitTool(proc, 'mariadb');
        return out;
      } catch (err) {
        return err as ToolError;
      }
    };
    expect(await run(conn)).toMatch(/^Ssl_cipher\t\S+/);
    for (const bad of [{ ...conn, tls: { ...conn.tls, ca: t.certs.otherCa } }, { ...conn, host: '127.0.0.1' }]) {
      const err = await run(bad);
      expect(err).toBeInstanceOf(ToolTlsError);
      expect((err as ToolError).exitCode).toBe(2);
      expect((err as ToolError).message).toMatch(/TLS\/SSL error: .*check ssl-ca and that the host is one the server certificate lists/);
    }
  });
});
