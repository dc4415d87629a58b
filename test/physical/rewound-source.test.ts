// A source whose datadir went back (restored from an older backup, or replaced) no longer
// continues the newest physical chain: an incremental on that chain would hold only the pages
// changed since on the new datadir, and be listed whole while no restore of it can work. A
// real MariaDB, rewound by starting it on a restore of the full while the chain has moved on.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { withConnection } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { physicalOf } from '../../src/manifest/backup-manifest.js';
import { newBackupId } from '../../src/storage/layout.js';
import { parseLogSequenceNumber } from '../../src/physical/current-lsn.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';

let source: SandboxServer;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: { dir: string; url: string };
let env: Record<string, string>;
const ids = { full: '', incr: '' };

const objects = async (): Promise<string[]> => (await readdir(repo.dir, { recursive: true })).filter((k) => !k.startsWith('evidence')).sort();

beforeAll(async () => {
  [source, keys] = await Promise.all([startSandboxServer({ binlog: true }), makeKeys()]);
  repo = await tempRepoUrl();
  env = { ...keys.env, DBOPS_SOURCE_URL: source.url, DBOPS_BACKUP_KIND: 'physical', DBOPS_STORAGE_URL: repo.url, DBOPS_COMPRESSION_LEVEL: '1' };
  await withConnection(source.conn, async (db) => {
    await db.exec('CREATE DATABASE app');
    await db.exec('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(200))');
    await db.exec('INSERT INTO app.t SELECT seq, SHA2(seq, 256) FROM app.seq_1_to_1000');
  });
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const full = await runCli(['backup', '--json'], env);
  expect(full.exitCode, full.stderr).toBe(0);
  ids.full = (JSON.parse(full.stdout) as { id: string }).id;
  await withConnection(source.conn, (db) => db.exec('INSERT INTO app.t SELECT seq, SHA2(seq, 512) FROM app.seq_1001_to_60000'));
  const incr = await runCli(['backup', '--incremental', '--json'], env);
  expect(incr.exitCode, incr.stderr).toBe(0);
  ids.incr = (JSON.parse(incr.stdout) as { id: string }).id;

  // The source goes back to the full: restored from it and started on the same datadir (so
  // it is the same source to dbops), then it takes a write.
  const restored = join(await tempDir('dbops-rewind-'), 'data');
  const r = await runCli(['restore', ids.full, '--datadir', restored], env);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toContain('take a full physical backup of it: an incremental applies only on a chain its datadir continues');
  await source.restart({
    whileDown: async () => {
      await rm(source.datadir, { recursive: true });
      await cp(restored, source.datadir, { recursive: true });
    },
  });
  await withConnection(source.conn, (db) => db.exec("INSERT INTO app.t VALUES (5000000, 'after the rewind')"));
}, 240_000);

afterAll(async () => {
  await source?.stop();
});

describe('an incremental on a source whose datadir went back', () => {
  it('is refused (exit 2) naming both LSNs and what to do; nothing is written', async () => {
    const before = await objects();
    const r = await runCli(['backup', '--incremental'], env);
    expect(r.exitCode, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`redo log is at LSN \\d+, behind the end of the newest physical backup ${ids.incr} \\(LSN \\d+\\): its datadir was replaced or restored since, .*take a full one first`)),
    ]);
    expect(await objects()).toEqual(before);
  });

  it("the daemon's incremental takes a full instead, saying why, and the next incremental applies on that full", async () => {
    const storage = await openStorage(repo.url);
    const opened = await openRepository(storage, { signer: await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE) });
    const common = {
      repo: opened,
      source: parseConnectionUrl(source.url),
      recipients: opened.recipients,
      databases: [],
      compressionLevel: 1,
      compressionThreads: 1,
      includeAccounts: true,
      kind: 'physical' as const,
      incremental: true,
      fullWhenNoBase: true,
    };
    const taken = await runBackup(common);
    expect(physicalOf(taken).parent).toBeNull();
    expect(taken.warnings).toEqual([expect.stringMatching(new RegExp(`behind the end of the newest physical backup ${ids.incr} .*: took a full physical backup instead$`))]);
    const next = await runBackup(common);
    expect(physicalOf(next)).toMatchObject({ parent: taken.id, base: taken.id });
  });
});

describe('an incremental taken on a rewound source by an earlier version', () => {
  it('is listed with its chain broken, counts for nothing in retention, and restore refuses it before fetching a byte (exit 3)', async () => {
    // What a version without the check recorded: the incremental's manifest as it would have
    // signed it, applying on the first incremental, its redo log ending before its parent's.
    const storage = await openStorage(repo.url);
    const opened = await openRepository(storage, { signer: await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE) });
    const parent = await opened.backups.read(ids.incr);
    const p = physicalOf(parent);
    const status = await withConnection(source.conn, (db) => db.query<{ Status: string }>('SHOW ENGINE INNODB STATUS'));
    const now = parseLogSequenceNumber(status[0]!.Status)!;
    expect(now).toBeLessThan(BigInt(p.lastLsn));
    const { signature: _signature, format: _format, version: _version, ...unsigned } = parent;
    const id = newBackupId();
    await opened.backups.commit({
      ...unsigned,
      id,
      physical: { ...p, fromLsn: p.toLsn, toLsn: String(now), lastLsn: String(now), parent: parent.id, base: p.base },
    });

    const list = await runCli(['list', '--json'], env);
    expect(list.exitCode, list.stderr).toBe(0);
    const listed = (JSON.parse(list.stdout) as { backups: Array<{ id: string; chainProblem?: string }> }).backups.find((b) => b.id === id);
    expect(listed?.chainProblem).toMatch(new RegExp(`ends at LSN ${now}, before ${ids.incr} \\(LSN ${p.lastLsn}\\): the source's datadir went back between them`));

    // Retention: it counts for nothing and is kept for inspection.
    const plan = await runCli(['prune', '--json'], env);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const planned = (JSON.parse(plan.stdout) as { plan: { backups: Array<{ id: string; action: string; reasons: string[] }> } }).plan.backups.find((b) => b.id === id);
    expect(planned).toMatchObject({ action: 'keep', reasons: [expect.stringMatching(/its chain is broken \(incremental backup .* the source's datadir went back between them/)] });

    const target = join(await tempDir('dbops-rewind-restore-'), 'data');
    const r = await runCli(['restore', id, '--datadir', target], env);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/the source's datadir went back between them/);
    expect(await readdir(target).catch(() => [])).toEqual([]);
  });
});
