// Physical backups end to end, against a real MariaDB (a local server whose datadir the test
// can read), the real mariadb-backup and mbstream, and the S3 protocol server: a full and two
// incrementals taken while one connection commits transactions, each restored into a fresh
// server, content-checked, and recovered to points between them.
//
// Exactness needs no guess at what the source held at a backup's point: every transaction of
// the load writes row i into `log` and sets the counter to i, and nothing else writes, so the
// source at a point whose GTID is 0-S-(start + k) held exactly rows 1..k and counter k.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';
import { runCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { tempDir } from '../helpers/temp-dirs.js';

interface Listed {
  id: string;
  kind: string;
  incremental: boolean;
  parent?: string | null;
  chain?: string[];
  consistentPoint: { binlogFile: string | null; binlogPosition: number | null; gtidSet: string | null };
}

let source: SandboxServer;
let s3: S3TestServer;
let env: Record<string, string>;
/** GTID sequence number before the load's first transaction. */
let start = 0;
let domainServer = '';
const ids: { full: string; incr1: string; incr2: string } = { full: '', incr1: '', incr2: '' };
/** A point between the first and second incremental: a GTID the load committed, and a time. */
let between: { gtid: string; k: number; time: string };

const seqOf = (gtid: string): number => Number(gtid.split('-')[2]);

/** One connection commits transaction after transaction until stopped; returns how many. */
function startLoad(conn: MysqlConn): { stop: () => Promise<number>; committed: () => number } {
  let stopped = false;
  let i = 0;
  const run = (async () => {
    const db = await MysqlClient.connect(conn);
    try {
      while (!stopped) {
        const n = i + 1;
        await db.exec('BEGIN');
        await db.exec('INSERT INTO app.log (id, v) VALUES (?, ?)', [n, `row ${n} ${'x'.repeat(n % 50)}`]);
        await db.exec('UPDATE app.counter SET n = ? WHERE id = 1', [n]);
        await db.exec('UPDATE app.big SET payload = ? WHERE id = ?', [`changed by ${n}`, ((n * 7919) % 4000) + 1]);
        await db.exec('COMMIT');
        i = n;
        await delay(3);
      }
    } finally {
      await db.close();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await run;
      return i;
    },
    committed: () => i,
  };
}

async function listed(): Promise<Listed[]> {
  const r = await runCli(['list', '--json'], env);
  expect(r.exitCode, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { backups: Listed[] }).backups;
}

/** What a server started on a restored datadir holds of the load: rows, their range, the counter. */
async function loadState(conn: MysqlConn): Promise<{ rows: number; max: number; counter: number; notes: number }> {
  return withConnection(conn, async (db) => {
    const [r] = await db.query<{ rows: number; max: number | null }>('SELECT COUNT(*) AS `rows`, MAX(id) AS max FROM app.log');
    const [c] = await db.query<{ n: number }>('SELECT n FROM app.counter WHERE id = 1');
    const [a] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM shop.notes');
    return { rows: Number(r!.rows), max: Number(r!.max ?? 0), counter: Number(c!.n), notes: Number(a!.n) };
  });
}

beforeAll(async () => {
  [source, s3] = await Promise.all([startSandboxServer({ binlog: true }), startS3Server()]);
  const keys = await makeKeys();
  const spool = await tempDir('dbops-spool-');
  env = { ...keys.env, ...s3TestEnv, DBOPS_STORAGE_URL: s3.url('physical'), DBOPS_SOURCE_URL: source.url, DBOPS_BINLOG_SPOOL_DIR: spool, DBOPS_COMPRESSION_LEVEL: '1' };
  await withConnection(source.conn, async (db) => {
    await db.exec('CREATE DATABASE app');
    await db.exec('CREATE TABLE app.log (id INT PRIMARY KEY, v VARCHAR(100), KEY (v))');
    await db.exec('CREATE TABLE app.counter (id INT PRIMARY KEY, n INT NOT NULL)');
    await db.exec('INSERT INTO app.counter VALUES (1, 0)');
    await db.exec('CREATE TABLE app.big (id INT PRIMARY KEY, payload VARCHAR(200))');
    await db.exec("INSERT INTO app.big SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq + 1, 256)) FROM app.seq_1_to_4000");
    await db.exec('CREATE VIEW app.recent AS SELECT id, v FROM app.log WHERE id > 100');
    await db.exec('CREATE DATABASE shop');
    // Not InnoDB: mariadb-backup copies it whole under its backup lock.
    await db.exec('CREATE TABLE shop.notes (id INT PRIMARY KEY, t TEXT) ENGINE=Aria');
    await db.exec("INSERT INTO shop.notes SELECT seq, CONCAT('note ', seq) FROM shop.seq_1_to_300");
    const [g] = await db.query<{ g: string }>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
    start = seqOf(g!.g);
    domainServer = g!.g.split('-').slice(0, 2).join('-');
  });
  const init = await runCli(['init'], env);
  expect(init.exitCode, init.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await source?.stop();
  await s3?.cleanup();
});

describe('physical backups under a write load (real MariaDB, mariadb-backup, S3)', () => {
  it('takes a full and two incrementals while transactions commit; list shows the kind and the chain', async () => {
    const load = startLoad(source.conn);
    try {
      while (load.committed() < 50) await delay(50);
      const full = await runCli(['backup', '--kind', 'physical'], env);
      expect(full.exitCode, full.stderr).toBe(0);
      ids.full = full.stdout.trim();
      const before1 = load.committed();
      while (load.committed() < before1 + 100) await delay(50);
      const incr1 = await runCli(['backup', '--kind', 'physical', '--incremental'], env);
      expect(incr1.exitCode, incr1.stderr).toBe(0);
      ids.incr1 = incr1.stdout.trim();
      // A point between the incrementals: a second boundary the load commits on both sides of.
      const before2 = load.committed();
      while (load.committed() < before2 + 100) await delay(50);
      await delay(1100 - (Date.now() % 1000));
      const k = load.committed();
      between = { k, gtid: `${domainServer}-${start + k}`, time: new Date(Math.floor(Date.now() / 1000) * 1000 - 1).toISOString() };
      while (load.committed() < k + 100) await delay(50);
      const incr2 = await runCli(['backup', '--kind', 'physical', '--incremental'], env);
      expect(incr2.exitCode, incr2.stderr).toBe(0);
      ids.incr2 = incr2.stdout.trim();
      // More after it: the content check replays from its point to the checksums' point.
      const after2 = load.committed();
      while (load.committed() < after2 + 30) await delay(50);
    } finally {
      await load.stop();
    }
    const shipped = await runCli(['binlog', 'ship', '--once'], env);
    expect(shipped.exitCode, shipped.stderr).toBe(0);

    const list = await listed();
    expect(list.map((b) => [b.id, b.kind, b.incremental, b.parent ?? null])).toEqual([
      [ids.full, 'physical', false, null],
      [ids.incr1, 'physical', true, ids.full],
      [ids.incr2, 'physical', true, ids.incr1],
    ]);
    expect(list[2]!.chain).toEqual([ids.full, ids.incr1, ids.incr2]);
    // Each one's point is further along the load than the one before.
    const seqs = list.map((b) => seqOf(b.consistentPoint.gtidSet!));
    expect(seqs[0]! - start).toBeGreaterThanOrEqual(50);
    expect(seqs[1]!).toBeGreaterThan(seqs[0]!);
    expect(seqs[2]! - start).toBeGreaterThan(between.k);
    const status = await runCli(['status', '--json'], env);
    const byKind = (JSON.parse(status.stdout) as { backups: { count: number; byKind: Record<string, { count: number; incremental: number; newest: { id: string } | null }> } }).backups;
    expect(byKind.count).toBe(3);
    expect(byKind.byKind).toMatchObject({ logical: { count: 0, incremental: 0, newest: null }, physical: { count: 3, incremental: 2, newest: { id: ids.incr2 } } });
    const human = await runCli(['list'], env);
    expect(human.stdout).toContain(`chain: ${ids.full} ← ${ids.incr1} ← ${ids.incr2}`);
    expect(human.stdout).toMatch(new RegExp(`${ids.incr1}\\s+physical incr`));
    for (const id of [ids.full, ids.incr2]) {
      const v = await runCli(['verify', id], env);
      expect(v.exitCode, v.stderr).toBe(0);
      expect(v.stdout).toContain('extracted by mbstream');
    }
  }, 300_000);

  it('each backup, restored into an empty datadir and started, holds exactly the transactions committed at its point', async () => {
    const list = await listed();
    for (const b of list) {
      const dir = join(await mkdtemp(join(tmpdir(), 'dbops-phys-test-')), 'datadir');
      const r = await runCli(['restore', b.id, '--datadir', dir], env);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await readdir(dir)).not.toContain('dbops-restore-in-progress.json');
      const server = await startSandboxServer({ binlog: false, datadir: dir });
      try {
        const k = seqOf(b.consistentPoint.gtidSet!) - start;
        expect(await loadState(server.conn), b.id).toEqual({ rows: k, max: k, counter: k, notes: 300 });
      } finally {
        await server.stop();
      }
      // A second restore into the same directory is refused: it is a datadir now.
      const again = await runCli(['restore', b.id, '--datadir', dir], env);
      expect(again.exitCode).toBe(2);
      expect(again.stderr).toMatch(/is not empty .*nothing was changed/);
    }
  }, 300_000);

  it('restore-test at content depth: the incremental chain, replayed to the checksum point, equals the source table by table', async () => {
    const sum = await runCli(['checksum'], env);
    expect(sum.exitCode, sum.stderr).toBe(0);
    // The binlog holding the checksums' point goes to the repository too.
    const shipped = await runCli(['binlog', 'ship', '--once'], env);
    expect(shipped.exitCode, shipped.stderr).toBe(0);
    const r = await runCli(['restore-test', '--backup', ids.incr2, '--depth', 'content', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { verdict: string; rtoPhases: string[]; phases: Record<string, number>; checks: Array<{ name: string; object?: string; ok: boolean; detail?: string }> };
    expect(report.verdict).toBe('pass');
    expect(report.rtoPhases).toEqual(['restore', 'sandbox', 'replay']);
    expect(Object.keys(report.phases)).toEqual(expect.arrayContaining(['fetch', 'prepare']));
    const content = report.checks.filter((c) => c.name === 'content-checksum').map((c) => c.object).sort();
    expect(content).toEqual(['app.big', 'app.counter', 'app.log', 'shop.notes']);
    expect(report.checks.find((c) => c.name === 'restore-ran-clean')!.detail).toBe(`chain ${ids.full} ← ${ids.incr1} ← ${ids.incr2} applied`);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  }, 300_000);

  it('PITR from the physical full to a GTID and to a time between the incrementals is exact', async () => {
    for (const target of [['--to-gtid', between.gtid], ['--to', between.time]] as const) {
      const dir = join(await mkdtemp(join(tmpdir(), 'dbops-phys-pitr-')), 'datadir');
      const r = await runCli(['pitr', ...target, '--base', ids.full, '--datadir', dir, '--json'], env);
      expect(r.exitCode, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { plan: { base: { id: string } }; reached: { lastGtid: string; time: string } };
      expect(result.plan.base.id).toBe(ids.full);
      const k = seqOf(result.reached.lastGtid) - start;
      if (target[0] === '--to-gtid') expect(k).toBe(between.k);
      else expect(Date.parse(result.reached.time)).toBeLessThanOrEqual(Date.parse(between.time));
      const server = await startSandboxServer({ binlog: false, datadir: dir });
      try {
        expect(await loadState(server.conn), target.join(' ')).toEqual({ rows: k, max: k, counter: k, notes: 300 });
      } finally {
        await server.stop();
      }
    }
    // A physical base does not recover into a server, and a server target picks logical bases only.
    const wrong = await runCli(['pitr', '--to-gtid', between.gtid, '--target', source.url, '--dry-run'], env);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/no logical backup .* pass --datadir DIR/);
  }, 300_000);

  it('prune keeps the chain of the incremental it keeps', async () => {
    const r = await runCli(['prune', '--json'], { ...env, DBOPS_RETENTION_DAILY: '1', DBOPS_RETENTION_WEEKLY: '0', DBOPS_RETENTION_MONTHLY: '0', DBOPS_RETENTION_PITR_WINDOW: '1m' });
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = (JSON.parse(r.stdout) as { plan: { backups: Array<{ id: string; action: string; reasons: string[] }> } }).plan;
    const by = new Map(plan.backups.map((b) => [b.id, b]));
    expect(by.get(ids.incr2)!.action).toBe('keep');
    for (const id of [ids.full, ids.incr1]) {
      expect(by.get(id)!.action, id).toBe('keep');
      expect(by.get(id)!.reasons.join('; ')).toContain(`the chain of kept incremental ${ids.incr2}`);
    }
  }, 120_000);
});

describe('least privilege for physical backups', () => {
  it('an account holding exactly the grants doctor prints for backup.kind physical takes an incremental, and doctor finds it exact', async () => {
    const user = 'phys_backup';
    const password = 'phys-Backup-pw1';
    const pwFile = join(await tempDir('dbops-phys-pw-'), 'pw');
    await writeFile(pwFile, password, { mode: 0o600 });
    const physicalEnv = { ...env, DBOPS_BACKUP_KIND: 'physical' };
    const printed = await runCli(['doctor', '--print-grants', '--flavor', 'mariadb'], physicalEnv);
    expect(printed.exitCode, printed.stderr).toBe(0);
    const grants = printed.stdout.split('\n').filter((l) => l.includes("'dbops_backup'@"));
    expect(grants.join('\n')).toContain('PROCESS');
    expect(grants.join('\n')).toContain('LOCK TABLES');
    expect(printed.stdout).toMatch(/reads the datadir/);
    await withConnection(source.conn, async (db) => {
      for (const line of grants) await db.exec(line.replace(/;$/, '').replaceAll("'dbops_backup'", `'${user}'`).replace("'change-me'", `'${password}'`));
    });
    const asAccount = { ...physicalEnv, DBOPS_SOURCE_URL: `mysql://${user}@127.0.0.1:${source.conn.port}`, DBOPS_SOURCE_PASSWORD_FILE: pwFile };
    const backup = await runCli(['backup', '--incremental'], asAccount);
    expect(backup.exitCode, backup.stderr.slice(-800)).toBe(0);
    const doctor = await runCli(['doctor', '--json'], asAccount);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string; detail: string }> }).checks;
    const status = Object.fromEntries(checks.map((c) => [c.id, `${c.status}: ${c.detail}`]));
    expect(status['source.privileges']).toMatch(/^ok: .* has exactly what/);
    expect(status['tools.physical']).toMatch(/^ok: .*mariadb-backup/);
  }, 180_000);
});
