// Reads what the planner decides on from the repository: verified backup manifests,
// verified segment manifests and gap records per source, and the debris (objects
// that no manifest commits). Only listings and small manifests are read.
import type { Repository } from '../repo/repository.js';
import { gapKey, parseSourceKey, segmentDataKey, sourcePrefix } from '../storage/layout.js';
import { backupIdOfKey, backupsPrefix } from '../storage/layout.js';
import type { BackupFacts, DebrisFacts, GapRecordFacts, SegmentFacts } from './types.js';
import { listIncompleteUploads } from './incomplete-uploads.js';

export interface CollectedFacts {
  backups: BackupFacts[];
  unverified: Array<{ id: string; problem: string }>;
  segments: SegmentFacts[];
  gaps: GapRecordFacts[];
  debris: DebrisFacts[];
  /** Things that could not be looked at (e.g. the store cannot list uploads). */
  problems: string[];
}

export async function collectBackupFacts(repo: Repository): Promise<Pick<CollectedFacts, 'backups' | 'unverified'>> {
  const backups: BackupFacts[] = [];
  const unverified: CollectedFacts['unverified'] = [];
  for (const b of await repo.backups.list()) {
    if (!b.manifest) {
      unverified.push({ id: b.id, problem: b.problem ?? 'unknown problem' });
      continue;
    }
    const m = b.manifest;
    // A physical copy holds the mysql schema, so the accounts, whatever backup.accounts says.
    const accounts = m.kind === 'physical' || m.parts.some((p) => p.kind === 'accounts');
    backups.push({ id: m.id, serverUuid: m.source.serverUuid, databases: m.databases, accounts, completedAt: m.completedAt, cpFile: m.consistentPoint.binlogFile, labels: m.labels, storedBytes: m.totals.storedBytes, kind: m.kind, parent: m.physical?.parent ?? null });
  }
  return { backups, unverified };
}

export async function collectSegmentFacts(repo: Repository): Promise<Pick<CollectedFacts, 'segments' | 'gaps'>> {
  const segments: SegmentFacts[] = [];
  const gaps: GapRecordFacts[] = [];
  for (const source of await repo.binlogs.sources()) {
    for (const s of (await repo.binlogs.segments(source)).segments) {
      segments.push({ serverUuid: source, file: s.file, sequence: s.sequence, firstEventTime: s.firstEventTime, lastEventTime: s.lastEventTime, storedBytes: s.storedBytes });
    }
    for (const g of await repo.binlogs.gaps(source)) gaps.push({ serverUuid: source, from: g.from, to: g.to, key: gapKey(source, g.from, g.to) });
  }
  return { segments, gaps };
}

async function collectDebris(repo: Repository, committed: Set<string>): Promise<DebrisFacts[]> {
  const partial = new Map<string, DebrisFacts>();
  for await (const obj of repo.storage.list(backupsPrefix)) {
    const id = backupIdOfKey(obj.key);
    if (!id || committed.has(id)) continue;
    const d = partial.get(id) ?? { kind: 'incomplete-backup' as const, name: id, modified: new Date(0).toISOString(), bytes: 0, keys: [] };
    d.keys.push(obj.key);
    d.bytes += obj.size;
    if (obj.modified.toISOString() > d.modified) d.modified = obj.modified.toISOString();
    partial.set(id, d);
  }
  const out = [...partial.values()];
  for (const source of await repo.binlogs.sources()) {
    const data = new Map<string, { key: string; size: number; modified: Date }>();
    const manifests = new Set<string>();
    for await (const obj of repo.storage.list(sourcePrefix(source))) {
      const k = parseSourceKey(obj.key);
      if (k?.kind === 'data') data.set(k.file, obj);
      if (k?.kind === 'manifest') manifests.add(k.file);
    }
    for (const [file, obj] of data) {
      if (manifests.has(file)) continue;
      out.push({ kind: 'orphan-segment-data', name: segmentDataKey(source, file), modified: obj.modified.toISOString(), bytes: obj.size, keys: [obj.key] });
    }
  }
  return out;
}

/** Everything the planner needs; `storageUrl` lets S3 repositories report unfinished uploads. */
export async function collectFacts(repo: Repository, storageUrl: string): Promise<CollectedFacts> {
  const { backups, unverified } = await collectBackupFacts(repo);
  const { segments, gaps } = await collectSegmentFacts(repo);
  const committed = new Set([...backups.map((b) => b.id), ...unverified.map((u) => u.id)]);
  const debris = await collectDebris(repo, committed);
  const uploads = await listIncompleteUploads(storageUrl);
  debris.push(...uploads.uploads);
  return { backups, unverified, segments, gaps, debris, problems: uploads.problem ? [uploads.problem] : [] };
}
