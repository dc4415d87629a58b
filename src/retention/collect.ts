// Reads what the planner decides on from the repository: verified backup manifests,
// verified segment manifests and gap records per source, and the debris (objects
// that no manifest commits). Only listings and small manifests are read.
// Partial segments: a file known only through them counts as a segment (the chain's last
// file, or one purged on the source before it closed), so the window keeps it and the cut
// removes it like a whole file; the parts of a file whose whole segment verifies are debris
// (a shipper stopped before removing them); partial data without any verified part, like
// whole-file data without a manifest, is debris after the grace (a shipper may be writing it).
import type { Repository } from '../repo/repository.js';
import { gapKey, parseSourceKey, partialFilePrefix, partialsPrefix, segmentDataKey, sourcePrefix } from '../storage/layout.js';
import { backupIdOfKey, backupsPrefix } from '../storage/layout.js';
import type { BackupFacts, DebrisFacts, GapRecordFacts, SegmentFacts } from './types.js';
import { listIncompleteUploads } from './incomplete-uploads.js';
import { linkProblem } from '../physical/chain.js';

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
  const listed = await repo.backups.list();
  const byId = new Map(listed.flatMap((b) => (b.manifest ? [[b.id, b.manifest] as const] : [])));
  for (const b of listed) {
    if (!b.manifest) {
      unverified.push({ id: b.id, problem: b.problem ?? 'unknown problem' });
      continue;
    }
    const m = b.manifest;
    // A physical copy holds the mysql schema, so the accounts, whatever backup.accounts says.
    const accounts = m.kind === 'physical' || m.parts.some((p) => p.kind === 'accounts');
    const parent = m.physical?.parent ? byId.get(m.physical.parent) : undefined;
    const problem = parent ? linkProblem(m, parent) : undefined;
    backups.push({
      id: m.id,
      serverUuid: m.source.serverUuid,
      databases: m.databases,
      accounts,
      completedAt: m.completedAt,
      cpFile: m.consistentPoint.binlogFile,
      labels: m.labels,
      storedBytes: m.totals.storedBytes,
      kind: m.kind,
      parent: m.physical?.parent ?? null,
      ...(problem ? { linkProblem: problem } : {}),
    });
  }
  return { backups, unverified };
}

export async function collectSegmentFacts(repo: Repository): Promise<Pick<CollectedFacts, 'segments' | 'gaps'>> {
  const segments: SegmentFacts[] = [];
  const gaps: GapRecordFacts[] = [];
  for (const source of await repo.binlogs.sources()) {
    const whole = new Set<string>();
    for (const s of (await repo.binlogs.segments(source)).segments) {
      whole.add(s.file);
      segments.push({ serverUuid: source, file: s.file, sequence: s.sequence, firstEventTime: s.firstEventTime, lastEventTime: s.lastEventTime, storedBytes: s.storedBytes });
    }
    for (const file of (await repo.binlogs.partialFiles(source)).keys()) {
      if (whole.has(file)) continue;
      const { parts } = await repo.binlogs.partials(source, file);
      const last = parts.at(-1);
      if (!last) continue;
      const { manifests, data } = await partialKeys(repo, source, file);
      segments.push({ serverUuid: source, file, sequence: last.sequence, firstEventTime: last.firstEventTime, lastEventTime: last.lastEventTime, storedBytes: parts.reduce((n, p) => n + p.storedBytes, 0), partial: { manifests, data } });
    }
    for (const g of await repo.binlogs.gaps(source)) gaps.push({ serverUuid: source, from: g.from, to: g.to, key: gapKey(source, g.from, g.to) });
  }
  return { segments, gaps };
}

/** Every object under the partial segments of `file`: manifests (newest part first), then data. */
async function partialKeys(repo: Repository, source: string, file: string): Promise<{ manifests: string[]; data: string[]; modified: Date; bytes: number }> {
  const out = { manifests: [] as string[], data: [] as string[], modified: new Date(0), bytes: 0 };
  for await (const obj of repo.storage.list(partialFilePrefix(source, file))) {
    (parseSourceKey(obj.key)?.kind === 'partial-manifest' ? out.manifests : out.data).push(obj.key);
    out.bytes += obj.size;
    if (obj.modified > out.modified) out.modified = obj.modified;
  }
  out.manifests.sort().reverse();
  return out;
}

async function collectDebris(repo: Repository, committed: Set<string>, segments: readonly SegmentFacts[]): Promise<DebrisFacts[]> {
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
    const counted = new Map(segments.filter((s) => s.serverUuid === source).map((s) => [s.file, s]));
    const files = new Set<string>();
    for await (const obj of repo.storage.list(partialsPrefix(source))) {
      const k = parseSourceKey(obj.key);
      if (k?.kind === 'partial-data' || k?.kind === 'partial-manifest') files.add(k.file);
    }
    for (const file of files) {
      const seg = counted.get(file);
      // The file's prefix is a segment of the chain: its objects go with it, never as debris.
      if (seg?.partial) continue;
      const keys = await partialKeys(repo, source, file);
      const all = [...keys.manifests, ...keys.data];
      if (all.length === 0) continue;
      // A whole segment that verifies replaces them; without one (or any verified part), they commit nothing yet.
      out.push({ kind: seg ? 'replaced-partial-segments' : 'orphan-segment-data', name: partialFilePrefix(source, file), modified: keys.modified.toISOString(), bytes: keys.bytes, keys: all });
    }
  }
  return out;
}

/** Everything the planner needs; `storageUrl` lets S3 repositories report unfinished uploads. */
export async function collectFacts(repo: Repository, storageUrl: string): Promise<CollectedFacts> {
  const { backups, unverified } = await collectBackupFacts(repo);
  const { segments, gaps } = await collectSegmentFacts(repo);
  const committed = new Set([...backups.map((b) => b.id), ...unverified.map((u) => u.id)]);
  const debris = await collectDebris(repo, committed, segments);
  const uploads = await listIncompleteUploads(storageUrl);
  debris.push(...uploads.uploads);
  return { backups, unverified, segments, gaps, debris, problems: uploads.problem ? [uploads.problem] : [] };
}
