// Binlog shipping against a real MariaDB of its own (the shared server belongs to other
// tests): --once, continuous mode with bounded lag, the heartbeat under load, and a clean
// SIGTERM. Faults (kill -9 in each phase, gaps, a full spool, two writers, source
// restarts) are in test/faults/ship*.test.ts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { shippingStatus } from '../../src/binlog/shipping-status.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
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
  it('without partial segments: keeps the lag bounded by rotating while the source writes, and exits 0 on SIGTERM after shipping what is closed', async () => {
    const s = await setup({ DBOPS_BINLOG_MAX_LAG_SECONDS: '3', DBOPS_BINLOG_PARTIAL_SEGMENTS: 'false' });
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

  // Both ways of bounding the lag: with whole files only the active file always holds an
  // unshipped transaction while the source writes, so the shipper is never caught up then;
  // with partial segments (the default) it can be, between two parts and two writes, and then
  // the heartbeat must name that point as offsite.
  it.each([
    ['whole files only', 'false'],
    ['partial segments', 'true'],
  ] as const)('%s: rewrites its heartbeat under load too, naming the newest event offsite and when it was last caught up', async (_mode, partial) => {
    const s = await setup({ DBOPS_BINLOG_MAX_LAG_SECONDS: '3', DBOPS_BINLOG_PARTIAL_SEGMENTS: partial });
    const shipper = startCli(['binlog', 'ship'], s.env);
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      let sourceId = '';
      await waitFor('the first heartbeat', async () => {
        sourceId ||= (await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]))[0] ?? '';
        return sourceId !== '' && (await s.repo.binlogs.shipperState(sourceId)) !== null;
      });
      // Busy: a transaction every 100 ms for 8 s, so the active file always holds one.
      type Point = { file: string; position: number };
      const seen: Array<{ writtenAt: string; caughtUpAt: string | null; offsite: string | null; at: Point | null; offsiteAt: Point | null }> = [];
      const started = Date.now();
      while (Date.now() - started < 8000) {
        await insertRows(1);
        await new Promise((r) => setTimeout(r, 100));
        const state = await s.repo.binlogs.shipperState(sourceId);
        if (state && state.writtenAt !== seen.at(-1)?.writtenAt) {
          seen.push({
            writtenAt: state.writtenAt!,
            caughtUpAt: state.caughtUpAt,
            offsite: state.offsite?.lastEventTime ?? null,
            at: state.activeFile === null ? null : { file: state.activeFile, position: state.activePosition! },
            offsiteAt: state.offsite ? { file: state.offsite.file, position: state.offsite.endPosition } : null,
          });
        }
      }
      // Rewritten every 1.5 s (half the lag budget), not only while idle.
      const busy = seen.filter((h) => Date.parse(h.writtenAt) > started + 1000);
      expect(busy.length, JSON.stringify(seen)).toBeGreaterThanOrEqual(3);
      // Each names the newest shipped event, which keeps moving while the source writes.
      const offsite = busy.map((h) => h.offsite).filter((t): t is string => t !== null);
      expect(new Set(offsite).size).toBeGreaterThanOrEqual(2);
      for (const h of busy) expect(Date.parse(h.writtenAt) - Date.parse(h.offsite!)).toBeLessThanOrEqual((3 + 2) * 1000);
      const caughtUpWhileBusy = busy.filter((h) => h.caughtUpAt !== null && Date.parse(h.caughtUpAt) >= started + 1000);
      if (partial === 'false') {
        // Never caught up while busy: the caught-up instant stays where it was before the load.
        expect(caughtUpWhileBusy, JSON.stringify(seen)).toEqual([]);
      } else {
        // Caught up while busy only where the parts reach the source's position then: the point
        // a heartbeat names as caught up is offsite by that heartbeat's own account (the file is
        // the same: with partial segments the shipper rotates once a minute at most).
        for (const h of caughtUpWhileBusy) {
          expect(h.offsiteAt?.file, JSON.stringify(h)).toBe(h.at?.file);
          expect(h.offsiteAt!.position, JSON.stringify(h)).toBeGreaterThanOrEqual(h.at!.position);
        }
      }
      // Idle again: the heartbeat says caught up, and RPO (status lag) is near zero.
      await waitFor('caught up again', async () => {
        const state = await s.repo.binlogs.shipperState(sourceId);
        return state?.caughtUpAt !== null && Date.parse(state!.caughtUpAt!) > Date.now() - 3000;
      }, 15_000);
      expect((await shippingStatus(s.repo, sourceId)).lagSeconds).toBeLessThanOrEqual(3);
      shipper.kill('SIGTERM');
      expect((await shipper).exitCode).toBe(0);
    } finally {
      shipper.kill('SIGKILL');
    }
  });

  it('a source whose history is all in partial segments (its first file still open): an idle source is caught up by the heartbeat, not lagging', async () => {
    // The only binlog file is the one being written: nothing closes for a minute, so the
    // repository holds parts only; status, metrics and /healthz must still count the
    // heartbeat's "caught up" (else an idle source's RPO grows and a lag alert fires).
    await db.exec('RESET MASTER');
    const s = await setup({ DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const shipper = startCli(['binlog', 'ship'], s.env);
    try {
      await waitFor('the dump connection', async () => (await dumpThreads()).length === 1);
      await insertRows(3);
      let sourceId = '';
      const position = (await db.query<{ Position: number }>('SHOW BINLOG STATUS'))[0]!.Position;
      await waitFor('the rows in partial segments', async () => {
        sourceId ||= (await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]))[0] ?? '';
        return sourceId !== '' && (await shippingStatus(s.repo, sourceId)).partial?.endPosition === Number(position);
      });
      // Idle: wait for a heartbeat that says caught up well after the newest shipped event.
      let status = await shippingStatus(s.repo, sourceId);
      await waitFor('a caught-up heartbeat 5 s after the newest event', async () => {
        status = await shippingStatus(s.repo, sourceId);
        const at = status.shipper?.caughtUpAt;
        return !!at && Date.parse(at) > Date.parse(status.newestEventTime!) + 5000;
      });
      expect(await serverLogs()).toHaveLength(1);
      expect(status.files).toBe(0);
      expect(status.partial).toMatchObject({ file: (await serverLogs())[0], endPosition: Number(position) });
      expect(status.caughtUpTo).toBe(status.shipper!.caughtUpAt);
      shipper.kill('SIGTERM');
      expect((await shipper).exitCode).toBe(0);
    } finally {
      shipper.kill('SIGKILL');
    }
  });
});
