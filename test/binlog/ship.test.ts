// Binlog shipping against a real MariaDB of its own (the shared server belongs to other
// tests): --once, continuous mode with bounded lag and clean SIGTERM, kill -9 and resume
// (also mid-upload, then PITR across it),
// a dropped replication connection, and a purged binlog recorded as a gap.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { shippingStatus } from '../../src/binlog/shipping-status.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
import { fakeBin, withPath } from '../helpers/fake-tools.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { shipSetup, segments, sha256, waitFor, expectContiguous, dumpThreads as dumpThreadsOf, type ShipSetup } from '../helpers/binlog-ship.js';

let server: SandboxServer;
let db: MysqlClient;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let row = 0;

beforeAll(async () => {
  [server, keys] = await Promise.all([startSandboxServer({ binlog: true }), makeKeys()]);
  db = await MysqlClient.connect(server.conn);
  await db.exec('CREATE DATABASE shipt');
  await db.exec('CREATE TABLE shipt.t (id INT PRIMARY KEY, v VARCHAR(40))');
});

afterAll(async () => {
  await db?.close();
  await server?.stop();
});

async function insertRows(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await db.exec('INSERT INTO shipt.t VALUES (?, ?)', [++row, `row ${row}`]);
}

function setup(extra: Record<string, string> = {}): Promise<ShipSetup> {
  return shipSetup(server.url, keys, extra);
}

/** `age -d | zstd -d` of a stored object, as a responder would do by hand. */
async function decrypt(s: ShipSetup, key: string): Promise<Buffer> {
  // stripFinalNewline off: execa strips a trailing 0x0a even from binary output, which
  // made 1 segment in 256 (compressed or plain bytes ending in a newline) look damaged.
  const binary = { encoding: 'buffer', stripFinalNewline: false } as const;
  const age = await execa('age', ['-d', '-i', keys.env.DBOPS_AGE_IDENTITY_FILE!], { inputFile: join(s.repoDir, key), ...binary });
  const zstd = await execa('zstd', ['-d', '-c'], { input: age.stdout, ...binary });
  return Buffer.from(zstd.stdout);
}

async function serverLogs(): Promise<string[]> {
  return (await db.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((r) => r.Log_name);
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

function dumpThreads(): Promise<number[]> {
  return dumpThreadsOf(db);
}

describe('binlog ship --once', () => {
  it('ships every closed file byte for byte with signed segment manifests, and nothing twice', async () => {
    const s = await setup();
    await insertRows(5);
    await db.exec('FLUSH BINARY LOGS');
    await insertRows(3);
    const before = await serverLogs();
    const r = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { serverUuid: string; shipped: string[]; gaps: unknown[] };
    // --once rotated the active file (it held transactions), so every pre-existing file is closed and shipped.
    expect(out.shipped).toEqual(before);
    expect(out.gaps).toEqual([]);

    const list = await segments(s, out.serverUuid);
    expect(list.map((m) => m.file)).toEqual(before);
    expectContiguous(list);
    expect(list[0]!.previousFile).toBeNull();
    for (const m of list) {
      const onServer = await readFile(join(server.binlogDir, m.file));
      expect(m.rawBytes).toBe(onServer.length);
      expect(m.endPosition).toBe(onServer.length);
      expect(m.startPosition).toBe(4);
      expect(m.rawSha256).toBe(sha256(onServer));
      expect(m.closedBy).toBe('rotate');
      // Compared by size and hash, so a mismatch says how the object differs.
      const plain = await decrypt(s, m.key);
      expect({ bytes: plain.length, sha256: sha256(plain) }, m.key).toEqual({ bytes: onServer.length, sha256: m.rawSha256 });
      expect(sha256(await readFile(join(s.repoDir, m.key)))).toBe(m.storedSha256);
      // GTIDs and times agree with the stock decoder.
      const decoded = (await execa('mariadb-binlog', [join(server.binlogDir, m.file)], { env: { TZ: 'UTC' } })).stdout;
      const gtids = [...decoded.matchAll(/\tGTID (\d+-\d+-\d+)/g)].map((x) => x[1]);
      expect(m.transactions).toBe(gtids.length);
      expect(m.gtid.first).toBe(gtids[0] ?? null);
      expect(m.gtid.last).toBe(gtids.at(-1) ?? null);
      expect(m.gtid.atStart).toBe(/Gtid list \[([^\]]*)\]/.exec(decoded)?.[1] ?? null);
      const stamps = [...decoded.matchAll(/^#(\d\d)(\d\d)(\d\d) +(\d+):(\d\d):(\d\d) server id/gm)].map((x) => `20${x[1]}-${x[2]}-${x[3]}T${x[4]!.padStart(2, '0')}:${x[5]}:${x[6]}.000Z`);
      expect(m.firstEventTime).toBe(stamps[0]);
      expect(m.lastEventTime).toBe(stamps.at(-1));
    }
    expect(list.at(-1)!.gtid.last).toBe((await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]!.g);
    // Shipped files leave the spool; only the (empty) active file may stay.
    expect((await readdir(join(s.spool, out.serverUuid))).filter((f) => f.startsWith('binlog.'))).toEqual([(await serverLogs()).at(-1)]);

    // Nothing new: a second run ships nothing and does not rotate an empty file.
    const logsBefore = await serverLogs();
    const again = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).shipped).toEqual([]);
    expect(await serverLogs()).toEqual(logsBefore);

    // The idle source is caught up: the heartbeat keeps the lag small.
    const status = JSON.parse((await runCli(['binlog', 'status', '--json'], s.env)).stdout) as { sources: Array<{ serverUuid: string; files: number; lagSeconds: number; gaps: unknown[]; lastFile: string }> };
    expect(status.sources).toHaveLength(1);
    expect(status.sources[0]).toMatchObject({ serverUuid: out.serverUuid, files: before.length, lastFile: before.at(-1), gaps: [] });
    expect(status.sources[0]!.lagSeconds).toBeLessThanOrEqual(5);
  });
});

describe('binlog ship (continuous)', () => {
  it('keeps the lag bounded while the source writes, and exits 0 on SIGTERM after shipping what is closed', async () => {
    const s = await setup({ DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const shipper = startCli(['binlog', 'ship'], s.env);
    try {
      let sourceId = '';
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      const lags: number[] = [];
      const started = Date.now();
      while (Date.now() - started < 9000) {
        await insertRows(2);
        await new Promise((r) => setTimeout(r, 250));
        if (!sourceId) {
          const ids = await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]);
          sourceId = ids[0] ?? '';
        }
        // After the first rotation budget has passed, measure the lag from the repository alone.
        if (sourceId && Date.now() - started > 4000) lags.push((await shippingStatus(s.repo, sourceId)).lagSeconds ?? Infinity);
      }
      expect(lags.length).toBeGreaterThan(5);
      // Event times have one-second resolution: allow that on top of the limit.
      expect(Math.max(...lags)).toBeLessThanOrEqual(3 + 1);
      // Writes stopped: the last transactions get rotated out and shipped; then nothing is left but the empty active file.
      await waitFor('everything but the active file to be shipped', async () => (await segments(s, sourceId)).at(-1)?.file === (await serverLogs()).at(-2), 10_000);
      shipper.kill('SIGTERM');
      const done = await shipper;
      expect(done.exitCode, String(done.stderr)).toBe(0);
      const list = await segments(s, sourceId);
      expect(list.length).toBeGreaterThanOrEqual(3);
      expectContiguous(list);
      expect(list.at(-1)!.file).toBe((await serverLogs()).at(-2));
      expect(await streamers(s.spool)).toBe(0);
    } finally {
      shipper.kill('SIGKILL');
    }
  });

  it('resumes after kill -9 without a duplicate or a gap, and the orphaned stream stops', async () => {
    const s = await setup({ DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const first = startCli(['binlog', 'ship'], s.env);
    let sourceId = '';
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      await waitFor('two shipped files', async () => {
        await insertRows(2);
        const ids = await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]);
        sourceId = ids[0] ?? '';
        return sourceId !== '' && (await s.repo.binlogs.segments(sourceId)).segments.length >= 2;
      });
      await insertRows(3);
    } finally {
      first.kill('SIGKILL');
      await first.catch(() => undefined);
    }
    // Its mariadb-binlog is stopped by the wrapper when the parent's pipe closes.
    await waitFor('the orphaned streamer to exit', async () => (await streamers(s.spool)) === 0, 10_000);
    const shippedBefore = (await segments(s, sourceId)).map((m) => m.file);
    await insertRows(4);
    const r = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { shipped: string[]; gaps: unknown[] };
    expect(out.gaps).toEqual([]);
    expect(out.shipped.filter((f) => shippedBefore.includes(f))).toEqual([]);
    expect(out.shipped.length).toBeGreaterThan(0);
    const list = await segments(s, sourceId);
    expectContiguous(list);
    expect(list.map((m) => m.file)).toEqual([...shippedBefore, ...out.shipped]);
    for (const m of list) expect(m.rawSha256).toBe(sha256(await readFile(join(server.binlogDir, m.file))));
    expect((await shippingStatus(s.repo, sourceId)).gaps).toEqual([]);
  });

  it('killed with SIGKILL mid-upload: no gap, no duplicate, and PITR across that point works', async () => {
    const s = await setup({ DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    await insertRows(3);
    const backup = await runCli(['backup', '--databases', 'shipt'], s.env);
    expect(backup.exitCode, backup.stderr).toBe(0);
    await insertRows(3);
    // The fault: an age that holds every encryption (an upload) long enough to kill the shipper mid-upload.
    const marker = join(s.spool, '..', `upload-started-${Date.now()}`);
    const fake = await fakeBin('age', `#!/bin/sh\ncase " $* " in *" --decrypt "*|*" -d "*) exec "${findTool('age')}" "$@";; esac\ntouch "${marker}"\nsleep 10\nexec "${findTool('age')}" "$@"\n`);
    const first = startCli(['binlog', 'ship'], { ...s.env, PATH: withPath(fake) });
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      await insertRows(2);
      await db.exec('FLUSH BINARY LOGS');
      await waitFor('an upload in progress', async () => existsSync(marker));
    } finally {
      first.kill('SIGKILL');
      await first.catch(() => undefined);
    }
    await waitFor('the orphaned streamer to exit', async () => (await streamers(s.spool)) === 0, 10_000);
    await insertRows(4);
    const r = await runCli(['binlog', 'ship', '--once', '--json'], s.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { gaps: unknown[] }).gaps).toEqual([]);
    const sourceId = (await readdir(join(s.repoDir, 'binlogs')))[0]!;
    const list = await segments(s, sourceId);
    expectContiguous(list);
    expect(new Set(list.map((m) => m.file)).size).toBe(list.length);
    for (const m of list) expect(m.rawSha256).toBe(sha256(await readFile(join(server.binlogDir, m.file))));
    // Across the killed upload: the base backup plus the resumed chain give every row.
    const target = await startSandboxServer({ binlog: false });
    try {
      const pitr = await runCli(['pitr', '--to', 'latest', '--target', target.url, '--json'], s.env);
      expect(pitr.exitCode, pitr.stderr).toBe(0);
      const sum = 'SELECT COUNT(*) AS n, SUM(CRC32(CONCAT(id, v))) AS c FROM shipt.t';
      const target_db = await MysqlClient.connect(target.conn);
      try {
        expect(await target_db.query(sum)).toEqual(await db.query(sum));
      } finally {
        await target_db.close();
      }
    } finally {
      await target.stop();
    }
  });

  it('reconnects on its own when the replication connection is killed', async () => {
    const s = await setup({ DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
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
});

describe('gaps and source checks', () => {
  it('records a binlog purged before it was shipped as a gap, loudly, and status reports it', async () => {
    const s = await setup();
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
      // Logged at error level and the start-up warnings are there.
      const errors = r2.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string });
      expect(errors.some((e) => e.level === 'error' && /binlog gap/.test(e.msg))).toBe(true);
      expect(out.warnings.join('\n')).toMatch(/binlog_row_image is MINIMAL/);
      expect(out.warnings.join('\n')).toMatch(/expires binlogs after 600 s/);
      expect((await readdir(join(s.repoDir, 'binlogs', serverUuid, 'gaps')))).toEqual([`${lost[0]}-${lost.at(-1)}.json`]);

      const status = await shippingStatus(s.repo, serverUuid);
      expect(status.gaps).toEqual([expect.objectContaining({ from: lost[0], to: lost.at(-1), recorded: true, reason: 'purged-on-source' })]);
      const human = await runCli(['binlog', 'status'], s.env);
      expect(human.exitCode).toBe(0);
      expect(human.stdout).toContain(`gap ${lost[0]} … ${lost.at(-1)}`);
      // The segment after the gap names the last file before it: the chain break is visible in manifests too.
      const after = (await segments(s, serverUuid)).find((m) => m.file === current)!;
      expect(after.previousFile).toBe(lastShipped);
      // Credentials never reach the logs.
      expect(r2.stderr).not.toContain(server.conn.password);
    } finally {
      await db.exec('SET GLOBAL binlog_row_image = FULL');
      await db.exec('SET GLOBAL binlog_expire_logs_seconds = 0');
    }
  });
});
