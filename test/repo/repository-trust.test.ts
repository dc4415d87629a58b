// What a repository may be trusted for (issue 14.3, 14.4 and the recipients rule): a damaged
// newest manifest is an integrity failure wherever `latest` is resolved, never a silent fall-back
// to an older backup; a backup host writes only into the repository its own key signed; the
// recipients new backups are encrypted to change only on purpose.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/mariadb.js';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let other: Awaited<ReturnType<typeof makeKeys>>;
let sourceUrl: string;

beforeAll(async () => {
  [keys, other] = await Promise.all([makeKeys(), makeKeys()]);
  const db = await freshDatabase('trust_src');
  const { withConnection } = await import('../../src/mysql/client.js');
  await withConnection(db.conn, async (c) => {
    await c.exec('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
    await c.exec("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  });
  sourceUrl = db.url.replace(/\/trust_src$/, '');
});

async function repoWithTwoBackups(): Promise<{ dir: string; env: Record<string, string>; ids: string[] }> {
  const repo = await tempRepoUrl();
  const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: sourceUrl, DBOPS_SOURCE_DATABASES: 'trust_src' };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['backup'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    ids.push(r.stdout.trim());
  }
  return { dir: repo.dir, env, ids };
}

async function tamperManifest(dir: string, id: string): Promise<void> {
  const path = join(dir, 'backups', id, 'manifest.json');
  const doc = JSON.parse(await readFile(path, 'utf8')) as { totals: { rows: number } };
  doc.totals.rows += 1;
  await writeFile(path, JSON.stringify(doc, null, 2));
}

describe('latest with a damaged newest manifest', () => {
  let repo: Awaited<ReturnType<typeof repoWithTwoBackups>>;
  beforeAll(async () => {
    repo = await repoWithTwoBackups();
    await tamperManifest(repo.dir, repo.ids[1]!);
  });

  it('verify latest exits 3 naming the damaged backup instead of OK for an older one', async () => {
    const r = await runCli(['verify', 'latest'], repo.env);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain(repo.ids[1]!);
    expect(r.stderr).toMatch(/--skip-damaged/);
    expect(r.stdout).not.toMatch(/OK/);
  });

  it('restore latest exits 3 before touching the target', async () => {
    const target = await freshDatabase('trust_target');
    const r = await runCli(['restore', 'latest', '--target', target.url.replace(/\/trust_target$/, ''), '--database', 'trust_src'], repo.env);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain(repo.ids[1]!);
  });

  it('restore-test --depth integrity fails (exit 3) with a signed report naming the damaged manifest', async () => {
    const r = await runCli(['restore-test', '--depth', 'integrity', '--json'], repo.env);
    expect(r.exitCode, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout) as { verdict: string; backup: { id: string }; checks: Array<{ name: string; ok: boolean }> };
    expect(report.verdict).toBe('fail');
    expect(report.backup.id).toBe(repo.ids[1]);
    expect(report.checks.find((c) => c.name === 'manifest-signature')?.ok).toBe(false);
  });

  it('--skip-damaged chooses the newest good backup and says so', async () => {
    const r = await runCli(['verify', 'latest', '--skip-damaged'], repo.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(repo.ids[0]!);
    expect(r.stderr).toMatch(new RegExp(`skipped ${repo.ids[1]}`));
  });
});

describe('a backup host writes only into the repository its key signed', () => {
  it('refuses (exit 3) to back up into a repo.json signed by another key, and writes nothing', async () => {
    const repo = await tempRepoUrl();
    const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: sourceUrl, DBOPS_SOURCE_DATABASES: 'trust_src' };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const original = await readFile(join(repo.dir, 'repo.json'));
    // The forger makes a repository of their own and puts its repo.json in place of ours.
    const forged = await tempRepoUrl();
    expect((await runCli(['init'], { ...other.env, DBOPS_STORAGE_URL: forged.url })).exitCode).toBe(0);
    await writeFile(join(repo.dir, 'repo.json'), await readFile(join(forged.dir, 'repo.json')));
    const before = await readdir(repo.dir, { recursive: true });
    const r = await runCli(['backup'], env);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/refusing to write: .*repo\.json is not signed by this host's signing key/);
    expect(await readdir(repo.dir, { recursive: true })).toEqual(before);
    // With the original back, backups work and are usable.
    await writeFile(join(repo.dir, 'repo.json'), original);
    const ok = await runCli(['backup'], env);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect((await runCli(['verify', ok.stdout.trim()], env)).exitCode).toBe(0);
  });
});

describe('recipients change only on purpose', () => {
  it('a valid recipient that is not one of repo.json\'s is refused (exit 2) before the backup starts; add-recipient makes it one', async () => {
    const repo = await tempRepoUrl();
    const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: sourceUrl, DBOPS_SOURCE_DATABASES: 'trust_src' };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const before = await readdir(repo.dir, { recursive: true });
    const wrong = await runCli(['backup'], { ...env, DBOPS_AGE_RECIPIENTS: other.env.DBOPS_AGE_RECIPIENTS });
    expect(wrong.exitCode, wrong.stderr).toBe(2);
    expect(wrong.stderr).toMatch(/age\.recipients differ from the recipients recorded in .*repo\.json.*keys add-recipient/);
    expect(wrong.stderr).not.toMatch(/backup started/);
    expect(await readdir(repo.dir, { recursive: true })).toEqual(before);

    const added = await runCli(['keys', 'add-recipient', other.env.DBOPS_AGE_RECIPIENTS!], env);
    expect(added.exitCode, added.stderr).toBe(0);
    const both = `${keys.env.DBOPS_AGE_RECIPIENTS},${other.env.DBOPS_AGE_RECIPIENTS}`;
    const b = await runCli(['backup', '--json'], { ...env, DBOPS_AGE_RECIPIENTS: both });
    expect(b.exitCode, b.stderr).toBe(0);
    // The other key alone opens the new backup.
    const v = await runCli(['verify', 'latest'], { ...env, DBOPS_AGE_RECIPIENTS: both, DBOPS_AGE_IDENTITY_FILE: other.env.DBOPS_AGE_IDENTITY_FILE });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/decrypted/);
    // Without age.recipients configured, repo.json's list is used.
    expect((await runCli(['backup'], { ...env, DBOPS_AGE_RECIPIENTS: undefined })).exitCode).toBe(0);
    // doctor judges recipients the same way: unset uses repo.json's, a different list fails.
    const recipientsCheck = async (extra: Record<string, string | undefined>): Promise<{ status: string; detail: string }> => {
      const d = await runCli(['doctor', '--json'], { ...env, ...extra });
      return (JSON.parse(d.stdout) as { checks: Array<{ id: string; status: string; detail: string }> }).checks.find((c) => c.id === 'keys.recipients')!;
    };
    expect((await recipientsCheck({ DBOPS_AGE_RECIPIENTS: undefined })).status).toBe('ok');
    expect((await recipientsCheck({ DBOPS_AGE_RECIPIENTS: other.env.DBOPS_AGE_RECIPIENTS })).status).toBe('fail');
    const removed = await runCli(['keys', 'remove-recipient', other.env.DBOPS_AGE_RECIPIENTS!], env);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect((await runCli(['backup'], { ...env, DBOPS_AGE_RECIPIENTS: both })).exitCode).toBe(2);
  });
});
