// Retention by scope, end to end: `dbops backup --databases a; dbops backup; dbops backup
// --databases a; dbops prune` against the real MariaDB, on a file:// repository and on the
// S3 protocol server. The full backup in the middle is the only one that holds b and c:
// prune must keep it (and the binlogs from its consistent point, which PITR of b and c
// starts from), say per database which backup covers it, and name the source's databases
// that no backup holds. The backups run as an account that sees only this file's
// databases, so "every database" means the same here whatever other test files left.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mariadb } from '../helpers/mariadb.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { withConnection } from '../../src/mysql/client.js';
import { formatConnectionUrl } from '../../src/mysql/connection-url.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { shipBinlogs } from '../../src/binlog/shipper.js';
import { binlogSeq } from '../../src/binlog/file-names.js';

const DBS = ['pmix_a', 'pmix_b', 'pmix_c'];
const UNCOVERED = 'pmix_d';
const USER = 'pmix_backup';
const PASSWORD = 'pmix-pw-1';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let s3: S3TestServer;
let sourceUrl: string;

beforeAll(async () => {
  keys = await makeKeys();
  s3 = await startS3Server();
  await withConnection(mariadb().conn, async (db) => {
    await db.exec(`DROP USER IF EXISTS '${USER}'@'127.0.0.1'`);
    await db.exec(`CREATE USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'`);
    for (const name of [...DBS, UNCOVERED]) {
      await db.exec(`DROP DATABASE IF EXISTS ${name}`);
      await db.exec(`GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON ${name}.* TO '${USER}'@'127.0.0.1'`);
    }
    for (const name of DBS) {
      await db.exec(`CREATE DATABASE ${name}`);
      await db.exec(`CREATE TABLE ${name}.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))`);
      await db.exec(`INSERT INTO ${name}.t (v) VALUES ('one'), ('two')`);
    }
  });
  const root = mariadb().conn;
  sourceUrl = formatConnectionUrl({ host: root.host, port: root.port, user: USER, password: PASSWORD });
});

afterAll(async () => {
  await s3?.cleanup();
  await withConnection(mariadb().conn, async (db) => {
    for (const name of [...DBS, UNCOVERED]) await db.exec(`DROP DATABASE IF EXISTS ${name}`);
    await db.exec(`DROP USER IF EXISTS '${USER}'@'127.0.0.1'`);
  });
});

/** A backup through the CLI, then a write and a new binlog file (so each backup starts its own file). */
async function backup(env: Record<string, string>, args: string[]): Promise<{ id: string; databases: string[]; binlogFile: string }> {
  const r = await runCli(['backup', '--json', ...args], env);
  expect(r.exitCode, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { id: string; databases: string[]; consistentPoint: { binlogFile: string } };
  await withConnection(mariadb().conn, async (db) => {
    for (const name of DBS) await db.exec(`INSERT INTO ${name}.t (v) VALUES ('after ${out.id}')`);
    await db.exec('FLUSH BINARY LOGS');
  });
  return { id: out.id, databases: out.databases, binlogFile: out.consistentPoint.binlogFile };
}

interface PruneJson {
  plan: {
    backups: Array<{ id: string; action: string; reasons: string[] }>;
    coverage: Array<{ serverUuid: string; database: string; newest: string; kept: string[]; pitrBase: string | null }>;
    uncovered: Array<{ serverUuid: string; database: string }>;
    sources: Array<{ serverUuid: string; keepFrom: string | null; keepReason: string }>;
  };
  applied: { backups: string[] } | null;
}

const stores: Array<[string, () => Promise<string>]> = [
  ['file://', async () => (await tempRepoUrl()).url],
  ['S3', async () => s3.url(`mixed-${Date.now()}`)],
];

describe.each(stores)('prune with mixed-scope backups (%s)', (_name, makeUrl) => {
  it('keeps the only backup of b and c, reports coverage per database, and --apply keeps every database covered', async () => {
    const url = await makeUrl();
    const env = { ...keys.env, DBOPS_STORAGE_URL: url, DBOPS_SOURCE_URL: sourceUrl, DBOPS_BACKUP_ACCOUNTS: 'false' };
    await withConnection(mariadb().conn, (db) => db.exec(`DROP DATABASE IF EXISTS ${UNCOVERED}`));
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const b1 = await backup(env, ['--databases', 'pmix_a']);
    const b2 = await backup(env, []);
    const b3 = await backup(env, ['--databases', 'pmix_a']);
    expect(b1.databases).toEqual(['pmix_a']);
    expect(b2.databases).toEqual(DBS);
    // A database created after the last backup: no backup holds it.
    await withConnection(mariadb().conn, (db) => db.exec(`CREATE DATABASE ${UNCOVERED}`));

    // The default policy (7 daily / 4 weekly / 12 monthly, 7-day window): the plan.
    const dry = await runCli(['prune'], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).not.toMatch(new RegExp(`DELETE backup ${b2.id}`));
    expect(dry.stdout).toMatch(new RegExp(`keep   backup ${b2.id} .*newest good backup for pmix_b, pmix_c`));
    expect(dry.stdout).toMatch(new RegExp(`database pmix_a: newest ${b3.id}`));
    expect(dry.stdout).toMatch(new RegExp(`database pmix_b: newest ${b2.id}`));
    expect(dry.stdout).toMatch(new RegExp(`database pmix_c: newest ${b2.id}`));
    expect(dry.stdout).toMatch(new RegExp(`! database ${UNCOVERED} of source \\S+ has no backup`));

    // Binlogs shipped: PITR of b and c starts at b2, so nothing from b2's file on may go.
    const root = mariadb().conn;
    const repo = await openRepository(await openStorage(url), { signer: await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE) });
    const shipped = await shipBinlogs({
      repo,
      source: root,
      recipients: await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]),
      compressionLevel: 1,
      compressionThreads: 1,
      spoolRoot: join(tmpdir(), `dbops-pmix-spool-${process.pid}-${Date.now()}`),
      maxLagSeconds: 60,
      once: true,
    });
    await new Promise((r) => setTimeout(r, 1100));

    // The tightest policy: one daily, no window to speak of. Only b1 is beyond every rule.
    const tight = { ...env, DBOPS_RETENTION_DAILY: '1', DBOPS_RETENTION_WEEKLY: '0', DBOPS_RETENTION_MONTHLY: '0', DBOPS_RETENTION_PITR_WINDOW: '1s' };
    const applied = await runCli(['prune', '--apply', '--json'], tight);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const out = JSON.parse(applied.stdout) as PruneJson;
    expect(out.applied!.backups).toEqual([b1.id]);
    const cover = Object.fromEntries(out.plan.coverage.map((c) => [c.database, c]));
    expect(Object.keys(cover).sort()).toEqual(DBS);
    expect(cover.pmix_a).toMatchObject({ newest: b3.id, pitrBase: b3.id });
    expect(cover.pmix_b).toMatchObject({ newest: b2.id, pitrBase: b2.id });
    expect(cover.pmix_c).toMatchObject({ newest: b2.id, pitrBase: b2.id });
    expect(out.plan.uncovered).toEqual([{ serverUuid: shipped.serverUuid, database: UNCOVERED }]);
    const source = out.plan.sources.find((s) => s.serverUuid === shipped.serverUuid)!;
    expect(source.keepFrom).toBe(b2.binlogFile);
    expect(source.keepReason).toMatch(/pmix_b, pmix_c|pmix_b|pmix_c/);

    // Every database still has its newest backup; the only one of b and c verifies (every part decrypted).
    const listed = (await repo.backups.list()).flatMap((b) => (b.manifest ? [b.id] : [])).sort();
    expect(listed).toEqual([b2.id, b3.id].sort());
    const v = await runCli(['verify', b2.id], env);
    expect(v.exitCode, v.stderr).toBe(0);
    const segs = (await repo.binlogs.segments(shipped.serverUuid)).segments;
    expect(Math.min(...segs.map((s) => s.sequence))).toBe(binlogSeq(b2.binlogFile));
  });
});
