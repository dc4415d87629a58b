// Progress people can watch: without a TTY (cron, a container's log), a restore writes a JSON
// progress line at least every 10 s with its figures as numbers, and its end line says the
// seconds as a number. A `mariadb` client on PATH that waits before loading (the real one
// after 11 s) makes a small backup restore take longer than one interval: a slow target is
// a fault a small test database cannot produce on demand.
import { describe, it, expect, beforeAll } from 'vitest';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { freshDatabase, mariadb } from '../helpers/mariadb.js';
import { fakeBin, withPath } from '../helpers/fake-tools.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { withConnection } from '../../src/mysql/client.js';

let env: Record<string, string>;

beforeAll(async () => {
  const keys = await makeKeys();
  const repo = await tempRepoUrl();
  const src = await freshDatabase('progress_src');
  await withConnection(src.conn, async (db) => {
    await db.exec('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))');
    await db.exec("INSERT INTO t SELECT seq, CONCAT('row ', seq) FROM seq_1_to_2000");
  });
  await withConnection(mariadb().conn, (db) => db.exec('DROP DATABASE IF EXISTS progress_dst'));
  env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url, DBOPS_RESTORE_TARGET_URL: mariadb().url, DBOPS_BACKUP_ACCOUNTS: 'false' };
  const r = await runCli(['init'], env);
  expect(r.exitCode, r.stderr).toBe(0);
  const b = await runCli(['backup', '--databases', 'progress_src'], env);
  expect(b.exitCode, b.stderr).toBe(0);
});

describe('progress without a TTY', () => {
  it('a slow restore logs JSON progress lines with numbers (ISO time, level name) and ends with numeric seconds', async () => {
    const real = findTool('mariadb')!;
    const slow = await fakeBin('mariadb', `#!/bin/sh\nsleep 11\nexec "${real}" "$@"\n`);
    const r = await runCli(['restore', 'latest', '--database', 'progress_src', '--into-schema', 'progress_dst'], { ...env, PATH: withPath(slow) });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const progress = lines.filter((l) => l.msg === 'progress');
    expect(progress.length, r.stderr).toBeGreaterThanOrEqual(1);
    const p = progress[0]!;
    expect(p).toMatchObject({ level: 'info', operation: 'restore' });
    expect(p.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    for (const k of ['doneBytes', 'totalBytes', 'percent', 'bytesPerSecond', 'elapsedSeconds']) expect(typeof p[k], `${k} in ${JSON.stringify(p)}`).toBe('number');
    // Nothing loaded yet (the client still waits): no rate, so no ETA rather than a made-up one.
    expect(p.etaSeconds === null || typeof p.etaSeconds === 'number').toBe(true);
    expect(p.totalBytes).toBeGreaterThan(0);
    const finished = lines.find((l) => l.msg === 'restore finished')!;
    expect(typeof finished.seconds).toBe('number');
    await withConnection(mariadb().conn, async (db) => expect(Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM progress_dst.t'))[0]!.n)).toBe(2000));
  });
});
