// The README's by-hand runbook, executed as written: the fenced block under its marker is cut
// out of README.md and run with bash against a real backup (made by the CLI) and real shipped
// binlogs in a file repository, with stock tools only. The target must then hold, table by
// table, what the source held at the chosen time (CHECKSUM TABLE and row counts), the
// backup's users (the accounts part), its view, and names with spaces and accents intact.
// Run twice: up to a time (TO), and up to just before a DROP TABLE found with `binlog find`
// (BEFORE), the README's two ways to stop.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, readdir, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { withConnection, type MysqlClient } from '../../src/mysql/client.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { readmeRunbook } from '../helpers/readme-runbook.js';

/** A database and a table whose names a careless loop or missing quotes would break. */
const SALES = 'ventes été';
const CLIENTS = 'clients à jour';

let source: SandboxServer;
let target: SandboxServer;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: { dir: string; url: string };
let env: Record<string, string>;
let work: string;
let backupId = '';
/** CHECKSUM TABLE of the source at TO, and just before the DROP TABLE. */
let atTo: Record<string, string> = {};
let beforeDrop: Record<string, string> = {};
let to = '';

const q = (name: string): string => `\`${name.replace(/`/g, '``')}\``;

/** CHECKSUM TABLE of every base table of the user databases: "db.table" → checksum (as the client prints it). */
async function checksums(c: MysqlClient): Promise<Record<string, string>> {
  const tables = await c.query<{ s: string; t: string }>(
    "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'performance_schema', 'information_schema') ORDER BY 1, 2",
  );
  const out: Record<string, string> = {};
  for (const { s, t } of tables) {
    const [row] = await c.query<{ Table: string; Checksum: string | number }>(`CHECKSUM TABLE ${q(s)}.${q(t)}`);
    const [{ n }] = (await c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${q(s)}.${q(t)}`)) as [{ n: number }];
    out[row!.Table] = `${n} rows, checksum ${row!.Checksum}`;
  }
  return out;
}

/** The runbook's step 5 output ("db.table<TAB>checksum" lines) as "db.table" → checksum. */
function printedChecksums(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split('\n')) {
    const [table, sum] = line.split('\t');
    out[table!] = sum!;
  }
  return out;
}

/** A UTC 'YYYY-MM-DD HH:MM:SS' for mariadb-binlog --stop-datetime. */
function utcSecond(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function resetTarget(): Promise<void> {
  await withConnection(target.conn, async (c) => {
    for (const d of await c.listUserDatabases()) await c.exec(`DROP DATABASE ${q(d)}`);
    await c.exec("DROP USER IF EXISTS 'app'@'%'");
  });
}

async function runRunbook(vars: { TO: string; BEFORE: string }): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const block = await readmeRunbook();
  const script = join(work, 'runbook.sh');
  await writeFile(script, block);
  const scratch = await mkdtemp(join(work, 'scratch-'));
  const r = await execa('bash', [script], {
    reject: false,
    env: {
      PATH: process.env.PATH!,
      HOME: work,
      REPO: repo.dir,
      BACKUP: backupId,
      ...vars,
      IDENTITY: keys.env.DBOPS_AGE_IDENTITY_FILE!,
      SIGNING_PUB: join(keys.dir, 'signing.pub'),
      TARGET_CNF: join(work, 'target.cnf'),
      ACCOUNTS: 'yes',
      WORK: scratch,
    },
    extendEnv: false,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

beforeAll(async () => {
  [source, target, keys, repo] = await Promise.all([
    startSandboxServer({ binlog: true, serverId: 31 }),
    startSandboxServer({ binlog: false }),
    makeKeys(),
    tempRepoUrl(),
  ]);
  work = await mkdtemp(join(tmpdir(), 'dbops-runbook-'));
  // The responder's option file: the password never reaches a command line.
  await writeFile(join(work, 'target.cnf'), `[client]\nuser=root\npassword=${target.conn.password}\nhost=127.0.0.1\nport=${target.port}\n`, { mode: 0o600 });
  env = { ...keys.env, DBOPS_SOURCE_URL: source.url, DBOPS_STORAGE_URL: repo.url };

  await withConnection(source.conn, async (c) => {
    await c.exec(`CREATE DATABASE ${q(SALES)} CHARACTER SET utf8mb4`);
    await c.exec(`CREATE TABLE ${q(SALES)}.${q(CLIENTS)} (id INT PRIMARY KEY, nom VARCHAR(60), solde DECIMAL(10,2), vu DATETIME(3), note TEXT)`);
    await c.exec(`INSERT INTO ${q(SALES)}.${q(CLIENTS)} VALUES (1, 'Zoë', 10.50, '2026-01-02 03:04:05.678', NULL), (2, NULL, -3.25, NULL, 'tab\there'), (3, 'Ærøskøbing', 0, '2026-06-30 23:59:59.999', '')`);
    await c.exec('CREATE DATABASE shop');
    await c.exec('CREATE TABLE shop.items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(40) NOT NULL, stock INT NOT NULL, data BLOB, KEY by_name (name))');
    await c.exec("INSERT INTO shop.items (name, stock, data) VALUES ('lamp', 3, 0x00ff10), ('desk', 1, NULL), ('chair', 8, '')");
    await c.exec('CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item INT NOT NULL, at DATETIME NOT NULL)');
    await c.exec('CREATE VIEW shop.in_stock AS SELECT id, name FROM shop.items WHERE stock > 0');
    await c.exec("CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret'");
    await c.exec("GRANT SELECT, INSERT ON shop.* TO 'app'@'%'");
  });
  await expect(runCli(['init'], env)).resolves.toMatchObject({ exitCode: 0 });
  const b = await runCli(['backup', '-q'], env);
  expect(b.exitCode, b.stderr).toBe(0);
  backupId = b.stdout.trim().split('\n').at(-1)!;

  // After the backup: changes the binlogs must bring back, then TO, then changes they must not.
  await withConnection(source.conn, async (c) => {
    await c.exec(`UPDATE ${q(SALES)}.${q(CLIENTS)} SET solde = solde + 1, nom = CONCAT(IFNULL(nom, '?'), ' ñ') WHERE id <= 2`);
    await c.exec(`INSERT INTO ${q(SALES)}.${q(CLIENTS)} VALUES (4, 'nouvelle', 99.99, NOW(3), 'après la sauvegarde')`);
    await c.exec('INSERT INTO shop.orders (item, at) VALUES (1, NOW()), (2, NOW())');
    await c.exec("DELETE FROM shop.items WHERE name = 'desk'");
    await sleep(1200); // every event so far is stamped before TO (a whole second)
    to = utcSecond(new Date());
    atTo = await checksums(c);
    await sleep(1200); // every event from here on is stamped after TO
    await c.exec('UPDATE shop.items SET stock = stock - 1');
    await c.exec(`DELETE FROM ${q(SALES)}.${q(CLIENTS)} WHERE id = 3`);
    await c.exec('INSERT INTO shop.orders (item, at) VALUES (3, NOW())');
    beforeDrop = await checksums(c);
    await c.exec('DROP TABLE shop.items');
    await c.exec('INSERT INTO shop.orders (item, at) VALUES (4, NOW())');
  });
  const ship = await runCli(['binlog', 'ship', '--once', '-q'], env);
  expect(ship.exitCode, ship.stderr).toBe(0);
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the README's stock-tools runbook", () => {
  it('restores the backup plus binlogs to TO: every table equals the source at TO, users and view included', async () => {
    await resetTarget();
    const r = await runRunbook({ TO: to, BEFORE: '' });
    expect(r.exitCode, r.stderr).toBe(0);
    const sums = await withConnection(target.conn, (c) => checksums(c));
    expect(sums).toEqual(atTo);
    expect(Object.keys(atTo)).toEqual(expect.arrayContaining([`${SALES}.${CLIENTS}`, 'shop.items', 'shop.orders']));
    // What the runbook printed is what a responder compares: the same checksums.
    const printed = printedChecksums(r.stdout);
    for (const [table, v] of Object.entries(atTo)) expect(`checksum ${printed[table]}`, table).toBe(v.replace(/^\d+ rows, /, ''));
    await withConnection(target.conn, async (c) => {
      expect(await c.query("SELECT User AS u FROM mysql.user WHERE User = 'app'")).toEqual([{ u: 'app' }]);
      expect(await c.query('SELECT name FROM shop.in_stock ORDER BY id')).toEqual([{ name: 'lamp' }, { name: 'chair' }]);
    });
  });

  it('stops just before a DROP TABLE found with `binlog find` (BEFORE=FILE:POS): the table is back as it was', async () => {
    const found = await runCli(['--json', 'binlog', 'find', '--grep', 'DROP TABLE'], env);
    expect(found.exitCode, found.stderr).toBe(0);
    const { matches } = JSON.parse(found.stdout) as { matches: Array<{ file: string; position: number; operations: Array<{ statement?: string }> }> };
    const drop = matches.find((h) => h.operations.some((o) => /^DROP TABLE/i.test(o.statement ?? '')));
    expect(drop, found.stdout).toBeDefined();
    await resetTarget();
    const r = await runRunbook({ TO: '', BEFORE: `${drop!.file}:${drop!.position}` });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await withConnection(target.conn, (c) => checksums(c))).toEqual(beforeDrop);
  });

  it('refuses a binlog that differs from its signed manifest (exit 3), as a responder needs', async () => {
    const [sourceId] = await readdir(join(repo.dir, 'binlogs'));
    const manifest = JSON.parse(await readFile(join(repo.dir, 'backups', backupId, 'manifest.json'), 'utf8')) as { consistentPoint: { binlogFile: string } };
    const segment = JSON.parse(await readFile(join(repo.dir, 'binlogs', sourceId!, `${manifest.consistentPoint.binlogFile}.json`), 'utf8')) as { key: string };
    const path = join(repo.dir, segment.key);
    const original = await readFile(path);
    const bad = Buffer.from(original);
    bad[bad.length >> 1]! ^= 1;
    await writeFile(path, bad);
    try {
      await resetTarget();
      const r = await runRunbook({ TO: to, BEFORE: '' });
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toContain(`CHANGED: ${segment.key} differs from its signed manifest`);
    } finally {
      await writeFile(path, original);
    }
  });
});
