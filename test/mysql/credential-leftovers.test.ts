// Credentials handed to the tools must not outlive dbops: after `kill -9` of `backup` or
// `binlog ship` while their tools run, no file anywhere under the temp dir (or /dev/shm)
// holds the password.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { mariadb } from '../helpers/mariadb.js';
import { loadSakila } from '../helpers/fixtures.js';
import { startCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { dumpPausedAfter, withPath } from '../helpers/fake-tools.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { withConnection } from '../../src/mysql/client.js';
import { waitFor } from '../helpers/binlog-ship.js';

const USER = 'dbops_leftover';
const PASSWORD = 'Lf7-leftover-Pa55';

/** Every file below `dir` whose content contains `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const out: string[] = [];
  let names: string[];
  try {
    names = (await readdir(dir, { recursive: true })) as string[];
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const s = await stat(path);
      if (!s.isFile() || s.size > 1_000_000) continue;
      if ((await readFile(path, 'latin1')).includes(needle)) out.push(path);
    } catch {
      // gone meanwhile, or not readable
    }
  }
  return out;
}

/** Pids of a process's descendants (from /proc), so the test can end the orphans it caused. */
async function descendants(pid: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const st = await readFile(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, pp] of parent) if (pp === p) (out.push(child), walk(child));
  };
  walk(pid);
  return out;
}

async function commandLineOf(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
}

beforeAll(async () => {
  await loadSakila(mariadb().url, 'sakila_leftover');
  await withConnection(mariadb().conn, async (db) => {
    await db.exec('SET SESSION sql_log_bin = 0');
    await db.exec('DROP USER IF EXISTS ?@?', [USER, '127.0.0.1']);
    await db.exec('CREATE USER ?@? IDENTIFIED BY ?', [USER, '127.0.0.1', PASSWORD], { sensitive: true });
    await db.exec('GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO ?@?', [USER, '127.0.0.1']);
  });
});

afterAll(async () => {
  await withConnection(mariadb().conn, async (db) => {
    await db.exec('SET SESSION sql_log_bin = 0');
    await db.exec('DROP USER IF EXISTS ?@?', [USER, '127.0.0.1']);
  });
});

describe('credentials after kill -9', () => {
  const sourceUrl = (): string => `mysql://${USER}:${PASSWORD}@127.0.0.1:${mariadb().port}`;

  async function killWhile(args: string[], env: Record<string, string>, running: (cmdlines: string[]) => boolean): Promise<void> {
    const proc = startCli(args, env);
    const pid = proc.pid!;
    try {
      await waitFor(`${args[0]} to start its tool`, async () => running(await Promise.all((await descendants(pid)).map(commandLineOf))), 60_000);
      const children = await descendants(pid);
      process.kill(pid, 'SIGKILL');
      for (const c of children) {
        try {
          process.kill(c, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    } finally {
      await proc;
    }
  }

  it('backup leaves no file holding the password', async () => {
    const keys = await makeKeys();
    const repo = await tempRepoUrl();
    const tmp = await tempDir('dbops-leftover-tmp-');
    const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: sourceUrl(), TMPDIR: tmp };
    const init = startCli(['init'], env);
    expect((await init).exitCode).toBe(0);
    const fake = await dumpPausedAfter(50_000, 30);
    await killWhile(['backup', '--databases', 'sakila_leftover'], { ...env, PATH: withPath(fake) }, (lines) => lines.some((l) => /mariadb-dump .*--defaults-extra-file/.test(l)));
    expect(await filesHolding(tmp, PASSWORD)).toEqual([]);
    expect(await filesHolding('/dev/shm', PASSWORD)).toEqual([]);
  });

  it('binlog ship leaves no file holding the password', async () => {
    const keys = await makeKeys();
    const repo = await tempRepoUrl();
    const tmp = await tempDir('dbops-leftover-tmp-');
    const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: sourceUrl(), TMPDIR: tmp, DBOPS_BINLOG_SPOOL_DIR: join(tmp, 'spool') };
    expect((await startCli(['init'], env)).exitCode).toBe(0);
    await killWhile(['binlog', 'ship'], env, (lines) => lines.some((l) => /binlog.*--read-from-remote-server/.test(l)));
    expect(await filesHolding(tmp, PASSWORD)).toEqual([]);
    expect(await filesHolding('/dev/shm', PASSWORD)).toEqual([]);
  });
});
