// Faults during a backup, against the real MariaDB, real tools and the S3 protocol server:
// dbops killed (-9) or stopped (SIGTERM) in each phase, each child killed, the S3 endpoint
// down (briefly: the backup must still succeed; for good: a clear error), answering 500/503
// or slowly, and a full disk under a file repository. Every case checks the outcome, that
// the repository's earlier backup still verifies, that nothing half-done is listed, and that
// no process of the run outlives it. A failure never exits 0.
//
// To hold a run inside a phase the test stops the real mariadb-dump (SIGSTOP): its part's
// zstd and age then wait for input, and the test kills whichever it wants by pid.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { mariadb, freshDatabase } from '../helpers/mariadb.js';
import { runCli, startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { descendants, newMark, signal, survivors, type Proc } from '../helpers/processes.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { startS3FaultProxy, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { withConnection } from '../../src/mysql/client.js';

const DB = 'faults_backup';
let keys: Awaited<ReturnType<typeof makeKeys>>;
/** A file repository holding one good backup; each case works on a copy. */
let base: { dir: string; url: string };
let goodId: string;
let common: Record<string, string>;

beforeAll(async () => {
  keys = await makeKeys();
  const db = await freshDatabase(DB);
  await withConnection(db.conn, async (c) => {
    await c.exec('CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(20))');
    await c.exec("INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    // ~5 MB of hex that compresses to about half: long enough a dump to stop it mid-stream.
    await c.exec('CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(200))');
    await c.exec('INSERT INTO big SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq + 1, 256)) FROM seq_1_to_40000');
  });
  common = { ...keys.env, DBOPS_SOURCE_URL: mariadb().url, DBOPS_SOURCE_DATABASES: DB, DBOPS_BACKUP_ACCOUNTS: 'false', DBOPS_COMPRESSION_LEVEL: '1' };
  base = await tempRepoUrl();
  expect((await runCli(['init'], { ...common, DBOPS_STORAGE_URL: base.url })).exitCode).toBe(0);
  const b = await runCli(['backup'], { ...common, DBOPS_STORAGE_URL: base.url });
  expect(b.exitCode, b.stderr).toBe(0);
  goodId = b.stdout.trim();
});

/** The repository's objects (files): a file repository's empty directories hold nothing. The
 *  evidence log is left out: it records a failed or interrupted backup on purpose. */
const listing = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !join(e.parentPath, e.name).slice(dir.length + 1).startsWith('evidence/'))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
const errorLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => l && !l.startsWith('{'));

/** A copy of the base repository, with the env that points a run at it. */
async function copyOfBase(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = join(await tempDir('dbops-fault-repo-'), 'repo');
  await cp(base.dir, dir, { recursive: true });
  return { dir, env: { ...common, DBOPS_STORAGE_URL: `file://${dir}` } };
}

/** The earlier backup is intact and the only one listed; nothing failed is listed either. */
async function nothingLost(env: Record<string, string>, also: string[] = []): Promise<void> {
  const list = await runCli(['list', '--json'], env);
  expect(list.exitCode, list.stderr).toBe(0);
  const parsed = JSON.parse(list.stdout) as { backups: Array<{ id: string }>; invalid: unknown[] };
  expect(parsed.backups.map((b) => b.id)).toEqual([goodId, ...also]);
  expect(parsed.invalid).toEqual([]);
  for (const id of [goodId, ...also]) {
    const v = await runCli(['verify', id], env);
    expect(v.exitCode, v.stderr).toBe(0);
  }
}

/** Stop the real dump once a part's zstd and age are up: the run then waits, mid-stream. */
async function holdDump(dbops: number, timeoutMs = 30_000): Promise<Proc> {
  const deadline = Date.now() + timeoutMs;
  const partTools = (procs: Proc[]): boolean => procs.some((p) => p.comm === 'zstd') && procs.some((p) => p.comm === 'age');
  for (;;) {
    const procs = await descendants(dbops);
    const dump = procs.find((p) => p.comm === 'mariadb-dump');
    if (dump && partTools(procs)) {
      signal(dump.pid, 'SIGSTOP');
      // Short-lived ones (a part just finishing, `zstd --version`) end now; the part the dump was writing stays open.
      await delay(300);
      const now = await descendants(dbops);
      if (partTools(now) && now.some((p) => p.pid === dump.pid)) return dump;
      signal(dump.pid, 'SIGCONT');
    }
    if (Date.now() > deadline) throw new Error(`the dump of this run could not be held mid-stream within ${timeoutMs} ms`);
    await delay(5);
  }
}

async function expectNoSurvivors(mark: string): Promise<void> {
  expect((await survivors(mark)).map((p) => `${p.comm} (${p.pid})`)).toEqual([]);
}

describe('dbops killed or stopped in each phase of a backup (file repository)', () => {
  for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${sig} while starting: nothing written`, async () => {
      const repo = await copyOfBase();
      const before = await listing(repo.dir);
      const mark = newMark();
      const run = startCli(['backup'], { ...repo.env, FAULT_MARK: mark });
      await delay(300);
      run.kill(sig);
      const r = await run;
      expect(r.exitCode).not.toBe(0);
      await expectNoSurvivors(mark);
      expect(await listing(repo.dir)).toEqual(before);
      await nothingLost(repo.env);
    });

    it(`${sig} while dumping and uploading parts`, async () => {
      const repo = await copyOfBase();
      const before = await listing(repo.dir);
      const mark = newMark();
      const run = startCli(['backup'], { ...repo.env, FAULT_MARK: mark });
      const dump = await holdDump(run.pid!);
      run.kill(sig);
      if (sig === 'SIGKILL') await run;
      signal(dump.pid, 'SIGCONT');
      const r = await run;
      expect(r.exitCode).not.toBe(0);
      await expectNoSurvivors(mark);
      if (sig === 'SIGTERM') {
        // Stopped cleanly: one line, and every part it had written is gone again.
        expect(r.exitCode).toBe(1);
        expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/interrupted by SIGTERM/)]);
        expect(await listing(repo.dir)).toEqual(before);
      }
      // After kill -9 its parts stay until prune removes them as an unfinished backup; none is listed.
      await nothingLost(repo.env);
    });
  }
});

describe('a child of the backup killed (-9)', () => {
  for (const victim of ['mariadb-dump', 'zstd', 'age']) {
    it(`${victim}: exit 1 naming it, nothing kept, nothing left running`, async () => {
      const repo = await copyOfBase();
      const before = await listing(repo.dir);
      const mark = newMark();
      const run = startCli(['backup'], { ...repo.env, FAULT_MARK: mark });
      const dump = await holdDump(run.pid!);
      const target = victim === 'mariadb-dump' ? dump : (await descendants(run.pid!)).find((p) => p.comm === victim)!;
      signal(target.pid, 'SIGKILL');
      signal(dump.pid, 'SIGCONT');
      const r = await run;
      expect(r.exitCode, String(r.stderr)).toBe(1);
      expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(new RegExp(`${victim}.*killed by SIGKILL`))]);
      await expectNoSurvivors(mark);
      expect(await listing(repo.dir)).toEqual(before);
      await nothingLost(repo.env);
    });
  }
});

describe('S3 faults during a backup (a proxy in front of the S3 server)', () => {
  let s3: S3TestServer;
  let proxy: S3FaultProxy;
  let n = 0;

  beforeAll(async () => {
    s3 = await startS3Server();
    proxy = await startS3FaultProxy(s3);
  });
  afterAll(async () => {
    await proxy?.close();
    await s3?.cleanup();
  });

  /** A fresh S3 repository (through the proxy) holding one good backup. */
  async function s3Repo(): Promise<{ env: Record<string, string>; good: string }> {
    const env = { ...common, ...s3TestEnv, DBOPS_STORAGE_URL: proxy.url(`repo${++n}`) };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const b = await runCli(['backup'], env);
    expect(b.exitCode, b.stderr).toBe(0);
    return { env, good: b.stdout.trim() };
  }

  async function listed(env: Record<string, string>): Promise<string[]> {
    const list = await runCli(['list', '--json'], env);
    expect(list.exitCode, list.stderr).toBe(0);
    return (JSON.parse(list.stdout) as { backups: Array<{ id: string }> }).backups.map((b) => b.id);
  }

  it('a 2 s outage mid-upload: the backup rides it out and succeeds', async () => {
    const repo = await s3Repo();
    const mark = newMark();
    const run = startCli(['backup'], { ...repo.env, FAULT_MARK: mark });
    const dump = await holdDump(run.pid!);
    await proxy.down();
    signal(dump.pid, 'SIGCONT');
    await delay(2000);
    await proxy.up();
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toMatch(/storage request failed; retrying/);
    const id = String(r.stdout).trim();
    expect(await listed(repo.env)).toEqual([repo.good, id]);
    expect((await runCli(['verify', id], repo.env)).exitCode).toBe(0);
    await expectNoSurvivors(mark);
  });

  it('an outage that lasts: exit 1 with a clear error after the retries, no backup listed', async () => {
    const repo = await s3Repo();
    const mark = newMark();
    const run = startCli(['backup'], { ...repo.env, FAULT_MARK: mark });
    const dump = await holdDump(run.pid!);
    await proxy.down();
    signal(dump.pid, 'SIGCONT');
    let r;
    try {
      r = await run;
    } finally {
      await proxy.up();
    }
    expect(r.exitCode).toBe(1);
    expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/s3 .* failed: .*ECONNREFUSED.*after \d+ attempts over \d+ s/)]);
    await expectNoSurvivors(mark);
    expect(await listed(repo.env)).toEqual([repo.good]);
    expect((await runCli(['verify', repo.good], repo.env)).exitCode).toBe(0);
  });

  it('500 and 503 answers and slow answers: retried, the backup succeeds', async () => {
    const repo = await s3Repo();
    const failed = proxy.counts.failed;
    proxy.fail({ status: 503, times: 2, match: (r) => r.method === 'PUT' });
    proxy.fail({ status: 500, times: 2, match: (r) => r.method === 'PUT' });
    proxy.delayMs = 150;
    let r;
    try {
      r = await runCli(['backup'], repo.env);
    } finally {
      proxy.delayMs = 0;
    }
    expect(r.exitCode, r.stderr).toBe(0);
    expect(proxy.counts.failed - failed).toBe(4);
    const id = r.stdout.trim();
    expect(await listed(repo.env)).toEqual([repo.good, id]);
    expect((await runCli(['verify', id], repo.env)).exitCode).toBe(0);
  });

  for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${sig} while the manifest is being written: committed whole or not at all`, async () => {
      const repo = await s3Repo();
      const mark = newMark();
      const gate = proxy.hold((req) => req.method === 'PUT' && /\/manifest\.json/.test(req.url ?? ''));
      const run = startCli(['backup'], { ...repo.env, FAULT_MARK: mark });
      try {
        while (gate.held() === 0) await delay(20);
        run.kill(sig);
        if (sig === 'SIGKILL') await run;
      } finally {
        gate.release();
      }
      const r = await run;
      await expectNoSurvivors(mark);
      const ids = await listed(repo.env);
      if (r.exitCode === 0) {
        // The manifest was on its way: SIGTERM lets it land, and then the backup is whole.
        expect(ids).toEqual([repo.good, String(r.stdout).trim()]);
      } else {
        expect(ids.slice(0, 1)).toEqual([repo.good]);
      }
      for (const id of ids) expect((await runCli(['verify', id], repo.env)).exitCode).toBe(0);
    });
  }
});

describe('a full disk under a file repository', () => {
  let mount: string | undefined;
  afterAll(async () => {
    if (mount) await execa('umount', [mount], { reject: false });
    if (mount) await rm(mount, { recursive: true, force: true });
  });

  it.runIf(process.getuid?.() === 0)('ENOSPC: exit 1 saying so, the parts removed, the earlier backup intact', async () => {
    mount = await mkdtemp(join(tmpdir(), 'dbops-full-'));
    const used = (await execa('du', ['-sk', base.dir])).stdout.split('\t')[0];
    // Room for the repository as it is and a little more: the next backup does not fit.
    await execa('mount', ['-t', 'tmpfs', '-o', `size=${Number(used) + 512}k`, 'tmpfs', mount]);
    const dir = join(mount, 'repo');
    await cp(base.dir, dir, { recursive: true });
    const env = { ...common, DBOPS_STORAGE_URL: `file://${dir}` };
    const before = await listing(dir);
    const mark = newMark();
    const r = await runCli(['backup'], { ...env, FAULT_MARK: mark });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/ENOSPC.*free disk space/)]);
    await expectNoSurvivors(mark);
    expect(await listing(dir)).toEqual(before);
    await nothingLost(env);
  });
});
