// Partition archives have a retention of their own (retention.archives): an archive is deleted once
// that long has passed since it was archived, manifest first (from then on it no longer exists),
// then its data object. Data objects without a manifest (an archiving run that died between the
// upload and the manifest) are orphans, removed once older than retention.graceForIncomplete.
import type { Repository } from '../repo/repository.js';
import { parseArchiveKey, archivePrefix } from '../storage/layout.js';
import { ObjectLockedError } from '../errors.js';
import { parseArchiveManifest } from './archive-manifest.js';

export interface ArchiveDue {
  key: string;
  manifestKey: string;
  table: string;
  partition: string;
  archivedAt: string;
  range: { from: string | null; to: string };
  rows: number;
}

export interface OrphanDue {
  key: string;
  modified: string;
}

export interface ArchiveRetentionPlan {
  expired: ArchiveDue[];
  orphans: OrphanDue[];
  /** Manifests that do not verify: never deleted on their word. */
  problems: string[];
}

/** Archives of `database` past `keepMs` and its orphans older than `graceMs`. Read-only. */
export async function planArchiveRetention(repo: Repository, database: string, now: Date, keepMs: number, graceMs: number): Promise<ArchiveRetentionPlan> {
  const data = new Map<string, { key: string; modified: Date }>();
  const manifests: string[] = [];
  for await (const o of repo.storage.list(archivePrefix)) {
    const k = parseArchiveKey(o.key);
    if (!k || (k.database !== undefined && k.database !== database)) continue;
    const stem = o.key.slice(0, o.key.lastIndexOf('/') + 1) + k.partition;
    if (k.kind === 'data') data.set(stem, { key: o.key, modified: o.modified });
    else manifests.push(o.key);
  }
  const plan: ArchiveRetentionPlan = { expired: [], orphans: [], problems: [] };
  const claimed = new Set<string>();
  for (const key of manifests) {
    let m;
    try {
      m = parseArchiveManifest(await repo.storage.getBuffer(key), key, repo.publicKey);
    } catch (err) {
      plan.problems.push(`${key}: ${(err as Error).message}`);
      claimed.add(key.replace(/\.json$/, '')); // its data object is not an orphan to remove either
      continue;
    }
    if (m.database !== database) continue; // a legacy-layout archive of another database
    claimed.add(key.replace(/\.json$/, ''));
    if (now.getTime() - Date.parse(m.createdAt) > keepMs) {
      plan.expired.push({ key: m.part.key, manifestKey: key, table: m.table, partition: m.partition, archivedAt: m.createdAt, range: { from: m.range.from, to: m.range.to }, rows: m.rows });
    }
  }
  for (const [stem, d] of data) {
    if (!claimed.has(stem) && now.getTime() - d.modified.getTime() > graceMs) plan.orphans.push({ key: d.key, modified: d.modified.toISOString() });
  }
  return plan;
}

/** Deletes what the plan names; an object still under Object Lock is left for a later run. */
export async function removeArchives(repo: Repository, plan: ArchiveRetentionPlan): Promise<{ removed: ArchiveDue[]; orphans: OrphanDue[]; locked: string[] }> {
  const out = { removed: [] as ArchiveDue[], orphans: [] as OrphanDue[], locked: [] as string[] };
  const remove = async (key: string): Promise<boolean> => {
    try {
      await repo.storage.remove(key);
      return true;
    } catch (err) {
      if (err instanceof ObjectLockedError) {
        out.locked.push(key);
        return false;
      }
      throw err;
    }
  };
  for (const a of plan.expired) {
    if ((await remove(a.manifestKey)) && (await remove(a.key))) out.removed.push(a);
  }
  for (const o of plan.orphans) if (await remove(o.key)) out.orphans.push(o);
  return out;
}
