// RPO in a report is the shipper's lag at report time (report time minus the newest event
// committed offsite), not the backup's age: with a shipper running under writes, the
// report's rpoSeconds is within 2 s of the lag `binlog status` reads at that moment, while
// the backup is much older and its age is reported apart.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { shippingStatus } from '../../src/binlog/shipping-status.js';
import { runRestoreTest } from '../../src/restore-test/run-restore-test.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
import { shipSetup, waitFor, type ShipSetup } from '../helpers/binlog-ship.js';

let source: SandboxServer;
let db: MysqlClient;
let s: ShipSetup;

beforeAll(async () => {
  const [server, keys] = await Promise.all([startSandboxServer({ binlog: true }), makeKeys()]);
  source = server;
  db = await MysqlClient.connect(source.conn);
  await db.exec('CREATE DATABASE rpo');
  await db.exec('CREATE TABLE rpo.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(40))');
  s = await shipSetup(source.url, keys, { DBOPS_SOURCE_DATABASES: 'rpo', DBOPS_BINLOG_MAX_LAG_SECONDS: '4' });
});

afterAll(async () => {
  await db?.close();
  await source?.stop();
});

describe('RPO at report time', () => {
  it('is the shipper lag at that moment (within 2 s), not the backup age, with a shipper running under writes', async () => {
    const b = await runCli(['backup'], s.env);
    expect(b.exitCode, b.stderr).toBe(0);
    const backupDone = Date.now();
    const shipper = startCli(['binlog', 'ship'], s.env);
    let writing = true;
    const writes = (async () => {
      while (writing) {
        await db.exec("INSERT INTO rpo.t (v) VALUES ('x')");
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const uuid = (await s.repo.backups.read(b.stdout.trim())).source.serverUuid;
      // The shipper keeps up, and the backup is clearly older than any lag it allows.
      await waitFor('the shipper to keep up', async () => {
        const st = await shippingStatus(s.repo, uuid);
        return st.lagSeconds !== null && st.lagSeconds <= 4 && Date.now() - backupDone > 20_000;
      }, 90_000);
      const { report } = await runRestoreTest({
        repo: s.repo,
        identityFile: s.env.DBOPS_AGE_IDENTITY_FILE!,
        backup: 'latest',
        depth: 'integrity',
        startSandbox: () => Promise.reject(new Error('an integrity test starts no sandbox')),
      });
      // What `dbops binlog status` prints as lag, read at once.
      const status = await shippingStatus(s.repo, uuid);
      expect(report.verdict).toBe('pass');
      expect(report.rpoSeconds).not.toBeNull();
      expect(Math.abs(report.rpoSeconds! - status.lagSeconds!)).toBeLessThanOrEqual(2);
      expect(['binlog-event', 'shipper-heartbeat']).toContain(report.rpo?.basis);
      // Measured at report time (finishedAt), from the event it names.
      expect(Math.abs((Date.parse(report.finishedAt) - Date.parse(report.rpo!.newestOffsiteEvent)) / 1000 - report.rpoSeconds!)).toBeLessThan(0.1);
      // The backup's age is reported apart and is far from the RPO.
      expect(report.backupAgeSeconds!).toBeGreaterThan(20);
      expect(report.backupAgeSeconds! - report.rpoSeconds!).toBeGreaterThan(10);
    } finally {
      writing = false;
      await writes;
      shipper.kill('SIGTERM');
      await shipper;
    }
  });
});
