// Health from the evidence chain (issue 15.3): a failed restore test stays a failure until a
// pass at the same or a deeper depth follows (an integrity PASS after a content FAIL does not
// clear it), a report removed from the repository makes the installation unhealthy, and
// coverage names every backup not proven at content depth within verify.maxUntestedDays.
import { describe, it, expect, beforeAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/mariadb.js';
import { withConnection } from '../../src/mysql/client.js';
import { testHealth, nextUntested, type TestRun } from '../../src/daemon/test-health.js';

interface Status {
  reasons: string[];
  tests: { openFailure: { reportId: string; depth: string } | null };
  evidence: { problems: string[] };
}

describe('dbops status judges restore tests by the evidence chain', () => {
  let env: Record<string, string>;
  let dir: string;
  beforeAll(async () => {
    const keys = await makeKeys();
    const db = await freshDatabase('health_src');
    await withConnection(db.conn, async (c) => {
      await c.exec('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
      await c.exec("INSERT INTO t VALUES (1, 'a')");
    });
    const repo = await tempRepoUrl();
    dir = repo.dir;
    env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: db.url.replace(/\/health_src$/, ''), DBOPS_SOURCE_DATABASES: 'health_src', DBOPS_DAEMON_SHIP_BINLOGS: 'false' };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    expect((await runCli(['backup'], env)).exitCode).toBe(0);
  }, 120_000);

  async function status(): Promise<Status> {
    const r = await runCli(['status', '--json'], env);
    return JSON.parse(r.stdout) as Status;
  }

  it('an integrity PASS after a content FAIL is still unhealthy; a content PASS clears it', async () => {
    // No checksums yet: the content check cannot compare, a failed check.
    const fail = await runCli(['restore-test', '--depth', 'content', '--json'], env);
    expect(fail.exitCode, fail.stderr).toBe(3);
    const failId = (JSON.parse(fail.stdout) as { id: string }).id;
    expect((await runCli(['restore-test', '--depth', 'integrity'], env)).exitCode).toBe(0);
    const s = await status();
    expect(s.tests.openFailure).toMatchObject({ reportId: failId, depth: 'content' });
    expect(s.reasons.join('\n')).toMatch(new RegExp(`restore test ${failId} .*failed at depth content`));

    expect((await runCli(['checksum'], env)).exitCode).toBe(0);
    const pass = await runCli(['restore-test', '--depth', 'content'], env);
    expect(pass.exitCode, pass.stderr).toBe(0);
    const after = await status();
    expect(after.tests.openFailure).toBeNull();
    expect(after.reasons.join('\n')).not.toMatch(/failed at depth/);
  }, 240_000);

  it('a deleted report makes status unhealthy, naming it', async () => {
    const list = await runCli(['report', 'list', '--json'], env);
    const first = (JSON.parse(list.stdout) as { reports: Array<{ id: string }> }).reports[0]!;
    await rm(join(dir, 'reports', first.id.slice(0, 4), `${first.id}.json`));
    const r = await runCli(['status', '--json'], env);
    expect(r.exitCode).toBe(1);
    const s = JSON.parse(r.stdout) as Status;
    expect(s.evidence.problems.join('\n')).toContain(`${first.id}.json`);
    expect(s.reasons.join('\n')).toMatch(/the evidence log does not verify/);
  });
});

describe('coverage and the next backup to test', () => {
  const day = 86_400_000;
  const now = new Date('2026-12-06T12:00:00Z');
  const at = (daysAgo: number): string => new Date(now.getTime() - daysAgo * day).toISOString();
  const backups = [
    { id: 'b-old', completedAt: at(20) },
    { id: 'b-mid', completedAt: at(5) },
    { id: 'b-new', completedAt: at(1) },
  ];
  const run = (sequence: number, backupId: string, depth: TestRun['depth'], outcome: TestRun['outcome']): TestRun => ({ sequence, reportId: `r${sequence}`, at: at(0), depth, backupId, outcome });

  it('lists backups past the limit without a content pass, and tests the oldest still due next', () => {
    const h = testHealth([run(1, 'b-old', 'restore', 'pass'), run(2, 'b-new', 'content', 'pass')], backups, now, 7);
    expect(h.coverage.untested).toEqual(['b-old']);
    expect(nextUntested(h, now)).toBe('b-mid');
    const all = testHealth([run(1, 'b-old', 'content', 'pass'), run(2, 'b-mid', 'content', 'pass'), run(3, 'b-new', 'content', 'pass')], backups, now, 7);
    expect(all.coverage.untested).toEqual([]);
    expect(nextUntested(all, now)).toBe('b-new');
  });

  it('a content pass of a physical incremental covers its whole chain; an untested chain is tested from its tip', () => {
    const chain = [
      { id: 'c-full', completedAt: at(12), physical: { parent: null } },
      { id: 'c-incr1', completedAt: at(11), physical: { parent: 'c-full' } },
      { id: 'c-incr2', completedAt: at(10), physical: { parent: 'c-incr1' } },
      { id: 'c-next', completedAt: at(1), physical: { parent: null } },
    ];
    // Restoring c-incr2 extracted and applied the full and both incrementals.
    const tip = testHealth([run(1, 'c-incr2', 'content', 'pass')], chain, now, 7);
    expect(tip.coverage.untested).toEqual([]);
    expect(tip.coverage.backups.find((b) => b.backupId === 'c-full')?.newestContentPass?.reportId).toBe('r1');
    // c-incr1's restore stops before c-incr2: it covers c-incr1 and the full only.
    expect(testHealth([run(1, 'c-incr1', 'content', 'pass')], chain, now, 7).coverage.untested).toEqual(['c-incr2']);
    // Nothing tested: the oldest open backup is the full, and a test of its chain's tip covers all three.
    expect(nextUntested(testHealth([], chain, now, 30), now)).toBe('c-incr2');
    expect(nextUntested(testHealth([run(1, 'c-incr2', 'content', 'pass')], chain, now, 30), now)).toBe('c-next');
  });

  it('only fail is a failure; a pass at the same or a deeper depth clears it, a shallower one does not', () => {
    expect(testHealth([run(1, 'b-new', 'content', 'error'), run(2, 'b-new', 'content', 'interrupted')], backups, now, 7).openFailure).toBeNull();
    expect(testHealth([run(1, 'b-new', 'restore', 'fail'), run(2, 'b-new', 'content', 'pass')], backups, now, 7).openFailure).toBeNull();
    expect(testHealth([run(1, 'b-new', 'restore', 'fail'), run(2, 'b-new', 'integrity', 'pass')], backups, now, 7).openFailure?.reportId).toBe('r1');
  });
});
