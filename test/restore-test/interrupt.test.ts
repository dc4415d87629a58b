// SIGTERM at any phase of a restore test leaves nothing behind (no server process, no temp
// datadir, no credentials file, no listening port) and ends with a signed verdict
// `interrupted` (exit 130) in the evidence log, which health does not count as a failure.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { mariadb } from '../helpers/mariadb.js';
import { loadSakila } from '../helpers/fixtures.js';
import { runCli, startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository, type Repository } from '../../src/repo/repository.js';
import { collectStatus, evaluateHealth } from '../../src/daemon/health.js';

let env: Record<string, string>;
let repo: Repository;

/** Every descendant of `pid` with its command line (other tests may run servers too: only ours count). */
async function descendants(pid: number): Promise<Array<{ pid: number; args: string }>> {
  const ps = await execa('ps', ['-eo', 'pid=,ppid=,args='], { reject: false });
  const rows = String(ps.stdout)
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  const out: Array<{ pid: number; args: string }> = [];
  const walk = (p: number): void => {
    for (const r of rows.filter((x) => x.ppid === p)) {
      out.push({ pid: r.pid, args: r.args });
      walk(r.pid);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  await loadSakila(mariadb().url, 'sakila_int');
  const keys = await makeKeys();
  const r = await tempRepoUrl();
  env = { ...keys.env, DBOPS_STORAGE_URL: r.url, DBOPS_SOURCE_URL: mariadb().url, DBOPS_SOURCE_DATABASES: 'sakila_int' };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  expect((await runCli(['backup'], env)).exitCode).toBe(0);
  expect((await runCli(['checksum'], env)).exitCode).toBe(0);
  repo = await openRepository(await openStorage(r.url));
});

describe('SIGTERM during a restore test', () => {
  it.each(['integrity', 'sandbox', 'restore', 'verify'])('in phase %s leaves nothing behind', async (phase) => {
    const child = startCli(['restore-test', '--json'], { ...env, DBOPS_LOG_LEVEL: 'info' });
    let seen = false;
    let ours: Array<{ pid: number; args: string }> = [];
    child.stderr!.on('data', (chunk: Buffer) => {
      if (!seen && chunk.toString().includes(`"phase":"${phase}"`)) {
        seen = true;
        // A moment inside the phase, so its work is really under way; note our processes, then stop.
        setTimeout(async () => {
          ours = await descendants(child.pid!);
          child.kill('SIGTERM');
        }, phase === 'sandbox' ? 400 : 150);
      }
    });
    const r = await child;
    expect(seen, `phase ${phase} was reached`).toBe(true);
    expect(r.signal ?? null).toBeNull();
    expect(r.exitCode, String(r.stderr).slice(-1500)).toBe(130);
    // A signed report says so, with no failed check, and the evidence log records it.
    const report = JSON.parse(String(r.stdout)) as { id: string; verdict: string; error: string; checks: Array<{ ok: boolean }>; rpo: { basis: string } | null };
    expect(report.verdict).toBe('interrupted');
    expect(report.error).toMatch(new RegExp(`interrupted by SIGTERM during the ${phase} phase`));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.rpo?.basis).toBe('backup-start'); // no binlogs shipped here
    expect((await repo.reports.get(report.id)).verdict).toBe('interrupted');
    const chain = await repo.evidence.verify();
    expect(chain.problems).toEqual([]);
    expect(chain.entries.find((e) => e.subject === report.id)?.outcome).toBe('interrupted');
    // Health: not a failed restore test.
    const facts = await collectStatus(repo, { pitrWindowMs: 7 * 86_400_000, maxUntestedDays: 7 });
    const reasons = evaluateHealth(facts, { backupStaleAfterMs: 86_400_000, restoreTestStaleAfterMs: 86_400_000, shippingLagLimitSeconds: 60, pitrWindowMs: 7 * 86_400_000, maxUntestedDays: 7, expectShipping: false });
    expect(reasons.filter((x) => x.key.startsWith('restore-test-failed'))).toEqual([]);
    expect(facts.tests.openFailure).toBeNull();
    await new Promise((res) => setTimeout(res, 300));
    // tsx's own esbuild helper (a dev-time loader, not part of dbops) exits on its own.
    expect(ours.filter((p) => alive(p.pid) && !p.args.includes('esbuild')).map((p) => p.args)).toEqual([]);
    // Temp dirs our processes used: sandbox datadirs and credentials files.
    const dirs = new Set(ours.flatMap((p) => [...p.args.matchAll(/\/tmp\/(dbops-(?:sbx|cred)-[A-Za-z0-9]+)/g)].map((m) => m[1]!)));
    const remaining = new Set(await readdir(tmpdir()));
    expect([...dirs].filter((d) => remaining.has(d))).toEqual([]);
  });
});

describe('report html after interrupted runs', () => {
  it('marks them, numbers their evidence entries, says the chain verifies; a deleted report breaks the banner', async () => {
    const out = await mkdtemp(join(tmpdir(), 'dbops-report-html-'));
    try {
      const r = await runCli(['report', 'html', '--out', out, '--json'], env);
      expect(r.exitCode, r.stderr).toBe(0);
      const index = await readFile(join(out, 'index.html'), 'utf8');
      expect(index).toContain('Evidence chain verifies');
      expect(index).toMatch(/0 passed, 0 failed, 4 interrupted, 0 could not run \(4 reports\)/);
      expect((index.match(/class="run interrupted"/g) ?? []).length).toBeGreaterThanOrEqual(4);
      const reports = (await repo.reports.list()).map((l) => l.report!);
      const entries = (await repo.evidence.verify()).entries;
      for (const rep of reports) {
        const page = await readFile(join(out, `${rep.id}.html`), 'utf8');
        expect(page).toContain(`#${entries.find((e) => e.subject === rep.id)!.sequence}</b>`);
        expect(page).toContain('id="verdict">INTERRUPTED<');
      }
      // The page stored beside the JSON names its entry too.
      const stored = await repo.storage.getBuffer(`reports/${reports[0]!.id.slice(0, 4)}/${reports[0]!.id}.html`);
      expect(stored.toString()).toContain(`#${entries.find((e) => e.subject === reports[0]!.id)!.sequence}</b>`);

      await repo.storage.remove(`reports/${reports[1]!.id.slice(0, 4)}/${reports[1]!.id}.json`);
      const again = await runCli(['report', 'html', '--out', out], env);
      expect(again.exitCode, again.stderr).toBe(3);
      const broken = await readFile(join(out, 'index.html'), 'utf8');
      expect(broken).toContain('Evidence chain does NOT verify');
      expect(broken).toMatch(new RegExp(`NOT VERIFIED: reports/\\d{4}/${reports[1]!.id}\\.json, recorded by evidence entry \\d+ \\(restore-test`));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
