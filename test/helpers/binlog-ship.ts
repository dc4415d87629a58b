// Shared by the binlog shipping tests: a fresh repository + spool + CLI environment
// for one shipper run against a source, condition waits, and the chain checks.
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository, type Repository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import type { SegmentManifest } from '../../src/binlog/segment-manifest.js';
import type { MysqlClient } from '../../src/mysql/client.js';
import { tempRepoUrl, type makeKeys } from './cli.js';

export interface ShipSetup {
  env: Record<string, string>;
  repo: Repository;
  repoDir: string;
  spool: string;
}

/** A new file:// repository and spool dir, and the env that points `dbops binlog ship` at them and at sourceUrl. */
export async function shipSetup(sourceUrl: string, keys: Awaited<ReturnType<typeof makeKeys>>, extra: Record<string, string> = {}): Promise<ShipSetup> {
  const r = await tempRepoUrl();
  const spool = await mkdtemp(join(tmpdir(), 'dbops-spool-'));
  const env = { ...keys.env, DBOPS_STORAGE_URL: r.url, DBOPS_SOURCE_URL: sourceUrl, DBOPS_BINLOG_SPOOL_DIR: spool, ...extra };
  // In-process init: each CLI start costs seconds of tsx compilation.
  const storage = await openStorage(r.url);
  const signer = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  await initRepository(storage, signer, await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]));
  return { env, repo: await openRepository(storage, { signer }), repoDir: r.dir, spool };
}

/** The verified segment manifests of one source, in order; every one must verify. */
export async function segments(s: ShipSetup, sourceId: string): Promise<SegmentManifest[]> {
  const { segments: list, problems } = await s.repo.binlogs.segments(sourceId);
  expect(problems).toEqual([]);
  return list;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Each segment follows the one before it: next sequence number, previousFile naming it. */
export function expectContiguous(list: SegmentManifest[]): void {
  for (let i = 1; i < list.length; i++) {
    expect(list[i]!.sequence).toBe(list[i - 1]!.sequence + 1);
    expect(list[i]!.previousFile).toBe(list[i - 1]!.file);
  }
}

/** Ids of the source's replication (binlog dump) connections. */
export async function dumpThreads(db: MysqlClient): Promise<number[]> {
  const rows = await db.query<{ id: number }>("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
  return rows.map((r) => Number(r.id));
}
