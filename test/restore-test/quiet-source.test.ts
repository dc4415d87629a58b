// Issue 15.1: the documented sequence `dbops checksum && dbops restore-test --depth content`
// must pass on a quiet source (the checksum point is then the head of the active binlog,
// which the shipper alone would never rotate) and under a write load, with a continuous
// shipper running, against a real MariaDB and the S3 protocol server.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository, type Repository } from '../../src/repo/repository.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { waitFor, dumpThreads } from '../helpers/binlog-ship.js';

let source: SandboxServer;
let s3: S3TestServer;
let db: MysqlClient;
let env: Record<string, string>;
let repo: Repository;
let shipper: ReturnType<typeof startCli>;
let row = 0;

async function insertRows(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await db.exec('INSERT INTO quiet.t VALUES (?, ?)', [++row, `row ${row}`]);
}

beforeAll(async () => {
  let keys: Awaited<ReturnType<typeof makeKeys>>;
  [source, s3, keys] = await Promise.all([startSandboxServer({ binlog: true }), startS3Server(), makeKeys()]);
  db = await MysqlClient.connect(source.conn);
  await db.exec('CREATE DATABASE quiet');
  await db.exec('CREATE TABLE quiet.t (id INT PRIMARY KEY, v VARCHAR(40))');
  await insertRows(5);
  env = { ...keys.env, ...s3TestEnv, DBOPS_STORAGE_URL: s3.url('quiet'), DBOPS_SOURCE_URL: source.url, DBOPS_SOURCE_DATABASES: 'quiet', DBOPS_BINLOG_MAX_LAG_SECONDS: '10' };
  for (const args of [['init'], ['backup']]) {
    const r = await runCli(args, env);
    expect(r.exitCode, r.stderr).toBe(0);
  }
  repo = await openRepository(await openStorage(s3.url('quiet')));
  shipper = startCli(['binlog', 'ship'], env);
  await waitFor('the dump connection', async () => (await dumpThreads(db)).length === 1, 30_000);
});

afterAll(async () => {
  shipper?.kill('SIGTERM');
  await shipper?.catch(() => undefined);
  await db?.close();
  await source?.stop();
  await s3?.cleanup();
});

describe('checksum, then restore-test --depth content', () => {
  it('passes on a quiet source', async () => {
    // Writes after the backup, then silence until the shipper has rotated them out and caught up.
    await insertRows(10);
    await waitFor('a first segment', async () => (await repo.binlogs.sources()).length > 0, 30_000);
    const [sourceId] = await repo.binlogs.sources();
    const wrote = Date.now();
    await waitFor('the shipper to be caught up after the writes', async () => {
      const state = await repo.binlogs.shipperState(sourceId!);
      return state?.caughtUpAt !== null && state !== null && Date.parse(state.caughtUpAt!) > wrote;
    }, 60_000);
    const checksum = await runCli(['checksum', '--json'], env);
    expect(checksum.exitCode, checksum.stderr).toBe(0);
    const r = await runCli(['restore-test', '--depth', 'content', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { verdict: string; checks: Array<{ name: string; ok: boolean; expected?: string; actual?: string }> };
    expect(report.verdict).toBe('pass');
    const point = (JSON.parse(checksum.stdout) as { point: { binlogFile: string; binlogPosition: number } }).point;
    expect(report.checks.find((c) => c.name === 'binlog-replay')).toMatchObject({ ok: true, actual: `${point.binlogFile}:${point.binlogPosition}` });
  });

  it('passes under a write load', async () => {
    let writing = true;
    const load = (async () => {
      while (writing) {
        await insertRows(1);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const checksum = await runCli(['checksum'], env);
      expect(checksum.exitCode, checksum.stderr).toBe(0);
      const r = await runCli(['restore-test', '--depth', 'content', '--json'], env);
      expect(r.exitCode, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { verdict: string; checks: Array<{ name: string; ok: boolean }> };
      expect(report.verdict).toBe('pass');
      expect(report.checks.find((c) => c.name === 'binlog-replay')?.ok).toBe(true);
    } finally {
      writing = false;
      await load;
    }
  });
});
