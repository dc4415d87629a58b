// The evidence log (issue 15): every verify, restore test and administrative action is a
// signed, hash-chained entry; deleting, editing, reordering or inserting an entry, or removing
// a report it pins, makes `evidence verify` exit 3 naming the first bad link; an exported
// bundle checks offline, with dbops and with stock tools alone.
import { describe, it, expect, beforeAll } from 'vitest';
import { cp, readFile, readdir, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/mariadb.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { withConnection } from '../../src/mysql/client.js';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let repoDir: string;
let env: Record<string, string>;
let failReportKey: string;

interface Entry {
  sequence: number;
  action: string;
  subject: string | null;
  outcome: string;
  refs: Array<{ key: string; sha256: string }>;
}

beforeAll(async () => {
  keys = await makeKeys();
  const db = await freshDatabase('evidence_src');
  await withConnection(db.conn, async (c) => {
    await c.exec('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
    await c.exec("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  });
  const repo = await tempRepoUrl();
  repoDir = repo.dir;
  env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: db.url.replace(/\/evidence_src$/, ''), DBOPS_SOURCE_DATABASES: 'evidence_src' };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const b1 = await runCli(['backup'], env);
  expect(b1.exitCode, b1.stderr).toBe(0);
  expect((await runCli(['verify', 'latest'], env)).exitCode).toBe(0);
  expect((await runCli(['restore-test', '--depth', 'integrity'], env)).exitCode).toBe(0);
  // A backup with a damaged part: its restore test fails and leaves a FAIL report.
  const b2 = await runCli(['backup'], env);
  const id = b2.stdout.trim();
  const parts = await readdir(join(repoDir, 'backups', id, 'parts'), { recursive: true });
  const part = join(repoDir, 'backups', id, 'parts', String(parts.find((p) => String(p).endsWith('.age'))));
  const bytes = await readFile(part);
  bytes[bytes.length - 10]! ^= 0xff;
  await writeFile(part, bytes);
  const failed = await runCli(['restore-test', '--depth', 'integrity', '--json'], env);
  expect(failed.exitCode, failed.stderr).toBe(3);
  failReportKey = (JSON.parse(failed.stdout) as { stored: { jsonKey: string } }).stored.jsonKey;
  expect((await runCli(['verify', id], env)).exitCode).toBe(3);
}, 240_000);

async function entries(dir = repoDir): Promise<Entry[]> {
  const r = await runCli(['evidence', 'list', '--json'], { ...env, DBOPS_STORAGE_URL: `file://${dir}` });
  return (JSON.parse(r.stdout) as { entries: Entry[] }).entries;
}

/** A copy of the repository to damage. */
async function copyRepo(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = join(await tempDir('dbops-evidence-copy-'), 'repo');
  await cp(repoDir, dir, { recursive: true });
  return { dir, env: { ...env, DBOPS_STORAGE_URL: `file://${dir}` } };
}

const entryPath = (dir: string, n: number): string => join(dir, 'evidence', `${String(n).padStart(12, '0')}.json`);

async function expectBad(copy: { env: Record<string, string> }, pattern: RegExp): Promise<void> {
  const r = await runCli(['evidence', 'verify'], copy.env);
  expect(r.exitCode, r.stdout + r.stderr).toBe(3);
  expect(r.stderr).toMatch(pattern);
}

describe('the evidence log records what happened', () => {
  it('every action in order, chained, with the outcomes that happened', async () => {
    const list = await entries();
    expect(list.map((e) => e.sequence)).toEqual(list.map((_, i) => i + 1));
    expect(list.map((e) => `${e.action}:${e.outcome}`)).toEqual(['init:ok', 'backup:ok', 'verify:pass', 'restore-test:pass', 'backup:ok', 'restore-test:fail', 'verify:fail']);
    expect(list.find((e) => e.outcome === 'fail' && e.action === 'restore-test')!.refs.map((r) => r.key)).toEqual([failReportKey]);
    const r = await runCli(['evidence', 'verify'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/OK \(entries 1…7/);
  });

  it('two writers appending at once never fork the chain', async () => {
    const copy = await copyRepo();
    await Promise.all([runCli(['verify', 'latest', '--skip-damaged'], copy.env), runCli(['verify', 'latest', '--skip-damaged'], copy.env), runCli(['verify', 'latest', '--skip-damaged'], copy.env)]);
    expect((await entries(copy.dir)).map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await runCli(['evidence', 'verify'], copy.env)).exitCode).toBe(0);
  });
});

describe('tampering is found and named', () => {
  it('a deleted entry', async () => {
    const copy = await copyRepo();
    await rm(entryPath(copy.dir, 3));
    await expectBad(copy, /entry 3 missing/i);
  });

  it('an edited entry (the FAIL turned into a pass)', async () => {
    const copy = await copyRepo();
    const doc = JSON.parse(await readFile(entryPath(copy.dir, 6), 'utf8')) as { outcome: string };
    doc.outcome = 'pass';
    await writeFile(entryPath(copy.dir, 6), JSON.stringify(doc, null, 2));
    await expectBad(copy, /000000000006\.json.*signature does not verify/);
  });

  it('reordered entries', async () => {
    const copy = await copyRepo();
    await rename(entryPath(copy.dir, 4), join(copy.dir, 'x'));
    await rename(entryPath(copy.dir, 5), entryPath(copy.dir, 4));
    await rename(join(copy.dir, 'x'), entryPath(copy.dir, 5));
    await expectBad(copy, /000000000004\.json holds entry 5/);
  });

  it('an inserted entry (a signed entry of another log)', async () => {
    const copy = await copyRepo();
    await writeFile(entryPath(copy.dir, 8), await readFile(entryPath(copy.dir, 2)));
    await expectBad(copy, /000000000008\.json holds entry 2/);
  });

  it('the newest entries removed (the head remembers)', async () => {
    const copy = await copyRepo();
    await rm(entryPath(copy.dir, 7));
    await expectBad(copy, /ends at entry 6 but its head names entry 7/);
  });

  it('a FAIL report deleted: evidence verify and report list exit 3 naming it', async () => {
    const copy = await copyRepo();
    await rm(join(copy.dir, failReportKey));
    await expectBad(copy, new RegExp(`${failReportKey.replace(/[.]/g, '\\.')}.*is missing`));
    const list = await runCli(['report', 'list'], copy.env);
    expect(list.exitCode, list.stderr).toBe(3);
    expect(list.stderr).toContain(failReportKey);
  });
});

describe('an exported bundle checks offline', () => {
  it('with dbops and the public key alone, and with jq, openssl and sha256sum alone', async () => {
    const out = join(await tempDir('dbops-bundle-'), 'evidence.tar');
    const e = await runCli(['evidence', 'export', '--since', '1d', '--out', out], env);
    expect(e.exitCode, e.stderr).toBe(0);
    const pub = join(keys.dir, 'signing.pub');
    const ok = await runCli(['evidence', 'verify', out, '--public-key', pub], { DBOPS_LOG_JSON: '1' });
    expect(ok.exitCode, ok.stderr).toBe(0);

    const dir = await tempDir('dbops-bundle-x-');
    await execa('tar', ['-xf', out, '-C', dir]);
    const script = await execa('sh', ['verify-bundle.sh', pub], { cwd: dir, reject: false });
    expect(script.exitCode, script.stdout + script.stderr).toBe(0);
    expect(script.stdout).toMatch(/bundle verified/);

    // The same bundle with the FAIL report edited: both checks refuse it.
    const report = join(dir, failReportKey);
    await writeFile(report, (await readFile(report, 'utf8')).replace('"fail"', '"pass"'));
    const bad = await execa('sh', ['verify-bundle.sh', pub], { cwd: dir, reject: false });
    expect(bad.exitCode).toBe(3);
    expect(bad.stdout).toMatch(/CHANGED/);
    const tarred = join(dir, '..', 'edited.tar');
    await mkdir(dir, { recursive: true });
    await execa('tar', ['-cf', tarred, '-C', dir, '.']);
    const r = await runCli(['evidence', 'verify', tarred, '--public-key', pub], { DBOPS_LOG_JSON: '1' });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/was changed/);
  });
});
