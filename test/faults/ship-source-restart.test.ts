// Issue #3 must-hold "Source restarted while shipping: shipping resumes on its own",
// against a real restart of a source of its own (the shared server belongs to other
// tests): a clean shutdown, and a SIGKILL with InnoDB/binlog crash recovery. The server
// comes back on the same datadir and port and opens the next binlog file; the running
// shipper must not exit, must reconnect by itself, and must treat the new file as the
// next link of the chain: every closed file shipped once, byte for byte, no gap.
// The shipper runs as by default, with partial segments: rows count as shipped once a
// part of the file holding them is offsite (as recovery and status count them), and the
// test rotates the last file itself, so that every file ends up whole without waiting
// for the shipper's once-a-minute rotation.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { shippingStatus } from '../../src/binlog/shipping-status.js';
import type { FindResult } from '../../src/pitr/binlog-find.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
import { shipSetup, segments, sha256, waitFor, expectContiguous, dumpThreads } from '../helpers/binlog-ship.js';

let server: SandboxServer;
let db: MysqlClient;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let row = 0;

beforeAll(async () => {
  [server, keys] = await Promise.all([
    startSandboxServer({ binlog: true, extraArgs: ['--binlog-row-image=FULL', '--gtid-strict-mode=1'] }),
    makeKeys(),
  ]);
  db = await MysqlClient.connect(server.conn);
  await db.exec('CREATE DATABASE rs');
  await db.exec('CREATE TABLE rs.t (id INT PRIMARY KEY, v VARCHAR(40))');
});

afterAll(async () => {
  await db?.close();
  await server?.stop();
});

/** Inserts n rows, one transaction each; returns their GTIDs. */
async function insertRows(n: number): Promise<string[]> {
  const gtids: string[] = [];
  for (let i = 0; i < n; i++) {
    await db.exec('INSERT INTO rs.t VALUES (?, ?)', [++row, `row ${row}`]);
    gtids.push((await db.query<{ g: string }>('SELECT @@last_gtid AS g'))[0]!.g);
  }
  return gtids;
}

async function serverLogs(): Promise<string[]> {
  return (await db.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((r) => r.Log_name);
}

async function gtidPos(): Promise<string> {
  return (await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]!.g;
}

/** The flags byte of the format description event (4-byte magic, then flags at header offset 17). */
const IN_USE_FLAG_BYTE = 4 + 17;
const LOG_EVENT_BINLOG_IN_USE_F = 0x1;

interface LogLine {
  level: number | string;
  msg: string;
  file?: string;
}

describe('binlog ship (continuous) while the source restarts', () => {
  it.each(['graceful', 'crash'] as const)('resumes on its own after a %s restart: no exit, nothing twice, no gap', async (mode) => {
    const s = await shipSetup(server.url, keys, { DBOPS_BINLOG_MAX_LAG_SECONDS: '3' });
    const shipper = startCli(['binlog', 'ship'], s.env);
    let stderr = '';
    shipper.stderr?.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    // Complete JSON log lines so far (the last piece may still be arriving).
    const logLines = (): LogLine[] => stderr.split('\n').slice(0, -1).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
    // Fail at once, with its log, rather than time out when the shipper gave up.
    const stillRunning = (): void => {
      if (shipper.exitCode !== null) throw new Error(`the shipper exited with ${shipper.exitCode}:\n${stderr.slice(-3000)}`);
    };
    let sourceId = '';
    const shippedSegments = async () => {
      sourceId ||= (await readdir(join(s.repoDir, 'binlogs')).catch(() => [] as string[]))[0] ?? '';
      return sourceId ? segments(s, sourceId) : [];
    };
    /** True once the transaction ending at `gtidPos` is in the repository, in a whole file or in the parts of the active one. */
    const offsite = async (gtidPos: string): Promise<boolean> => {
      await shippedSegments();
      if (!sourceId) return false;
      const { segments: chain, problems } = await s.repo.binlogs.chainSegments(sourceId);
      expect(problems).toEqual([]);
      return chain.some((m) => m.gtid.atEnd === gtidPos);
    };
    try {
      const gtids: string[] = [];
      await waitFor('the dump connection', async () => (await dumpThreads(db)).length === 1);
      gtids.push(...(await insertRows(3)));
      const before = await gtidPos();
      await waitFor('the rows written before the restart to be shipped', () => offsite(before));
      // Transactions in the active file when the source goes down (in parts or not yet shipped).
      gtids.push(...(await insertRows(3)));

      await db.close();
      const mark = logLines().length;
      await server.restart({
        mode,
        // Down until the shipper has seen its stream fail and a reconnect attempt fail too.
        whileDown: () =>
          waitFor('the shipper to notice the source is down', async () => {
            stillRunning();
            const since = logLines().slice(mark).map((l) => l.msg);
            const ended = since.indexOf('binlog stream from the source ended; reconnecting');
            return ended >= 0 && since.slice(ended + 1).includes('binlog shipping step failed; retrying');
          }),
      });
      db = await MysqlClient.connect(server.conn);
      // The server opened a new file at start: the last one it had is closed now.
      const [atShutdown, atStart] = (await serverLogs()).slice(-2) as [string, string];
      gtids.push(...(await insertRows(4)));
      const after = await gtidPos();

      await waitFor('the shipper to reconnect', async () => {
        stillRunning();
        return (await dumpThreads(db)).length === 1;
      });
      await waitFor('the rows written after the restart to be shipped', () => offsite(after), 15_000);
      // No more writes: once the last transactions are rotated out, everything but the (empty)
      // active file is shipped whole, and the whole files replaced their parts.
      await db.exec('FLUSH BINARY LOGS');
      await waitFor('everything but the active file to be shipped', async () => (await shippedSegments()).at(-1)?.file === (await serverLogs()).at(-2), 10_000);
      await waitFor('the parts of the files shipped whole to be removed', async () => (await s.repo.binlogs.partialFiles(sourceId)).size === 0, 10_000);
      expect(shipper.exitCode, stderr).toBeNull();
      shipper.kill('SIGTERM');
      const done = await shipper;
      expect(done.exitCode, stderr).toBe(0);

      // Every closed file of the source is in the repository, once, byte for byte, in one unbroken chain.
      const logs = await serverLogs();
      const list = await segments(s, sourceId);
      expect(list.map((m) => m.file)).toEqual(logs.slice(0, -1));
      expect(list[0]!.previousFile).toBeNull();
      expectContiguous(list);
      for (const m of list) {
        let onServer = await readFile(join(server.binlogDir, m.file));
        if (mode === 'crash' && m.file === atShutdown) {
          // The crash left this file marked "in use" on disk (recovery does not clear it); the
          // server clears that flag in what it sends over the replication protocol, so that is
          // the one byte the shipped copy differs by: a copy mariadb-binlog reads without warning.
          expect(onServer[IN_USE_FLAG_BYTE]! & LOG_EVENT_BINLOG_IN_USE_F).toBe(LOG_EVENT_BINLOG_IN_USE_F);
          onServer = Buffer.from(onServer);
          onServer[IN_USE_FLAG_BYTE]! &= ~LOG_EVENT_BINLOG_IN_USE_F;
        }
        expect(m.rawSha256, m.file).toBe(sha256(onServer));
      }
      // The restart's new file is the next link, not a gap; the file open at shutdown was closed
      // by the server's Stop event (clean) or only by the next file existing (crash).
      expect(list.find((m) => m.file === atStart)!.previousFile).toBe(atShutdown);
      expect(list.find((m) => m.file === atShutdown)!.closedBy).toBe(mode === 'graceful' ? 'stop' : 'next-file');
      expect((await shippingStatus(s.repo, sourceId)).gaps).toEqual([]);
      expect(await stat(join(s.repoDir, 'binlogs', sourceId, 'gaps')).catch(() => null)).toBeNull();

      // The shipper's own account: it reconnected, recorded no gap, and uploaded no file twice.
      const lines = logLines();
      expect(lines.some((l) => l.msg === 'binlog stream from the source ended; reconnecting')).toBe(true);
      expect(lines.filter((l) => l.msg === 'streaming binlogs from the source').length).toBeGreaterThanOrEqual(2);
      expect(lines.filter((l) => /binlog gap/.test(l.msg))).toEqual([]);
      expect(lines.filter((l) => l.msg === 'binlog shipped').map((l) => l.file)).toEqual(list.map((m) => m.file));
      expect(lines.filter((l) => /differs from its partial segments/.test(l.msg))).toEqual([]);

      // Decoded from the repository: every row written, before and after the restart, is there exactly once.
      const found = await runCli(['binlog', 'find', '--table', 'rs.t', '--type', 'insert', '--json'], s.env);
      expect(found.exitCode, found.stderr).toBe(0);
      const matches = (JSON.parse(found.stdout) as FindResult).matches;
      expect(matches.map((t) => t.gtid).filter((g) => g !== null && gtids.includes(g))).toEqual(gtids);
      const afterRestart = matches.filter((t) => gtids.slice(-4).includes(t.gtid!));
      expect(afterRestart).toHaveLength(4);
      for (const t of afterRestart) expect(list.findIndex((m) => m.file === t.file)).toBeGreaterThanOrEqual(list.findIndex((m) => m.file === atStart));
    } finally {
      shipper.kill('SIGKILL');
      await shipper.catch(() => undefined);
    }
  });
});
