// Faults of `dbops binlog ship`, against a real MariaDB of its own and the S3 protocol
// server: kill -9 and SIGTERM in each phase (streaming, uploading a segment, writing its
// manifest), a killed replication connection, binlogs purged before shipping (a true gap,
// recorded; pitr across it refuses naming the window), a full spool filesystem, and two
// writers. Each case checks the outcome and that nothing was lost: every closed file of
// the source is in the repository once, byte for byte, in one unbroken chain.
// (A source restart while shipping: ship-source-restart.test.ts beside this file. These run
// the shipper without partial segments, where whole files are all it writes; the faults of
// partial segments: partial-segments.test.ts.)
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository } from '../../src/repo/repository.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { shippingStatus } from '../../src/binlog/shipping-status.js';
import type { SegmentManifest } from '../../src/binlog/segment-manifest.js';
import { collectStatus, evaluateHealth } from '../../src/daemon/health.js';
import { GAP_FORMAT } from '../../src/binlog/gap-record.js';
import { loadSigningKey, signDocument } from '../../src/crypto/signing.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { leaseKey, newest as newestLease } from '../../src/storage/lease.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { startHoldProxy, type HoldProxy, type HeldRequest } from '../helpers/s3-hold-proxy.js';
import { shipSetup, segments, sha256, waitFor, expectContiguous, dumpThreads as dumpThreadsOf, type ShipSetup } from '../helpers/binlog-ship.js';
import { gapKey } from '../../src/storage/layout.js';

let server: SandboxServer;
let db: MysqlClient;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let s3: S3TestServer;
let proxy: HoldProxy;
let row = 0;

beforeAll(async () => {
  [server, keys, s3] = await Promise.all([startSandboxServer({ binlog: true }), makeKeys(), startS3Server()]);
  proxy = await startHoldProxy(s3);
  db = await MysqlClient.connect(server.conn);
  await db.exec('CREATE DATABASE faults');
  await db.exec('CREATE TABLE faults.t (id INT PRIMARY KEY, v VARCHAR(2000))');
});

afterAll(async () => {
  await db?.close();
  await proxy?.close();
  await server?.stop();
  await s3?.cleanup();
});

async function insertRows(n: number, width = 40): Promise<void> {
  for (let i = 0; i < n; i++) await db.exec('INSERT INTO faults.t VALUES (?, ?)', [++row, `row ${row} `.padEnd(width, 'x')]);
}

async function serverLogs(): Promise<string[]> {
  return (await db.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((r) => r.Log_name);
}

function dumpThreads(): Promise<number[]> {
  return dumpThreadsOf(db);
}

/**
 * A killed client's dump thread lingers on the server until it next sends an event: end
 * those of earlier cases, so that counting connections counts this case's shippers only.
 */
async function endLeftoverDumps(): Promise<void> {
  for (const id of await dumpThreads()) await db.exec(`KILL ${id}`).catch(() => undefined);
  await waitFor('no dump connection left', async () => (await dumpThreads()).length === 0);
}

interface LogLine {
  level: number | string;
  msg: string;
  [k: string]: unknown;
}

function logLines(stderr: string): LogLine[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

/** Live binlog streamer processes writing into a spool directory. */
async function streamers(spool: string): Promise<number> {
  let n = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(`--result-file=${spool}`) && !cmd.startsWith('sh\0')) n++;
  }
  return n;
}

/** A repository on the S3 server behind the stall proxy, and a spool dir. */
async function s3Setup(extra: Record<string, string> = {}): Promise<ShipSetup & { prefix: string }> {
  const prefix = `ship-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const url = proxy.url(prefix);
  const spool = await mkdtemp(join(tmpdir(), 'dbops-spool-'));
  const storage = await openStorage(s3.url(prefix));
  await initRepository(storage, await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE), await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]));
  return {
    env: { ...keys.env, ...s3TestEnv, DBOPS_STORAGE_URL: url, DBOPS_SOURCE_URL: server.url, DBOPS_BINLOG_SPOOL_DIR: spool, DBOPS_BINLOG_MAX_LAG_SECONDS: '3', DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false', ...extra },
    repo: await openRepository(storage),
    repoDir: '',
    spool,
    prefix,
  };
}

async function sourceIdOf(s: ShipSetup): Promise<string> {
  const ids: string[] = [];
  for await (const o of s.repo.storage.list('binlogs/')) ids.push(o.key.split('/')[1]!);
  return ids[0] ?? '';
}

/** Nothing lost: every closed file of the source up to `through` is shipped once, byte for byte, in order, without a gap. */
async function expectWholeChain(s: ShipSetup, sourceId: string, through: string): Promise<SegmentManifest[]> {
  const list = await segments(s, sourceId);
  const logs = await serverLogs();
  expect(list.map((m) => m.file)).toEqual(logs.slice(0, logs.indexOf(through) + 1));
  expect(list[0]!.previousFile).toBeNull();
  expectContiguous(list);
  for (const m of list) expect(m.rawSha256, m.file).toBe(sha256(await readFile(join(server.binlogDir, m.file))));
  expect((await shippingStatus(s.repo, sourceId)).gaps).toEqual([]);
  return list;
}

describe('kill -9 and SIGTERM of binlog ship in each phase', () => {
  const phases = ['streaming', 'uploading', 'manifest'] as const;
  const cases = phases.flatMap((phase) => (['SIGKILL', 'SIGTERM'] as const).map((signal) => ({ phase, signal })));

  it.each(cases)('$signal while $phase: the next run resumes, nothing twice, nothing lost', async ({ phase, signal }) => {
    const s = await s3Setup();
    await insertRows(3);
    // One case also proves the resumed chain replays: PITR from a backup taken before the kill.
    const withPitr = phase === 'uploading' && signal === 'SIGKILL';
    if (withPitr) {
      const backup = await runCli(['backup', '--databases', 'faults'], s.env);
      expect(backup.exitCode, backup.stderr).toBe(0);
      await insertRows(3);
    }
    const first = startCli(['binlog', 'ship'], s.env);
    let stderr = '';
    first.stderr?.on('data', (c: Buffer) => (stderr += String(c)));
    let sourceId = '';
    let held: HeldRequest | undefined;
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1, 30_000);
      await waitFor('a first segment', async () => {
        sourceId ||= await sourceIdOf(s);
        return sourceId !== '' && (await s.repo.binlogs.segments(sourceId)).segments.length >= 1;
      }, 30_000);
      if (phase === 'streaming') {
        // Transactions in the active file, not yet rotated out (the rotation budget is 1.5 s).
        const active = (await serverLogs()).at(-1)!;
        const before = (await stat(join(s.spool, sourceId, active)).catch(() => undefined))?.size ?? 0;
        await insertRows(2);
        await waitFor('the rows in the spool copy', async () => ((await stat(join(s.spool, sourceId, active)).catch(() => undefined))?.size ?? 0) > before);
      } else {
        const holding = proxy.hold((r) => r.method === 'PUT' && r.key !== null && r.key.startsWith(`${s.prefix}/binlogs/`) && !r.key.includes('/partial/') && (phase === 'uploading' ? r.key.endsWith('.zst.age') : /binlog\.\d+\.json$/.test(r.key)));
        await insertRows(2);
        await db.exec('FLUSH BINARY LOGS');
        held = await holding;
      }
      first.kill(signal);
      // Killed: the request never reaches the store. Stopped: it goes through and the shipper finishes.
      if (signal === 'SIGKILL') held?.drop();
      else held?.release();
      const done = await first;
      if (signal === 'SIGTERM') expect(done.exitCode, stderr).toBe(0);
      else expect(done.signal).toBe('SIGKILL');
    } finally {
      first.kill('SIGKILL');
      await first.catch(() => undefined);
    }
    // A killed shipper's streamer stops with it (the wrapper sees its stdin close).
    await waitFor('the orphaned streamer to exit', async () => (await streamers(s.spool)) === 0, 10_000);
    const shippedBefore = (await segments(s, sourceId)).map((m) => m.file);
    await insertRows(2);
    // The next shipper takes over at once: the killed one's lease names a process that is gone.
    const r = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { shipped: string[]; gaps: unknown[] };
    expect(out.gaps).toEqual([]);
    expect(out.shipped.filter((f) => shippedBefore.includes(f))).toEqual([]);
    const list = await expectWholeChain(s, sourceId, (await serverLogs()).at(-2)!);
    // Every transaction written is in the chain (--once rotated the last ones out).
    expect(list.at(-1)!.gtid.atEnd).toBe((await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]!.g);
    if (withPitr) {
      const target = await startSandboxServer({ binlog: false });
      try {
        const pitr = await runCli(['pitr', '--to', 'latest', '--target', target.url, '--json'], s.env);
        expect(pitr.exitCode, pitr.stderr).toBe(0);
        const sum = 'SELECT COUNT(*) AS n, SUM(CRC32(CONCAT(id, v))) AS c FROM faults.t';
        const restored = await MysqlClient.connect(target.conn);
        try {
          expect(await restored.query(sum)).toEqual(await db.query(sum));
        } finally {
          await restored.close();
        }
      } finally {
        await target.stop();
      }
    }
  });
});

describe('source faults', () => {
  it('reconnects on its own when the replication connection is killed', async () => {
    const s = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false', DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const shipper = startCli(['binlog', 'ship'], s.env);
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      const [thread] = await dumpThreads();
      await db.exec(`KILL ${thread}`);
      await insertRows(3);
      const marker = (await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]!.g;
      await waitFor('a new dump connection', async () => (await dumpThreads()).some((id) => id !== thread));
      // The transactions written while disconnected reach the repository within the lag budget.
      await waitFor('the rows written while disconnected to be shipped', async () => {
        const ids = await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]);
        if (!ids[0]) return false;
        return (await s.repo.binlogs.segments(ids[0])).segments.some((m) => m.gtid.atEnd === marker);
      }, 15_000);
      expect(shipper.exitCode).toBeNull();
      shipper.kill('SIGTERM');
      const done = await shipper;
      expect(done.exitCode, String(done.stderr)).toBe(0);
      expect(String(done.stderr)).toMatch(/binlog stream from the source ended; reconnecting/);
    } finally {
      shipper.kill('SIGKILL');
    }
  });

  it('a gap an older version recorded while the source still had the files is healed: shipped, record removed', async () => {
    const s = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false' });
    await insertRows(1);
    const r1 = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(r1.exitCode, r1.stderr).toBe(0);
    const { serverUuid, lastShipped } = JSON.parse(r1.stdout) as { serverUuid: string; lastShipped: string };
    for (let i = 0; i < 3; i++) {
      await insertRows(1);
      await db.exec('FLUSH BINARY LOGS');
    }
    const r2 = await runCli(['binlog', 'ship', '--once'], s.env);
    expect(r2.exitCode, r2.stderr).toBe(0);
    // What the old shipper left after its spool filled: two files never shipped, a signed gap record for them.
    const [f1, f2, after] = (await segments(s, serverUuid)).map((m) => m.file).filter((f) => f > lastShipped);
    for (const f of [f1!, f2!]) {
      await rm(join(s.repoDir, 'binlogs', serverUuid, `${f}.json`));
      await rm(join(s.repoDir, 'binlogs', serverUuid, `${f}.zst.age`));
    }
    const record = { format: GAP_FORMAT, version: 1 as const, repositoryId: s.repo.config.id, serverUuid, from: f1!, to: f2!, after: lastShipped, before: after!, reason: 'missing-from-sequence' as const, detectedAt: new Date().toISOString() };
    await s.repo.storage.put(gapKey(serverUuid, f1!, f2!), Buffer.from(JSON.stringify(signDocument(record, await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE)))));
    expect((await shippingStatus(s.repo, serverUuid)).gaps).toHaveLength(1);

    const r3 = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(r3.exitCode, r3.stderr).toBe(0);
    expect((JSON.parse(r3.stdout) as { shipped: string[] }).shipped).toEqual(expect.arrayContaining([f1, f2]));
    expect(logLines(r3.stderr).some((l) => l.msg === 'binlog gap healed: the source still had the files; shipped them')).toBe(true);
    expect(await readdir(join(s.repoDir, 'binlogs', serverUuid, 'gaps'))).toEqual([]);
    await expectWholeChain(s, serverUuid, (await serverLogs()).at(-2)!);
  });

  it('binlogs purged before shipping: a true gap, recorded loudly, and pitr across it refuses naming the window', async () => {
    const s = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false' });
    const backup = await runCli(['backup', '--databases', 'faults'], s.env);
    expect(backup.exitCode, backup.stderr).toBe(0);
    // A transaction after the backup, so the first run rotates and ships the backup's own file: a window exists.
    await insertRows(1);
    const r1 = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(r1.exitCode, r1.stderr).toBe(0);
    const { serverUuid, lastShipped } = JSON.parse(r1.stdout) as { serverUuid: string; lastShipped: string };
    for (let i = 0; i < 3; i++) {
      await insertRows(1);
      await db.exec('FLUSH BINARY LOGS');
    }
    const logs = await serverLogs();
    const current = logs.at(-1)!;
    const lost = logs.filter((f) => f > lastShipped && f < current);
    expect(lost.length).toBe(3);
    // MariaDB keeps a file until its binlog checkpoint passed (InnoDB made its commits durable): retry.
    await waitFor('the purge to take effect', async () => {
      await db.exec(`PURGE BINARY LOGS TO '${current}'`);
      return (await serverLogs())[0] === current;
    });
    await db.exec('SET GLOBAL binlog_row_image = MINIMAL');
    await db.exec('SET GLOBAL binlog_expire_logs_seconds = 600');
    try {
      await insertRows(2);
      const r2 = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
      expect(r2.exitCode, r2.stderr).toBe(0);
      const out = JSON.parse(r2.stdout) as { gaps: Array<{ from: string; to: string; reason: string }>; shipped: string[]; warnings: string[] };
      expect(out.gaps, r2.stderr).toEqual([{ from: lost[0], to: lost.at(-1), reason: 'purged-on-source' }]);
      expect(out.shipped[0]).toBe(current);
      // Logged at error level (pino level 50) and the start-up warnings are there.
      expect(logLines(r2.stderr).some((e) => e.level === 'error' && /binlog gap/.test(e.msg))).toBe(true);
      expect(out.warnings.join('\n')).toMatch(/binlog_row_image is MINIMAL/);
      expect(out.warnings.join('\n')).toMatch(/expires binlogs after 600 s/);
      expect(await readdir(join(s.repoDir, 'binlogs', serverUuid, 'gaps'))).toEqual([`${lost[0]}-${lost.at(-1)}.json`]);

      const status = await shippingStatus(s.repo, serverUuid);
      expect(status.gaps).toEqual([expect.objectContaining({ from: lost[0], to: lost.at(-1), recorded: true, reason: 'purged-on-source' })]);
      const human = await runCli(['binlog', 'status'], s.env);
      expect(human.exitCode).toBe(0);
      expect(human.stdout).toContain(`gap ${lost[0]} … ${lost.at(-1)}`);
      // The segment after the gap names the last file before it: the chain break is visible in manifests too.
      const after = (await segments(s, serverUuid)).find((m) => m.file === current)!;
      expect(after.previousFile).toBe(lastShipped);
      expect(r2.stderr).not.toContain(server.conn.password);

      // PITR from the backup across the gap: refused (exit 2), naming the missing file, why, and what is recoverable.
      const pitr = await runCli(['pitr', '--to', 'latest', '--target', 'mysql://root@127.0.0.1:1', '--dry-run'], s.env);
      expect(pitr.exitCode, pitr.stderr).toBe(2);
      expect(pitr.stderr).toContain(`binlog ${lost[0]} is purged on the source before it was shipped`);
      expect(pitr.stderr).toMatch(/recoverable: .* → .*from backup/);
    } finally {
      await db.exec('SET GLOBAL binlog_row_image = FULL');
      await db.exec('SET GLOBAL binlog_expire_logs_seconds = 0');
    }
  });
});

describe('a full spool filesystem', () => {
  let mnt = '';

  beforeAll(async () => {
    // A real small filesystem (tests run as root): 4 MiB of tmpfs for the spool.
    mnt = await mkdtemp(join(tmpdir(), 'dbops-small-spool-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'dbops-test-spool', mnt]);
  });

  afterAll(async () => {
    if (!mnt) return;
    await execa('umount', ['-l', mnt], { reject: false });
    await rm(mnt, { recursive: true, force: true });
  });

  it('says ENOSPC (log, heartbeat, status), records no gap, and resumes by itself once there is room', async () => {
    const s = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false', DBOPS_BINLOG_MAX_LAG_SECONDS: '3', DBOPS_BINLOG_SPOOL_DIR: mnt });
    const shipper = startCli(['binlog', 'ship'], s.env);
    let stderr = '';
    shipper.stderr?.on('data', (c: Buffer) => (stderr += String(c)));
    const stillRunning = (): void => {
      if (shipper.exitCode !== null) throw new Error(`the shipper exited with ${shipper.exitCode}:\n${stderr.slice(-3000)}`);
    };
    let sourceId = '';
    const blocker = join(mnt, 'blocker');
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      await insertRows(3);
      await waitFor('a first segment', async () => {
        stillRunning();
        sourceId ||= (await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]))[0] ?? '';
        return sourceId !== '' && (await s.repo.binlogs.segments(sourceId)).segments.length >= 1;
      });
      // Something else fills the filesystem; the source keeps writing and rotating.
      await execa('dd', ['if=/dev/zero', `of=${blocker}`, 'bs=64k'], { reject: false });
      for (let i = 0; i < 4; i++) {
        await insertRows(30, 2000);
        await db.exec('FLUSH BINARY LOGS');
      }
      await waitFor('the shipper to report the full spool', async () => {
        stillRunning();
        return logLines(stderr).some((l) => l.level === 'error' && /ENOSPC/.test(l.msg));
      }, 40_000);
      const line = logLines(stderr).find((l) => l.level === 'error' && /ENOSPC/.test(l.msg))!;
      expect(line.msg).toContain(`binlog spool ${join(mnt, sourceId)} is full (ENOSPC, no space left on device)`);
      expect(line.msg).toMatch(/free space there or set binlog\.spoolDir/);
      await waitFor('the heartbeat to carry the problem', async () => (await s.repo.binlogs.shipperState(sourceId))?.problem?.kind === 'spool-full');
      const status = JSON.parse((await runCli(['binlog', 'status', '--json'], s.env)).stdout) as { sources: Array<{ shipper: { problem: { kind: string; message: string } | null } }> };
      expect(status.sources[0]!.shipper.problem).toMatchObject({ kind: 'spool-full', message: expect.stringContaining('ENOSPC') });
      // What the daemon reads: a /healthz reason and a metric, from the repository alone.
      const facts = await collectStatus(s.repo, { pitrWindowMs: 7 * 86_400_000, maxUntestedDays: 7 });
      const reasons = evaluateHealth(facts, { backupStaleAfterMs: 1e12, restoreTestStaleAfterMs: 1e12, shippingLagLimitSeconds: 1e9, pitrWindowMs: 7 * 86_400_000, maxUntestedDays: 7, expectShipping: true });
      expect(reasons.map((r) => r.key)).toContain(`shipping-spool-full:${sourceId}`);
      expect(reasons.find((r) => r.key === `shipping-spool-full:${sourceId}`)!.message).toMatch(/ENOSPC/);
      expect(await new DaemonMetrics().render({ facts, reasons, state: { format: 'horizn-dbops/daemon-state', version: 1, jobs: {} }, shipper: null })).toContain(`dbops_binlog_spool_full{source="${sourceId}"} 1`);
      // An operator removes the spool's copies (as older versions told them to): still no harm.
      for (const f of await readdir(join(mnt, sourceId))) if (f.startsWith('binlog.')) await rm(join(mnt, sourceId, f));
      await insertRows(5);
      await db.exec('FLUSH BINARY LOGS');
      await new Promise((r) => setTimeout(r, 3000));
      stillRunning();

      // Room again: shipping resumes by itself and catches up.
      await rm(blocker);
      await waitFor('shipping to resume', async () => {
        stillRunning();
        return logLines(stderr).some((l) => l.msg === 'binlog spool has room again; shipping resumes');
      }, 30_000);
      await waitFor('everything but the active file to be shipped', async () => {
        stillRunning();
        return (await segments(s, sourceId)).at(-1)?.file === (await serverLogs()).at(-2);
      }, 30_000);
      await waitFor('the heartbeat to clear the problem', async () => (await s.repo.binlogs.shipperState(sourceId))?.problem === null);
      expect(await new DaemonMetrics().render({ facts: await collectStatus(s.repo, { pitrWindowMs: 7 * 86_400_000, maxUntestedDays: 7 }), reasons: [], state: { format: 'horizn-dbops/daemon-state', version: 1, jobs: {} }, shipper: null })).toContain(`dbops_binlog_spool_full{source="${sourceId}"} 0`);
      shipper.kill('SIGTERM');
      const done = await shipper;
      expect(done.exitCode, stderr).toBe(0);
      expect(logLines(stderr).filter((l) => /binlog gap/.test(l.msg))).toEqual([]);
      await expectWholeChain(s, sourceId, (await serverLogs()).at(-2)!);
      expect(await stat(join(s.repoDir, 'binlogs', sourceId, 'gaps')).catch(() => null)).toBeNull();

      // And after a restart nothing changes: no gap appears, the next files follow on.
      await insertRows(2);
      const again = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
      expect(again.exitCode, again.stderr).toBe(0);
      expect((JSON.parse(again.stdout) as { gaps: unknown[] }).gaps).toEqual([]);
      await expectWholeChain(s, sourceId, (await serverLogs()).at(-2)!);
    } finally {
      shipper.kill('SIGKILL');
      await shipper.catch(() => undefined);
      await rm(blocker, { force: true });
    }
  });

  it('--once on a full spool fails (exit 1) naming ENOSPC, and records no gap', async () => {
    const s = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false', DBOPS_BINLOG_SPOOL_DIR: mnt });
    const blocker = join(mnt, 'blocker');
    try {
      await execa('dd', ['if=/dev/zero', `of=${blocker}`, 'bs=64k'], { reject: false });
      await insertRows(3);
      const r = await runCli(['binlog', 'ship', '--once'], s.env);
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/binlog spool .* is full \(ENOSPC/);
      expect(r.stderr).not.toMatch(/binlog gap/);
      await rm(blocker);
      const ok = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect((JSON.parse(ok.stdout) as { gaps: unknown[] }).gaps).toEqual([]);
    } finally {
      await rm(blocker, { force: true });
    }
  });
});

describe('two writers', () => {
  it('a second shipper on one repository and source exits 1 naming the holder, and the first is not disturbed', async () => {
    await endLeftoverDumps();
    const s = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false', DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const first = startCli(['binlog', 'ship'], s.env);
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      const [thread] = await dumpThreads();
      const shipped = async (): Promise<string[]> => {
        const id = (await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]))[0];
        return id ? (await segments(s, id)).map((m) => m.file) : [];
      };
      await insertRows(2);
      await waitFor('a first segment', async () => (await shipped()).length >= 1);
      // Another host's cron job, or a second daemon: its own spool, the same repository.
      const otherSpool = await mkdtemp(join(tmpdir(), 'dbops-spool-'));
      const before = await shipped();
      for (const args of [['binlog', 'ship', '--once'], ['binlog', 'ship']]) {
        const second = await runCli(args, { ...s.env, DBOPS_BINLOG_SPOOL_DIR: otherSpool });
        expect(second.exitCode, second.stderr).toBe(1);
        expect(second.stderr).toContain(`is held by host ${hostname()} pid ${first.pid}`);
        expect(second.stderr).toMatch(/only one may write/);
      }
      // The first kept its replication connection, nothing was uploaded by the second.
      expect(await dumpThreads()).toEqual([thread]);
      expect((await readdir(otherSpool, { recursive: true })).filter((f) => f.includes('binlog.'))).toEqual([]);
      expect((await shipped()).slice(0, before.length)).toEqual(before);
      first.kill('SIGTERM');
      expect((await first).exitCode).toBe(0);
      // Released on exit: the next shipper starts at once.
      const next = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
      expect(next.exitCode, next.stderr).toBe(0);
      const id = (await readdir(join(s.repoDir, 'binlogs')))[0]!;
      await expectWholeChain(s, id, (await serverLogs()).at(-2)!);
    } finally {
      first.kill('SIGKILL');
      await first.catch(() => undefined);
    }
  });

  it('on S3 (which ignores If-None-Match here) too; a shipper whose lease is taken over stops (exit 1) naming the new holder', async () => {
    const s = await s3Setup();
    const first = startCli(['binlog', 'ship'], s.env);
    let stderr = '';
    first.stderr?.on('data', (c: Buffer) => (stderr += String(c)));
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1, 30_000);
      let sourceId = '';
      await waitFor('the lease', async () => {
        sourceId ||= await sourceIdOf(s);
        return sourceId !== '' && (await newestLease(s.repo.storage, `binlogs/${sourceId}/state/`)) !== undefined;
      });
      const second = await runCli(['binlog', 'ship', '--once'], { ...s.env, DBOPS_BINLOG_SPOOL_DIR: await mkdtemp(join(tmpdir(), 'dbops-spool-')) });
      expect(second.exitCode, second.stderr).toBe(1);
      expect(second.stderr).toContain(`is held by host ${hostname()} pid ${first.pid}`);
      // Another host decides the lease expired and takes it (as after a long pause of this one).
      const held = (await newestLease(s.repo.storage, `binlogs/${sourceId}/state/`))!;
      const now = new Date();
      const taken = { ...held.doc, generation: held.doc.generation + 1, holder: { host: 'other-host', pid: 4242, token: 'forged' }, renewedAt: now.toISOString(), expiresAt: new Date(now.getTime() + 600_000).toISOString() };
      await s.repo.storage.put(leaseKey(`binlogs/${sourceId}/state/`, taken.generation), Buffer.from(JSON.stringify(taken)));
      const done = await first;
      expect(done.exitCode, stderr).toBe(1);
      expect(stderr).toMatch(/lease lost: taken over by host other-host pid 4242/);
      await waitFor('its streamer to exit', async () => (await streamers(s.spool)) === 0, 10_000);
    } finally {
      first.kill('SIGKILL');
      await first.catch(() => undefined);
    }
  });

  it('two shippers of one source to two repositories run at once (a replica id per repository)', async () => {
    await endLeftoverDumps();
    const a = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false', DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const b = await shipSetup(server.url, keys, { DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false', DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const shippers = [startCli(['binlog', 'ship'], a.env), startCli(['binlog', 'ship'], b.env)];
    const stderr = ['', ''];
    shippers.forEach((p, i) => p.stderr?.on('data', (c: Buffer) => (stderr[i] += String(c))));
    try {
      await waitFor('two dump connections', async () => {
        if (shippers.some((p) => p.exitCode !== null)) throw new Error(`a shipper exited:\n${stderr.join('\n')}`);
        return (await dumpThreads()).length === 2;
      }, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${stderr.join('\n').slice(-4000)}`);
      });
      const threads = await dumpThreads();
      await insertRows(3);
      await db.exec('FLUSH BINARY LOGS');
      const target = (await serverLogs()).at(-2)!;
      for (const s of [a, b]) {
        await waitFor('both repositories to have the rotated file', async () => {
          const id = (await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]))[0];
          return id !== undefined && (await segments(s, id)).some((m) => m.file === target);
        }, 20_000);
      }
      // Neither knocked the other off the source.
      expect(await dumpThreads(), stderr.join('\n').slice(-6000)).toEqual(threads);
      for (const p of shippers) p.kill('SIGTERM');
      for (const p of shippers) expect((await p).exitCode).toBe(0);
      for (const s of [a, b]) await expectWholeChain(s, (await readdir(join(s.repoDir, 'binlogs')))[0]!, target);
    } finally {
      for (const p of shippers) p.kill('SIGKILL');
      await Promise.all(shippers.map((p) => p.catch(() => undefined)));
    }
  });
});
