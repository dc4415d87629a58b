// One kind of damage, one message everywhere: a flipped byte in a stored part (or a shipped
// binlog segment) reads "stored sha256 … differs from the manifest's …: the object was
// altered" in verify, restore, restore-test and pitr alike, wherever the byte is, because the
// stored hash is checked before anything is decrypted. (age used to fail first on an early
// byte and the message depended on how far the hash had got: "decryption failed" in one
// command, "stored sha256 differs" in another.)
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';

let source: SandboxServer;
let target: SandboxServer;
let env: Record<string, string>;
let repoDir: string;
let part: { key: string; storedBytes: number };
let segment: { key: string; storedBytes: number };

beforeAll(async () => {
  let keys: Awaited<ReturnType<typeof makeKeys>>;
  [source, target, keys] = await Promise.all([startSandboxServer({ binlog: true }), startSandboxServer({ binlog: false }), makeKeys()]);
  const db = await MysqlClient.connect(source.conn);
  await db.exec('CREATE DATABASE dmg');
  await db.exec('CREATE TABLE dmg.blobs (id INT PRIMARY KEY, v VARCHAR(200))');
  // ~1 MB that does not compress away: the stored part is far bigger than a pipe buffer,
  // so age meets an early flipped byte long before the whole object was read.
  for (let i = 0; i < 10; i++) {
    const rows = Array.from({ length: 1000 }, (_, j) => `(${i * 1000 + j}, '${randomBytes(75).toString('base64')}')`).join(',');
    await db.exec(`INSERT INTO dmg.blobs VALUES ${rows}`);
  }
  const r = await tempRepoUrl();
  repoDir = r.dir;
  env = { ...keys.env, DBOPS_STORAGE_URL: r.url, DBOPS_SOURCE_URL: source.url, DBOPS_SOURCE_DATABASES: 'dmg', DBOPS_RESTORE_TARGET_URL: target.url };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const b = await runCli(['backup'], env);
  expect(b.exitCode, b.stderr).toBe(0);
  await db.exec("INSERT INTO dmg.blobs VALUES (-1, 'after the backup')");
  await db.close();
  // A checksum point after the backup: content restore tests replay the shipped binlogs to it.
  expect((await runCli(['checksum'], env)).exitCode).toBe(0);
  const ship = await runCli(['binlog', 'ship', '--once'], env);
  expect(ship.exitCode, ship.stderr).toBe(0);
  const manifest = JSON.parse(await readFile(join(repoDir, 'backups', b.stdout.trim(), 'manifest.json'), 'utf8')) as { parts: Array<{ key: string; table?: string; storedBytes: number }> };
  part = manifest.parts.find((p) => p.table === 'blobs')!;
  expect(part.storedBytes).toBeGreaterThan(500_000);
  const sources = await readdir(join(repoDir, 'binlogs'));
  const segs = (await readdir(join(repoDir, 'binlogs', sources[0]!))).filter((f) => f.endsWith('.json') && f.startsWith('binlog.')).sort();
  const seg = JSON.parse(await readFile(join(repoDir, 'binlogs', sources[0]!, segs[0]!), 'utf8')) as { key: string; storedBytes: number };
  segment = { key: seg.key, storedBytes: seg.storedBytes };
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function withFlippedByte(key: string, offset: number, fn: () => Promise<void>): Promise<void> {
  const file = join(repoDir, key);
  const original = await readFile(file);
  const bad = Buffer.from(original);
  const at = offset >= 0 ? offset : bad.length + offset;
  bad[at] = bad[at]! ^ 0x01;
  await writeFile(file, bad);
  try {
    await fn();
  } finally {
    await writeFile(file, original);
  }
}

/** Every run exits 3 and says `message`, word for word the same. */
function expectSameMessage(runs: Record<string, { exitCode: number; stdout: string; stderr: string }>, message: RegExp, key: string): void {
  const seen: Record<string, string> = {};
  for (const [cmd, r] of Object.entries(runs)) {
    expect(r.exitCode, `${cmd}: ${r.stderr.slice(-800)}`).toBe(3);
    const m = message.exec(`${r.stdout}\n${r.stderr}`);
    expect(m, `${cmd} said: ${(r.stdout + r.stderr).split('\n').filter((l) => l.includes(key)).join(' | ').slice(0, 800)}`).not.toBeNull();
    seen[cmd] = m![0];
  }
  expect(new Set(Object.values(seen)).size).toBe(1);
}

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('a flipped byte in a stored part', () => {
  it.each([
    ['near its start', 1000],
    ['near its end', -40],
  ])('%s reads the same in verify, restore, restore-test and pitr', async (_where, offset) => {
    await withFlippedByte(part.key, offset, async () => {
      const runs = {
        verify: await runCli(['verify', 'latest'], env),
        restore: await runCli(['restore', 'latest', '--force'], env),
        'restore-test': await runCli(['restore-test', '--depth', 'restore', '--json'], env),
        pitr: await runCli(['pitr', '--to', 'latest', '--force'], env),
      };
      const message = new RegExp(`part ${escapeRe(part.key)} \\[dmg\\.blobs\\]: stored sha256 [0-9a-f]{12}… \\(${part.storedBytes} bytes\\) differs from the manifest's [0-9a-f]{12}… \\(${part.storedBytes} bytes\\): the object was altered`);
      expectSameMessage(runs, message, part.key);
    });
  });
});

describe('a flipped byte in a shipped binlog segment', () => {
  it('reads the same in restore-test (replay) and pitr, and as a part would', async () => {
    await withFlippedByte(segment.key, 500, async () => {
      const runs = {
        'restore-test': await runCli(['restore-test', '--depth', 'content', '--json'], env),
        pitr: await runCli(['pitr', '--to', 'latest', '--force'], env),
      };
      const message = new RegExp(`binlog segment ${escapeRe(segment.key)}: stored sha256 [0-9a-f]{12}… \\(${segment.storedBytes} bytes\\) differs from the manifest's [0-9a-f]{12}… \\(${segment.storedBytes} bytes\\): the object was altered`);
      expectSameMessage(runs, message, segment.key);
    });
  });
});
