// Content restore tests replay shipped binlogs from the backup's point to the checksum
// point; a missing binlog segment makes the test fail (exit 3) naming what is missing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';

let source: SandboxServer;
let env: Record<string, string>;
let repo: { dir: string; url: string };

beforeAll(async () => {
  source = await startSandboxServer({ binlog: true });
  const conn = await mysql.createConnection({ uri: source.url });
  await conn.query('CREATE DATABASE shop');
  await conn.query('CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, total DECIMAL(10,2), note VARCHAR(50), KEY (total))');
  await conn.query("INSERT INTO shop.orders (total, note) VALUES (10.5, 'a'), (20, 'b'), (30.25, 'c')");
  const keys = await makeKeys();
  repo = await tempRepoUrl();
  env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: source.url, DBOPS_SOURCE_DATABASES: 'shop' };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  expect((await runCli(['backup'], env)).exitCode).toBe(0);
  // Writes after the backup: only binlog replay can bring these back.
  for (let i = 0; i < 20; i++) await conn.query('INSERT INTO shop.orders (total, note) VALUES (?, ?)', [i * 1.5, `after-${i}`]);
  await conn.query("UPDATE shop.orders SET note = 'changed' WHERE id = 2");
  await conn.query('FLUSH BINARY LOGS');
  await conn.query('INSERT INTO shop.orders (total, note) VALUES (99, \'next file\')');
  await conn.end();
  expect((await runCli(['checksum'], env)).exitCode).toBe(0);
  const ship = await runCli(['binlog', 'ship', '--once'], env);
  expect(ship.exitCode, ship.stderr).toBe(0);
});

afterAll(async () => source?.stop());

describe('restore-test with binlog replay', () => {
  it('replays the shipped chain to the checksum point and proves content equal', async () => {
    const r = await runCli(['restore-test', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.verdict).toBe('pass');
    expect(report.checks.find((c: { name: string }) => c.name === 'binlog-replay')?.ok).toBe(true);
    expect(report.phases.replay).toBeGreaterThan(0);
    expect(report.checks.find((c: { object?: string; name: string }) => c.name === 'content-checksum' && c.object === 'shop.orders')?.ok).toBe(true);
  });

  it('a missing binlog segment fails the test with exit 3 and says which', async () => {
    const sourceDir = join(repo.dir, 'binlogs', (await readdir(join(repo.dir, 'binlogs')))[0]!);
    const data = (await readdir(sourceDir)).filter((f) => f.endsWith('.zst.age')).sort();
    expect(data.length).toBeGreaterThanOrEqual(2);
    await rm(join(sourceDir, data[0]!));
    const r = await runCli(['restore-test', '--json'], env);
    expect(r.exitCode).toBe(3);
    const failed = JSON.parse(r.stdout).checks.filter((c: { ok: boolean }) => !c.ok);
    expect(failed.map((c: { name: string }) => c.name)).toEqual(['binlog-replay']);
    expect(failed[0].detail).toContain(data[0]!.replace('.zst.age', ''));
  });
});
