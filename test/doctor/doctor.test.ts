// `dbops doctor` against real servers: the shared MariaDB (binlog on) passes; an account
// without privileges fails with a GRANT that, once run, is enough for a real backup and
// real binlog shipping; a server with binary logging off fails with the log_bin fix; a
// world-readable private key is flagged.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mariadb, freshDatabase } from '../helpers/mariadb.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { loadConfig } from '../../src/config/load-config.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { withConnection } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let env: Record<string, string>;
let noBinlog: SandboxServer | undefined;

beforeAll(async () => {
  keys = await makeKeys();
  const { url } = await tempRepoUrl();
  await initRepository(await openStorage(url), await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE), await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]));
  env = { ...keys.env, DBOPS_STORAGE_URL: url, DBOPS_SOURCE_URL: mariadb().url };
});

afterAll(async () => {
  await noBinlog?.stop();
  await withConnection(mariadb().conn, (db) => db.exec("DROP USER IF EXISTS 'doc_bk'@'127.0.0.1'"));
});

const doctor = async (extra: Record<string, string> = {}) => runDoctor(await loadConfig({ env: { ...env, ...extra } }));
const byId = (r: Awaited<ReturnType<typeof doctor>>, id: string) => r.checks.find((c) => c.id === id)!;

describe('dbops doctor', () => {
  it('passes on a correctly configured server (CLI, exit 0)', async () => {
    const r = await runCli(['doctor', '--json'], env);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ id: string; status: string }> };
    expect(result.ok).toBe(true);
    const status = Object.fromEntries(result.checks.map((c) => [c.id, c.status]));
    // root holds far more than the backup role: a warning, not a blocker.
    expect(status['source.privileges']).toBe('warn');
    expect(result.checks.find((c) => c.id === 'source.privileges')).toMatchObject({ detail: expect.stringMatching(/ALL PRIVILEGES ON \*\.\*.*a leaked password gives all of it/) });
    for (const id of ['source.reachable', 'source.tls', 'source.log_bin', 'source.binlog_format', 'tools.dump', 'tools.binlog', 'tools.zstd', 'tools.age', 'storage.reachable', 'storage.repository', 'keys.signing', 'keys.identity', 'source.clock']) {
      expect(status[id], id).toBe('ok');
    }
  });

  it('prints the exact GRANT a bare account needs, and that grant is enough to back up and ship', async () => {
    const db = await freshDatabase('doctor_grants');
    await withConnection(mariadb().conn, async (c) => {
      await c.exec("DROP USER IF EXISTS 'doc_bk'@'127.0.0.1'");
      await c.exec("CREATE USER 'doc_bk'@'127.0.0.1' IDENTIFIED BY 'doc-pw-1'");
      await c.exec('CREATE TABLE doctor_grants.t (id INT PRIMARY KEY)');
      await c.exec('CREATE VIEW doctor_grants.v AS SELECT id FROM doctor_grants.t');
      await c.exec('CREATE TRIGGER doctor_grants.tr BEFORE INSERT ON doctor_grants.t FOR EACH ROW SET NEW.id = NEW.id');
      await c.exec('CREATE EVENT doctor_grants.ev ON SCHEDULE EVERY 1 DAY DO SELECT 1');
      await c.exec('INSERT INTO doctor_grants.t VALUES (1), (2)');
    });
    const { port } = mariadb();
    const userUrl = `mysql://doc_bk:doc-pw-1@127.0.0.1:${port}`;
    const bare = await doctor({ DBOPS_SOURCE_URL: userUrl });
    expect(bare.ok).toBe(false);
    const priv = byId(bare, 'source.privileges');
    expect(priv.status).toBe('fail');
    expect(priv.fix).toBe("run on the server: GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'doc_bk'@'127.0.0.1';");
    await withConnection(mariadb().conn, (c) => c.exec(priv.fix!.replace(/^run on the server: /, '').replace(/;$/, '')));
    const granted = await doctor({ DBOPS_SOURCE_URL: userUrl });
    expect(byId(granted, 'source.privileges').status).toBe('ok');
    expect(granted.ok).toBe(true);

    // The grant really suffices: a backup (views, triggers, events) and binlog shipping as that account.
    const storage = await openStorage(env.DBOPS_STORAGE_URL!);
    const signingKey = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
    const repo = await openRepository(storage, { signer: signingKey });
    const recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
    const source = parseConnectionUrl(userUrl);
    const m = await runBackup({ repo, source, recipients, databases: [db.name], compressionLevel: 1, compressionThreads: 1, includeAccounts: false });
    expect(m.consistentPoint.binlogFile).toMatch(/^binlog\.\d+$/);
    const shipped = await shipBinlogs({ repo, source, recipients, compressionLevel: 1, compressionThreads: 1, spoolRoot: join(tmpdir(), `dbops-doctor-spool-${process.pid}`), maxLagSeconds: 60, once: true });
    expect(shipped.shipped.length).toBeGreaterThan(0);
  });

  it('warns when a commit may reach InnoDB but not the binlog on disk (sync_binlog, innodb_flush_log_at_trx_commit), and not once both are 1', async () => {
    // The shared test server trades durability for speed, as MariaDB's own default sync_binlog=0 does.
    const loose = byId(await doctor(), 'source.durability');
    expect(loose.status).toBe('warn');
    expect(loose.detail).toMatch(/sync_binlog is 0.*innodb_flush_log_at_trx_commit is 2/);
    expect(loose.detail).toMatch(/committed transactions/);
    expect(loose.fix).toMatch(/SET GLOBAL sync_binlog = 1.*SET GLOBAL innodb_flush_log_at_trx_commit = 1/);
    const root = mariadb().conn;
    await withConnection(root, (db) => db.exec('SET GLOBAL sync_binlog = 1, GLOBAL innodb_flush_log_at_trx_commit = 1'));
    try {
      expect(byId(await doctor(), 'source.durability')).toMatchObject({ status: 'ok', detail: 'sync_binlog and innodb_flush_log_at_trx_commit are 1' });
    } finally {
      await withConnection(root, (db) => db.exec('SET GLOBAL sync_binlog = 0, GLOBAL innodb_flush_log_at_trx_commit = 2'));
    }
  });

  it('fails on a server with binary logging off, with the log_bin fix (CLI, exit 1)', async () => {
    noBinlog = await startSandboxServer({ binlog: false });
    const r = await runCli(['doctor'], { ...env, DBOPS_SOURCE_URL: noBinlog.url });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}binary log on: log_bin is OFF/);
    expect(r.stdout).toMatch(/fix: start the server with log_bin=binlog/);
    expect(r.stderr).toMatch(/doctor found 1 blocking problem/);
  });

  it('flags a private key other users can read', async () => {
    const leaky = join(keys.dir, 'leaky-signing.key');
    await copyFile(keys.env.DBOPS_SIGNING_KEY_FILE!, leaky);
    await chmod(leaky, 0o644);
    const r = await doctor({ DBOPS_SIGNING_KEY_FILE: leaky });
    const c = byId(r, 'keys.signing');
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(/mode 0644: other users can read/);
    expect(c.fix).toBe(`chmod 600 ${leaky}`);
    expect(r.ok).toBe(false);
  });
});
