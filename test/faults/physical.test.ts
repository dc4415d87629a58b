// Faults during physical backups and during prunes of their chains, against a real MariaDB
// (a local server whose datadir the test can read), the real mariadb-backup, and the S3
// protocol server: dbops killed (-9) or stopped (SIGTERM) mid-stream, for a full and for an
// incremental; each child killed; the S3 endpoint down for good; prune killed, stopped or cut
// off from S3 while it deletes a chain. Every case checks that no physical backup is listed
// that is not whole (its objects verify, its chain is there), that nothing outlives the run,
// and that the next run builds on the last whole backup.
//
// To hold a backup mid-stream the test stops the real mariadb-backup (SIGSTOP) once its
// part's zstd and age are up.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { withConnection } from '../../src/mysql/client.js';
import { runCli, startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { descendants, markedProcesses, newMark, signal, survivors, type Proc } from '../helpers/processes.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { startS3FaultProxy, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { startHoldProxy, type HoldProxy, type SeenRequest } from '../helpers/s3-hold-proxy.js';
import { fakeBin, withPath } from '../helpers/fake-tools.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { RESTORE_MARKER } from '../../src/restore/physical-restore.js';

interface Listed {
  id: string;
  kind: string;
  parent?: string | null;
  chain?: string[];
  chainProblem?: string;
}

let source: SandboxServer;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let common: Record<string, string>;
/** A file repository holding a physical full and an incremental on it; each case works on a copy. */
let base: { dir: string; url: string };
let good: { full: string; incr: string };

beforeAll(async () => {
  [source, keys] = await Promise.all([startSandboxServer({ binlog: true }), makeKeys()]);
  await withConnection(source.conn, async (db) => {
    await db.exec('CREATE DATABASE fp');
    await db.exec('CREATE TABLE fp.t (id INT PRIMARY KEY, v VARCHAR(200))');
    await db.exec('INSERT INTO fp.t SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq + 1, 256)) FROM fp.seq_1_to_20000');
  });
  common = { ...keys.env, DBOPS_SOURCE_URL: source.url, DBOPS_BACKUP_KIND: 'physical', DBOPS_COMPRESSION_LEVEL: '1' };
  base = await tempRepoUrl();
  const env = { ...common, DBOPS_STORAGE_URL: base.url };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const full = await runCli(['backup'], env);
  expect(full.exitCode, full.stderr).toBe(0);
  await withConnection(source.conn, (db) => db.exec("UPDATE fp.t SET v = 'changed' WHERE id <= 100"));
  const incr = await runCli(['backup', '--incremental'], env);
  expect(incr.exitCode, incr.stderr).toBe(0);
  good = { full: full.stdout.trim(), incr: incr.stdout.trim() };
}, 180_000);

afterAll(async () => {
  await source?.stop();
});

/** The repository's objects, the evidence log left out (it records failures on purpose). */
const listing = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((k) => !k.startsWith('evidence/'))
    .sort();
const errorLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => l && !l.startsWith('{'));

async function copyOfBase(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = join(await tempDir('dbops-fault-phys-'), 'repo');
  await cp(base.dir, dir, { recursive: true });
  return { dir, env: { ...common, DBOPS_STORAGE_URL: `file://${dir}` } };
}

async function listed(env: Record<string, string>): Promise<Listed[]> {
  const r = await runCli(['list', '--json'], env);
  expect(r.exitCode, r.stderr).toBe(0);
  const parsed = JSON.parse(r.stdout) as { backups: Listed[]; invalid: unknown[] };
  expect(parsed.invalid).toEqual([]);
  return parsed.backups;
}

/** Exactly `ids` are listed, each whole: its chain is in the repository and it verifies to the stream. */
async function onlyWhole(env: Record<string, string>, ids: string[]): Promise<void> {
  const list = await listed(env);
  expect(list.map((b) => b.id)).toEqual(ids);
  for (const b of list) {
    expect(b.chainProblem, `${b.id}'s chain`).toBeUndefined();
    const v = await runCli(['verify', b.id], env);
    expect(v.exitCode, `${b.id}: ${v.stderr}`).toBe(0);
  }
}

async function expectNoSurvivors(mark: string): Promise<void> {
  expect((await survivors(mark)).map((p) => `${p.comm} (${p.pid})`)).toEqual([]);
}

/** Stop the real mariadb-backup (not its --version) once its part's zstd and age are up. */
async function holdCopy(dbops: number, timeoutMs = 30_000): Promise<Proc> {
  const deadline = Date.now() + timeoutMs;
  const copying = async (p: Proc): Promise<boolean> => p.comm === 'mariadb-backup' && (await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '')).includes('--backup\0');
  for (;;) {
    const procs = await descendants(dbops);
    const tool = (await Promise.all(procs.map(async (p) => ((await copying(p)) ? p : undefined)))).find(Boolean);
    if (tool && procs.some((p) => p.comm === 'zstd') && procs.some((p) => p.comm === 'age')) {
      signal(tool.pid, 'SIGSTOP');
      // Short-lived ones (`zstd --version`) end now; the part's own stay open.
      await delay(300);
      return tool;
    }
    if (Date.now() > deadline) throw new Error(`the physical copy of this run could not be held within ${timeoutMs} ms`);
    await delay(5);
  }
}

describe('dbops killed or stopped while mariadb-backup streams (file repository)', () => {
  for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
    for (const incremental of [false, true]) {
      it(`${sig} during ${incremental ? 'an incremental' : 'a full'}: nothing listed that is not whole; the next incremental applies on the last whole one`, async () => {
        const repo = await copyOfBase();
        const before = await listing(repo.dir);
        const mark = newMark();
        const run = startCli(['backup', ...(incremental ? ['--incremental'] : [])], { ...repo.env, FAULT_MARK: mark });
        const tool = await holdCopy(run.pid!);
        run.kill(sig);
        if (sig === 'SIGKILL') await run;
        signal(tool.pid, 'SIGCONT');
        const r = await run;
        expect(r.exitCode).not.toBe(0);
        await expectNoSurvivors(mark);
        if (sig === 'SIGTERM') {
          expect(r.exitCode).toBe(1);
          expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/interrupted by SIGTERM/)]);
          expect(await listing(repo.dir)).toEqual(before);
        }
        await onlyWhole(repo.env, [good.full, good.incr]);
        const next = await runCli(['backup', '--incremental', '--json'], repo.env);
        expect(next.exitCode, next.stderr).toBe(0);
        const made = JSON.parse(next.stdout) as { id: string; physical: { parent: string; base: string } };
        expect(made.physical).toMatchObject({ parent: good.incr, base: good.full });
        await onlyWhole(repo.env, [good.full, good.incr, made.id]);
      }, 120_000);
    }
  }
});

describe('a child of a physical backup killed (-9)', () => {
  for (const victim of ['mariadb-backup', 'zstd', 'age']) {
    it(`${victim}: exit 1 naming it, nothing kept, nothing left running`, async () => {
      const repo = await copyOfBase();
      const before = await listing(repo.dir);
      const mark = newMark();
      const run = startCli(['backup'], { ...repo.env, FAULT_MARK: mark });
      const tool = await holdCopy(run.pid!);
      const target = victim === 'mariadb-backup' ? tool : (await descendants(run.pid!)).find((p) => p.comm === victim)!;
      signal(target.pid, 'SIGKILL');
      signal(tool.pid, 'SIGCONT');
      const r = await run;
      expect(r.exitCode, String(r.stderr)).toBe(1);
      expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(new RegExp(`${victim}.*killed by SIGKILL`))]);
      await expectNoSurvivors(mark);
      expect(await listing(repo.dir)).toEqual(before);
      await onlyWhole(repo.env, [good.full, good.incr]);
    }, 120_000);
  }
});

describe('the S3 endpoint down for good while mariadb-backup streams', () => {
  let s3: S3TestServer;
  let proxy: S3FaultProxy;

  beforeAll(async () => {
    s3 = await startS3Server();
    proxy = await startS3FaultProxy(s3);
  });
  afterAll(async () => {
    await proxy?.close();
    await s3?.cleanup();
  });

  it('exit 1 with a clear error after the retries; only the whole full is listed, and an incremental applies on it afterwards', async () => {
    const env = { ...common, ...s3TestEnv, DBOPS_STORAGE_URL: proxy.url('down') };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const full = await runCli(['backup'], env);
    expect(full.exitCode, full.stderr).toBe(0);
    const fullId = full.stdout.trim();
    const mark = newMark();
    const run = startCli(['backup', '--incremental'], { ...env, FAULT_MARK: mark });
    const tool = await holdCopy(run.pid!);
    await proxy.down();
    signal(tool.pid, 'SIGCONT');
    let r;
    try {
      r = await run;
    } finally {
      await proxy.up();
    }
    expect(r.exitCode).toBe(1);
    expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/s3 .* failed: .*ECONNREFUSED.*after \d+ attempts over \d+ s/)]);
    await expectNoSurvivors(mark);
    await onlyWhole(env, [fullId]);
    const next = await runCli(['backup', '--incremental', '--json'], env);
    expect(next.exitCode, next.stderr).toBe(0);
    expect((JSON.parse(next.stdout) as { physical: { parent: string } }).physical.parent).toBe(fullId);
  }, 240_000);
});

describe('prune --apply of a whole chain interrupted (S3, a proxy holding the request the test waits for)', () => {
  let s3: S3TestServer;
  let proxy: HoldProxy;
  let seed: { old: string[]; newest: string };
  let cases = 0;

  // The seed: full ← incr ← incr, then a newer full. With one daily backup kept and a one-second
  // window, the plan deletes the whole old chain: each incremental before what it applies on, so a stop never orphans one.
  beforeAll(async () => {
    s3 = await startS3Server();
    proxy = await startHoldProxy(s3);
    const env = { ...common, ...s3TestEnv, DBOPS_STORAGE_URL: s3.url('seed') };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const old: string[] = [];
    for (const args of [[], ['--incremental'], ['--incremental']]) {
      await withConnection(source.conn, (db) => db.exec(`UPDATE fp.t SET v = '${old.length}' WHERE id <= 50`));
      const b = await runCli(['backup', ...args], env);
      expect(b.exitCode, b.stderr).toBe(0);
      old.push(b.stdout.trim());
    }
    const newest = await runCli(['backup'], env);
    expect(newest.exitCode, newest.stderr).toBe(0);
    seed = { old, newest: newest.stdout.trim() };
  }, 240_000);
  afterAll(async () => {
    await proxy?.close();
    await s3?.cleanup();
  });

  async function fresh(): Promise<Record<string, string>> {
    const prefix = `case${++cases}`;
    const env = { ...common, ...s3TestEnv, DBOPS_STORAGE_URL: s3.url(prefix) };
    const { openStorage } = await import('../../src/storage/open-storage.js');
    const from = await openStorage(s3.url('seed'));
    const to = await openStorage(s3.url(prefix));
    for await (const o of from.list('')) await to.put(o.key, await from.getBuffer(o.key));
    await delay(1100);
    return {
      ...env,
      DBOPS_STORAGE_URL: proxy.url(prefix),
      DBOPS_RETENTION_DAILY: '1',
      DBOPS_RETENTION_WEEKLY: '0',
      DBOPS_RETENTION_MONTHLY: '0',
      DBOPS_RETENTION_PITR_WINDOW: '1s',
      DBOPS_RETENTION_GRACE_FOR_INCOMPLETE: '1s',
    };
  }

  const isPart = (r: SeenRequest): boolean => r.method === 'DELETE' && /\/backups\/[^/]+\/parts\//.test(r.key ?? '');

  it('the plan deletes the old chain and keeps the newer full', async () => {
    const env = await fresh();
    const r = await runCli(['prune', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = (JSON.parse(r.stdout) as { plan: { backups: Array<{ id: string; action: string }> } }).plan;
    expect(plan.backups.map((b) => [b.id, b.action])).toEqual([...seed.old.map((id) => [id, 'delete']), [seed.newest, 'keep']]);
  });

  for (const fault of ['SIGKILL', 'SIGTERM', 'S3 down'] as const) {
    it(`${fault} while the first backup of the chain is being removed: what is listed is whole; the next prune finishes`, async () => {
      const env = await fresh();
      const held = proxy.hold(isPart);
      const prune = startCli(['prune', '--apply'], env);
      const request = await Promise.race([held, prune.then(() => Promise.reject(new Error('prune ended before deleting a part')))]);
      // Dependents first: the first backup to go is the chain's last incremental.
      expect(request.key).toContain(`/backups/${seed.old[2]}/`);
      if (fault === 'S3 down') {
        await s3.stop();
        request.release();
      } else {
        prune.kill(fault);
        await delay(300);
        request.release();
      }
      const r = await prune;
      if (fault === 'S3 down') await s3.restart();
      expect(r.exitCode === 0 && r.signal === undefined).toBe(false);
      // Whatever went, what is still listed restores: the chain is cut from its end only.
      const left = (await listed(env)).map((b) => b.id);
      expect([seed.old.slice(0, 2), seed.old].map((c) => [...c, seed.newest])).toContainEqual(left);
      await onlyWhole(env, left);
      const again = await runCli(['prune', '--apply'], env);
      expect(again.exitCode, again.stderr).toBe(0);
      await onlyWhole(env, [seed.newest]);
    }, 240_000);
  }
});

describe('a physical restore meets damage, a wrong key, or a killed extractor', () => {
  const restoreInto = async (env: Record<string, string>, id: string): Promise<{ dir: string; run: ReturnType<typeof startCli> }> => {
    const dir = join(await tempDir('dbops-phys-restore-'), 'datadir');
    return { dir, run: startCli(['restore', id, '--datadir', dir], env) };
  };
  const leftIn = async (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

  it('an altered byte in the full of the chain: exit 3 naming the object, the datadir left empty', async () => {
    const repo = await copyOfBase();
    const key = join(repo.dir, 'backups', good.full, 'parts', '00001.xbstream.zst.age');
    const bytes = await readFile(key);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(key, bytes);
    const { dir, run } = await restoreInto(repo.env, good.incr);
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/stored sha256 .* the object was altered/)]);
    expect(await leftIn(dir)).toEqual([]);
  }, 120_000);

  it('a stored file written to after its hash matched, while age reads it: exit 3 naming the object, the datadir left empty', async () => {
    // A file:// object is fed to age from the very open file whose bytes were hashed, without
    // hashing it again; this age, started once the hash matched, first writes one byte into
    // that file, as someone with write access to the repository could in between.
    const realAge = findTool('age');
    if (!realAge) throw new Error('age not installed');
    const bin = await fakeBin(
      'age',
      `#!/bin/sh\nif [ "$1" = "--decrypt" ]; then\n  printf 'X' | dd of="$ALTER_FILE" bs=1 seek=$(( $(stat -c %s "$ALTER_FILE") / 2 )) conv=notrunc 2>/dev/null\nfi\nexec "${realAge}" "$@"\n`,
    );
    const repo = await copyOfBase();
    const object = join(repo.dir, 'backups', good.full, 'parts', '00001.xbstream.zst.age');
    const { dir, run } = await restoreInto({ ...repo.env, PATH: withPath(bin), ALTER_FILE: object }, good.full);
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/00001\.xbstream\.zst\.age.*written to while it was read.*the object was altered/)]);
    expect(await leftIn(dir)).toEqual([]);
  }, 120_000);

  it('a wrong age identity: exit 2 saying so, the datadir left empty', async () => {
    const other = await makeKeys();
    const { dir, run } = await restoreInto({ ...common, DBOPS_STORAGE_URL: base.url, DBOPS_AGE_IDENTITY_FILE: other.env.DBOPS_AGE_IDENTITY_FILE! }, good.full);
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(2);
    expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/cannot open this backup/)]);
    expect(await leftIn(dir)).toEqual([]);
  }, 120_000);

  it('kill -9 of mbstream: exit 1 naming it (not damage), nothing left running, the datadir left empty', async () => {
    const mark = newMark();
    const { dir, run } = await restoreInto({ ...common, DBOPS_STORAGE_URL: base.url, FAULT_MARK: mark }, good.full);
    let extractor: Proc | undefined;
    const deadline = Date.now() + 60_000;
    while (!extractor && Date.now() < deadline) {
      extractor = (await descendants(run.pid!)).find((p) => p.comm === 'mbstream');
      if (!extractor) await delay(5);
    }
    expect(extractor, 'mbstream was never seen').toBeDefined();
    signal(extractor!.pid, 'SIGKILL');
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(errorLines(String(r.stderr))).toEqual([expect.stringMatching(/mbstream.*killed by SIGKILL/)]);
    await expectNoSurvivors(mark);
    expect(await leftIn(dir)).toEqual([]);
    // The backup itself is fine: the next restore succeeds.
    const again = await runCli(['restore', good.full, '--datadir', dir], { ...common, DBOPS_STORAGE_URL: base.url });
    expect(again.exitCode, again.stderr).toBe(0);
  }, 180_000);

  it('kill -9 of dbops while it extracts: nothing left running, the next restore refuses the half-made datadir until it is emptied', async () => {
    // Held mid-extract: mbstream stopped once age (started after the stored hash matched) and
    // zstd are up, so the whole chain is waiting on it when dbops dies.
    const mark = newMark();
    const env = { ...common, DBOPS_STORAGE_URL: base.url };
    const { dir, run } = await restoreInto({ ...env, FAULT_MARK: mark }, good.full);
    let extractor: Proc | undefined;
    const deadline = Date.now() + 60_000;
    while (!extractor && Date.now() < deadline) {
      const procs = await descendants(run.pid!);
      if (['age', 'zstd'].every((c) => procs.some((p) => p.comm === c))) extractor = procs.find((p) => p.comm === 'mbstream');
      if (!extractor) await delay(5);
    }
    expect(extractor, 'mbstream, age and zstd were never seen together').toBeDefined();
    signal(extractor!.pid, 'SIGSTOP');
    run.kill('SIGKILL');
    await run.catch(() => undefined);
    // age dies with dbops, while mbstream is still stopped: it reads the stored file itself, so
    // only its parent-death signal stops it; an orphaned age would run on to the end of the
    // stream, into a directory the next run may be handed.
    let ageLeft = true;
    for (const until = Date.now() + 10_000; ageLeft && Date.now() < until; await delay(20)) ageLeft = (await markedProcesses(mark)).some((p) => p.comm === 'age');
    signal(extractor!.pid, 'SIGCONT');
    expect(ageLeft, 'age outlived dbops').toBe(false);
    // Everything after it sees its input end.
    await expectNoSurvivors(mark);
    expect(await leftIn(dir)).toContain(RESTORE_MARKER);
    const refused = await runCli(['restore', good.full, '--datadir', dir], env);
    expect(refused.exitCode, refused.stderr).toBe(2);
    expect(errorLines(refused.stderr)).toEqual([expect.stringMatching(/holds an unfinished restore.*killed: remove the directory's contents/)]);
    expect(await leftIn(dir)).toContain(RESTORE_MARKER);
    for (const entry of await leftIn(dir)) await rm(join(dir, entry), { recursive: true, force: true });
    const again = await runCli(['restore', good.full, '--datadir', dir], env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await leftIn(dir)).not.toContain(RESTORE_MARKER);
  }, 180_000);
});
