// What a responder meets when point-in-time recovery cannot give what was asked, against
// real MariaDB servers, binlogs shipped by the real shipper and a real S3 protocol server:
// - a --table/--database that the binlog drops (or renames) after the base: refused before
//   the target is touched, naming the event and the --before that recovers it;
// - a damaged newest base: the refusal names the previous good base and its flag, and
//   --base previous / --base ID recover from it (per-table checksums equal the source);
//   a base whose chain crosses a gap is refused;
// - a restore or pitr that fails half way: what it created is removed (kept with
//   --keep-partial), what was on the target before stays, and the message says which.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import { formatConnectionUrl } from '../../src/mysql/connection-url.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { tableContentChecksum } from '../../src/verify/content-checksum.js';
import { runPitr } from '../../src/pitr/run-pitr.js';
import { UsageError } from '../../src/errors.js';
import { runCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';

const DBS = ['shop', 'crm', 'archive'];
let s3: S3TestServer;
let source: SandboxServer;
let target: SandboxServer;
let db: MysqlClient;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: Repository;
let recipients: string[];
let spool: string;
let env: Record<string, string>;
let sourceId = '';
/** Backups, oldest first: B0 (before a gap), B1, B2 (the newest). */
const B: string[] = [];
/** shop.items just before its DROP, and that DROP's place. */
let itemsBeforeDrop = '';
let beforeDrop = { file: '', pos: 0 };

async function ship(): Promise<void> {
  const r = await shipBinlogs({ repo, source: source.conn, recipients, compressionLevel: 3, compressionThreads: 1, spoolRoot: spool, maxLagSeconds: 60, once: true });
  sourceId = r.serverUuid;
}

async function backup(): Promise<string> {
  const m = await runBackup({ repo, source: source.conn, recipients, databases: DBS, compressionLevel: 3, compressionThreads: 1, includeAccounts: false });
  return m.id;
}

async function writes(n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    // orders is the biggest table, so a one-at-a-time restore loads it first.
    await db.exec('INSERT INTO shop.orders (v) VALUES (?)', [`${tag} ${i} ${'x'.repeat(40)}`]);
    await db.exec('INSERT INTO crm.contacts (name) VALUES (?)', [`${tag} ${i}`]);
  }
  await db.exec('UPDATE shop.items SET stock = stock - 1 WHERE id = 1').catch(() => undefined);
}

async function checksums(conn: SandboxServer['conn'], dbName: string): Promise<Record<string, string>> {
  return withConnection(conn, async (c) => {
    const tables = await c.query<{ t: string }>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [dbName]);
    const out: Record<string, string> = {};
    for (const { t } of tables) {
      const s = await tableContentChecksum(c.raw, dbName, t);
      out[t] = `${s.rows}:${s.checksum}`;
    }
    return out;
  });
}

async function targetDatabases(): Promise<string[]> {
  return withConnection(target.conn, (c) => c.listUserDatabases());
}

/** The target as an on-call engineer finds it: one database of its own that no recovery may touch. */
async function resetTarget(): Promise<void> {
  await withConnection(target.conn, async (c) => {
    for (const d of await c.listUserDatabases()) await c.exec(`DROP DATABASE \`${d}\``);
    await c.exec('CREATE DATABASE keepme');
    await c.exec('CREATE TABLE keepme.t (id INT PRIMARY KEY)');
    await c.exec('INSERT INTO keepme.t VALUES (1), (2)');
  });
}

async function keepmeIntact(): Promise<void> {
  expect(await checksums(target.conn, 'keepme')).toEqual({ t: expect.stringMatching(/^2:/) });
}

/** Flip one byte in the middle of a stored object (through the S3 protocol); returns the undo. */
async function damage(key: string): Promise<() => Promise<void>> {
  const original = await repo.storage.getBuffer(key);
  const bad = Buffer.from(original);
  bad[Math.floor(bad.length / 2)]! ^= 0x01;
  await repo.storage.put(key, bad);
  return async () => {
    await repo.storage.put(key, original);
  };
}

/** stderr without the JSON log lines. */
function message(stderr: string): string[] {
  return stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
}

beforeAll(async () => {
  [s3, source, target, keys] = await Promise.all([
    startS3Server(),
    startSandboxServer({ binlog: true, serverId: 9 }),
    startSandboxServer({ binlog: false }),
    makeKeys(),
  ]);
  spool = await mkdtemp(join(tmpdir(), 'dbops-pitr-recovery-spool-'));
  const url = s3.url('pitr-recovery');
  const signer = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  const storage = await openStorage(url);
  await initRepository(storage, signer, recipients);
  repo = await openRepository(storage, { signer });
  env = { ...s3TestEnv, ...keys.env, DBOPS_STORAGE_URL: url, DBOPS_RESTORE_TARGET_URL: target.url };

  db = await MysqlClient.connect(source.conn);
  for (const d of DBS) await db.exec(`CREATE DATABASE ${d}`);
  await db.exec('CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))');
  await db.exec('CREATE TABLE shop.items (id INT PRIMARY KEY, stock INT NOT NULL)');
  await db.exec('CREATE TABLE shop.notes (id INT PRIMARY KEY, t VARCHAR(32))');
  await db.exec('CREATE TABLE shop.old (id INT PRIMARY KEY)');
  await db.exec('CREATE TABLE crm.contacts (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64))');
  await db.exec('CREATE TABLE archive.logs (id INT PRIMARY KEY)');
  for (let i = 1; i <= 10; i++) await db.exec('INSERT INTO shop.items VALUES (?, 100)', [i]);
  await db.exec("INSERT INTO shop.notes VALUES (1, 'first')");
  await db.exec('INSERT INTO shop.old VALUES (1), (2)');
  await db.exec('INSERT INTO archive.logs VALUES (1)');
  await writes(3, 'w0');

  // B0, then two binlogs purged before they were shipped: a gap between B0 and B1.
  B.push(await backup());
  await ship();
  for (let i = 0; i < 2; i++) {
    await writes(1, 'lost');
    await db.exec('FLUSH BINARY LOGS');
  }
  const current = (await db.query<{ File: string }>('SHOW BINLOG STATUS'))[0]!.File;
  const deadline = Date.now() + 20_000;
  for (;;) {
    // A file the shipper's dump thread still holds is not purged at once.
    await db.exec(`PURGE BINARY LOGS TO '${current}'`);
    const first = (await db.query<{ Log_name: string }>('SHOW BINARY LOGS'))[0]!.Log_name;
    if (first === current) break;
    if (Date.now() > deadline) throw new Error(`binlogs before ${current} were not purged`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await writes(2, 'after gap');
  await ship();

  B.push(await backup()); // B1
  await writes(3, 'w1');
  await ship();
  await writes(2, 'w1b');
  await ship();
  B.push(await backup()); // B2, the newest
  await writes(3, 'w2');
  await ship();

  // After the newest base: the incident, and more history.
  itemsBeforeDrop = (await checksums(source.conn, 'shop')).items!;
  const st = (await db.query<{ File: string; Position: number }>('SHOW BINLOG STATUS'))[0]!;
  beforeDrop = { file: st.File, pos: Number(st.Position) };
  await db.exec('DROP TABLE shop.items');
  await db.exec('USE shop');
  await db.exec('RENAME TABLE old TO older');
  await db.exec('DROP TABLE notes');
  await db.exec('CREATE TABLE notes (id INT PRIMARY KEY, t VARCHAR(32))');
  await db.exec("INSERT INTO notes VALUES (2, 'second')");
  await db.exec('DROP DATABASE archive');
  await writes(3, 'w3');
  await ship();
  await writes(2, 'w4');
  await ship();
}, 180_000);

afterAll(async () => {
  await db?.close();
  await Promise.allSettled([source?.stop(), target?.stop(), s3?.cleanup()]);
  if (spool) await rm(spool, { recursive: true, force: true });
});

describe('a --table/--database that the binlog removes after the base', () => {
  it('pitr --to latest --table shop.items --into-schema rescue exits 2 naming the DROP and its --before; the suggested --before recovers it', async () => {
    await resetTarget();
    const r = await runCli(['pitr', '--to', 'latest', '--table', 'shop.items', '--into-schema', 'rescue'], env);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stdout).not.toMatch(/recovered/);
    const lines = message(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/table shop\.items does not exist at binlog\.\d+:\d+ \(--to latest\): dropped by binlog\.\d+:\d+ at \d{4}-\d\d-\d\dT[\d:]+Z \(GTID 0-9-\d+\): DROP TABLE/);
    const before = /--before (binlog\.\d+:\d+)/.exec(lines[0]!);
    expect(before, lines[0]).not.toBeNull();
    expect(await targetDatabases()).toEqual(['keepme']); // refused before the target was touched

    const ok = await runCli(['pitr', '--before', before![1]!, '--table', 'shop.items', '--into-schema', 'rescue', '--json'], env);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(await checksums(target.conn, 'rescue')).toEqual({ items: itemsBeforeDrop });
    expect(before![1]!.split(':')[0]).toBe(beforeDrop.file);
    await keepmeIntact();
  }, 120_000);

  it('--database of a dropped database, and --table of a renamed table, are refused the same way (dry run too)', async () => {
    await resetTarget();
    const identityFile = keys.env.DBOPS_AGE_IDENTITY_FILE!;
    const cases: Array<[object, RegExp]> = [
      [{ database: 'archive' }, /database archive does not exist at binlog\.\d+:\d+ \(--to latest\): dropped by binlog\.\d+:\d+ .*DROP DATABASE archive.*; recover it as it was just before with --before binlog\.\d+:\d+/],
      [{ table: 'shop.old' }, /table shop\.old does not exist at .*: renamed by binlog\.\d+:\d+ .*RENAME TABLE old TO older.*--before binlog\.\d+:\d+/],
    ];
    for (const [scope, msg] of cases) {
      for (const dryRun of [true, false]) {
        const err = await runPitr({ repo, identityFile, target: { kind: 'latest' }, conn: target.conn, scope, dryRun }).catch((e: unknown) => e);
        expect(err, JSON.stringify(scope)).toBeInstanceOf(UsageError);
        expect((err as Error).message).toMatch(msg);
        expect((err as Error).message).not.toContain('\n');
      }
    }
    expect(await targetDatabases()).toEqual(['keepme']);
  }, 120_000);

  it('a table dropped and created again before the point is recovered as it is at the point', async () => {
    await resetTarget();
    const r = await runPitr({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: { kind: 'latest' }, conn: target.conn, scope: { table: 'shop.notes' } });
    expect(r.reached).not.toBeNull();
    const src = await checksums(source.conn, 'shop');
    expect(await checksums(target.conn, 'shop')).toEqual({ notes: src.notes });
  }, 120_000);
});

describe('choosing the base', () => {
  it('a damaged part in the newest base: exit 3 naming the previous good base and its flag; --base previous recovers to latest', async () => {
    const m = await repo.backups.read(B[2]!);
    const part = m.parts.find((p) => p.kind === 'table' && p.table === 'orders')!;
    const undo = await damage(part.key);
    try {
      await resetTarget();
      const r = await runCli(['pitr', '--to', 'latest'], env);
      expect(r.exitCode, r.stderr).toBe(3);
      const lines = message(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(part.key);
      expect(lines[0]).toContain(`base backup ${B[2]} failed verification`);
      expect(lines[0]).toContain(`the previous good base is ${B[1]}`);
      expect(lines[0]).toContain(`--base ${B[1]}`);
      // Nothing of ours is left; what was there stays.
      expect(await targetDatabases()).toEqual(['keepme']);
      await keepmeIntact();

      const dry = await runCli(['pitr', '--to', 'latest', '--base', 'previous', '--dry-run', '--json'], env);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout).plan.base.id).toBe(B[1]);

      const ok = await runCli(['pitr', '--to', 'latest', '--base', 'previous', '--json'], env);
      expect(ok.exitCode, ok.stderr).toBe(0);
      const out = JSON.parse(ok.stdout) as { plan: { base: { id: string } } };
      expect(out.plan.base.id).toBe(B[1]);
      for (const d of ['shop', 'crm']) expect(await checksums(target.conn, d), d).toEqual(await checksums(source.conn, d));
      expect((await targetDatabases()).sort()).toEqual(['crm', 'keepme', 'shop']); // archive was dropped on the source too
      await keepmeIntact();
    } finally {
      await undo();
    }
  }, 180_000);

  it('a newest base whose manifest does not verify: exit 3 naming it and the base to use instead, never a silent fallback', async () => {
    const key = `backups/${B[2]}/manifest.json`;
    const undo = await damage(key);
    try {
      const r = await runCli(['pitr', '--to', 'latest', '--dry-run'], env);
      expect(r.exitCode, r.stderr).toBe(3);
      const lines = message(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`backup ${B[2]}`);
      expect(lines[0]).toContain(`--base ${B[1]}`);
      const prev = await runCli(['pitr', '--to', 'latest', '--base', 'previous', '--dry-run', '--json'], env);
      expect(prev.exitCode, prev.stderr).toBe(0);
      expect(JSON.parse(prev.stdout).plan.base.id).toBe(B[1]);
    } finally {
      await undo();
    }
  }, 60_000);

  it('--base ID picks that base; a base whose chain crosses a gap, or an unknown one, is refused with exit 2', async () => {
    const byId = await runCli(['pitr', '--to', 'latest', '--base', B[1]!, '--dry-run', '--json'], env);
    expect(byId.exitCode, byId.stderr).toBe(0);
    const plan = JSON.parse(byId.stdout).plan as { base: { id: string }; chain: Array<{ file: string }> };
    expect(plan.base.id).toBe(B[1]);

    const gap = await runCli(['pitr', '--to', 'latest', '--base', B[0]!, '--dry-run'], env);
    expect(gap.exitCode, gap.stderr).toBe(2);
    expect(message(gap.stderr)).toHaveLength(1);
    expect(message(gap.stderr)[0]).toMatch(new RegExp(`base ${B[0]}: binlog binlog\\.\\d+ is purged on the source before it was shipped: cannot replay`));

    const unknown = await runCli(['pitr', '--to', 'latest', '--base', '20000101T000000Z-aaaaaa', '--dry-run'], env);
    expect(unknown.exitCode).toBe(2);
    expect(message(unknown.stderr)[0]).toMatch(/backup 20000101T000000Z-aaaaaa does not exist/);
    const empty = await runCli(['pitr', '--to', 'latest', '--base', '', '--dry-run'], env);
    expect(empty.exitCode).toBe(2);
    expect(message(empty.stderr)).toEqual(['dbops: --base is empty: give a backup id from "dbops list", or previous']);
  }, 60_000);
});

describe('a restore or pitr that fails half way', () => {
  it('pitr: a damaged binlog after the base is restored removes what it created, keeps what was there, and says so; --keep-partial keeps it', async () => {
    const { segments } = await repo.binlogs.segments(sourceId);
    const dry = await runPitr({ repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: { kind: 'latest' }, dryRun: true });
    expect(dry.plan.chain.length).toBeGreaterThanOrEqual(3);
    const middle = segments.find((s) => s.file === dry.plan.chain[1]!.file)!;
    const undo = await damage(middle.key);
    try {
      await resetTarget();
      const r = await runCli(['pitr', '--to', 'latest'], env);
      expect(r.exitCode, r.stderr).toBe(3);
      const lines = message(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(middle.key);
      expect(lines[0]).toMatch(/removed what this pitr created: databases archive, crm, shop/);
      expect(lines[0]).toMatch(/nothing that was on the target before was dropped/);
      expect(await targetDatabases()).toEqual(['keepme']);
      await keepmeIntact();

      await resetTarget();
      const kept = await runCli(['pitr', '--to', 'latest', '--keep-partial'], env);
      expect(kept.exitCode, kept.stderr).toBe(3);
      expect(message(kept.stderr)[0]).toMatch(/kept on the target \(--keep-partial\): databases archive, crm, shop/);
      expect((await targetDatabases()).sort()).toEqual(['archive', 'crm', 'keepme', 'shop']);
      await keepmeIntact();
    } finally {
      await undo();
    }
  }, 180_000);

  describe('restore refused half way by the target (a user without INSERT on crm)', () => {
    let restorerUrl = '';
    beforeAll(async () => {
      await withConnection(target.conn, async (c) => {
        await c.exec("CREATE USER IF NOT EXISTS 'restorer'@'127.0.0.1' IDENTIFIED BY 'r3st0rer'");
        await c.exec("GRANT ALL ON shop.* TO 'restorer'@'127.0.0.1'");
        await c.exec("GRANT ALL ON archive.* TO 'restorer'@'127.0.0.1'");
        await c.exec("GRANT CREATE, DROP, ALTER, INDEX, SELECT ON crm.* TO 'restorer'@'127.0.0.1'");
      });
      restorerUrl = formatConnectionUrl({ ...target.conn, user: 'restorer', password: 'r3st0rer' });
    });

    it('removes the databases it created, leaves the others, and lists them; --keep-partial keeps them', async () => {
      await resetTarget();
      const r = await runCli(['restore', B[1]!, '--binlog', '--target', restorerUrl], env);
      expect(r.exitCode, r.stderr).toBe(1);
      const lines = message(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/INSERT command denied/);
      expect(lines[0]).toMatch(/removed what this restore created: databases archive, crm, shop/);
      expect(await targetDatabases()).toEqual(['keepme']);
      await keepmeIntact();

      await resetTarget();
      const kept = await runCli(['restore', B[1]!, '--binlog', '--keep-partial', '--target', restorerUrl], env);
      expect(kept.exitCode, kept.stderr + kept.stdout).toBe(1);
      expect(message(kept.stderr)[0]).toMatch(/kept on the target \(--keep-partial\): databases archive, crm, shop/);
      expect((await targetDatabases()).sort()).toEqual(['archive', 'crm', 'keepme', 'shop']);
    }, 120_000);

    it('--force over a database that was there: never drops it or its other tables, names the tables it replaced', async () => {
      await resetTarget();
      await withConnection(target.conn, async (c) => {
        await c.exec('CREATE DATABASE shop');
        await c.exec('CREATE TABLE shop.extra (id INT PRIMARY KEY)');
        await c.exec('INSERT INTO shop.extra VALUES (7)');
        await c.exec('CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(64))');
      });
      const r = await runCli(['restore', B[1]!, '--binlog', '--force', '--parallel', '1', '--target', restorerUrl], env);
      expect(r.exitCode, r.stderr).toBe(1);
      const line = message(r.stderr)[0]!;
      expect(line).toMatch(/removed what this restore created: databases archive, crm/);
      expect(line).toMatch(/replaced \(dropped and loaded from backup \S+, not undone\): .*shop\.orders/);
      expect((await targetDatabases()).sort()).toEqual(['keepme', 'shop']);
      expect(await checksums(target.conn, 'shop')).toMatchObject({ extra: expect.stringMatching(/^1:/) });
      await keepmeIntact();
    }, 120_000);
  });
});
