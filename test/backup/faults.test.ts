// Faults: a backup that fails or is interrupted must never show up as a good one and
// must leave nothing behind; damaged or foreign data must be named when verified.
import { describe, it, expect, beforeAll } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { mariadb } from '../helpers/mariadb.js';
import { loadSakila } from '../helpers/fixtures.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { dumpKilledAfter, withPath } from '../helpers/fake-tools.js';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

let keys: Awaited<ReturnType<typeof makeKeys>>;

beforeAll(async () => {
  await loadSakila(mariadb().url, 'sakila_faults');
  keys = await makeKeys();
});

describe('a failing dump', () => {
  it('mariadb-dump killed mid-stream: exit 1, no manifest, nothing listed, nothing left', async () => {
    const repo = await tempRepoUrl();
    const env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const fake = await dumpKilledAfter(200_000);
    const r = await runCli(['backup', '--databases', 'sakila_faults'], { ...env, PATH: withPath(fake) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/killed by SIGKILL/);
    expect(r.stdout).toBe('');
    const list = await runCli(['list', '--json'], env);
    expect(JSON.parse(list.stdout).backups).toEqual([]);
    // No part is left; the evidence log records the init and the failed backup.
    const left = (await walk(repo.dir)).map((f) => f.slice(repo.dir.length + 1));
    expect(left.filter((f) => !f.startsWith('evidence/'))).toEqual(['repo.json']);
    const entries = JSON.parse((await runCli(['evidence', 'list', '--json'], env)).stdout) as { entries: Array<{ action: string; outcome: string }> };
    expect(entries.entries.map((e) => `${e.action}:${e.outcome}`)).toEqual(['init:ok', 'backup:error']);
  });
});

describe('damaged or foreign data', () => {
  let repo: { dir: string; url: string };
  let env: Record<string, string>;
  let id: string;

  beforeAll(async () => {
    repo = await tempRepoUrl();
    env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const b = await runCli(['backup', '--databases', 'sakila_faults'], env);
    expect(b.exitCode, b.stderr).toBe(0);
    id = b.stdout.trim();
  });

  it('records exact row counts per table in the signed manifest', async () => {
    const manifest = JSON.parse(await readFile(join(repo.dir, 'backups', id, 'manifest.json'), 'utf8'));
    const conn = await mysql.createConnection({ uri: mariadb().url });
    try {
      const tables = manifest.parts.filter((p: { kind: string }) => p.kind === 'table');
      expect(tables.length).toBeGreaterThan(10);
      for (const p of tables) {
        const [[row]] = (await conn.query(`SELECT COUNT(*) AS n FROM sakila_faults.\`${p.table}\``)) as unknown as [[{ n: number }]];
        expect(p.rows, p.table).toBe(Number(row.n));
      }
    } finally {
      await conn.end();
    }
  });

  it('a flipped byte in a stored part fails verify with exit 3 naming the part', async () => {
    const parts = (await walk(join(repo.dir, 'backups', id, 'parts'))).sort();
    const victim = parts[Math.floor(parts.length / 2)]!;
    const original = await readFile(victim);
    const bad = Buffer.from(original);
    const at = Math.floor(bad.length / 2);
    bad[at] = bad[at]! ^ 0x01;
    await writeFile(victim, bad);
    try {
      const key = victim.slice(repo.dir.length + 1);
      const withKey = await runCli(['verify', id], env);
      expect(withKey.exitCode).toBe(3);
      expect(withKey.stderr).toContain(key);
      const withoutKey = await runCli(['verify', id], { ...env, DBOPS_AGE_IDENTITY_FILE: undefined });
      expect(withoutKey.exitCode).toBe(3);
      expect(withoutKey.stderr).toContain(key);
    } finally {
      await writeFile(victim, original);
    }
    expect((await runCli(['verify', id], env)).exitCode).toBe(0);
  });

  it('a wrong identity is a clear error, not a corruption report', async () => {
    const other = await makeKeys();
    const r = await runCli(['verify', id], { ...env, DBOPS_AGE_IDENTITY_FILE: other.env.DBOPS_AGE_IDENTITY_FILE });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/cannot open this backup.*matching age.key/);
  });

  it('an edited manifest fails its signature: verify exits 3, list flags it', async () => {
    const file = join(repo.dir, 'backups', id, 'manifest.json');
    const original = await readFile(file, 'utf8');
    await writeFile(file, original.replace(/"rawBytes": (\d+)/, (_m, n: string) => `"rawBytes": ${Number(n) + 1}`));
    try {
      const v = await runCli(['verify', id], env);
      expect(v.exitCode).toBe(3);
      expect(v.stderr).toMatch(/manifest\.json.*signature does not verify/);
      const list = JSON.parse((await runCli(['list', '--json'], env)).stdout);
      expect(list.backups).toEqual([]);
      expect(list.invalid[0].id).toBe(id);
    } finally {
      await writeFile(file, original);
    }
  });
});

// The S3 endpoint going away mid-backup (briefly and for good) is in test/faults/backup.test.ts.
