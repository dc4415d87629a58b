// The retention decision: a PURE function of (backups, segments, gap records, debris,
// now, policy) → plan. No storage and no clock here, so it is tested over simulated
// months. A backup goes only when no rule keeps it; the rules that keep things are
// the newest good backup, legal hold, the GFS counts and the PITR window. All but legal
// hold are decided per scope (scopes.ts: each database, and the accounts) over the
// backups that hold it, so a backup of some databases never stands in for one of all.
// Physical incrementals count like any backup (restoring one restores the server at its
// point), and whatever keeps one keeps the chain it applies on: its parent, that one's
// parent, down to the full, with the latest keep-until and legal hold of what depends on
// them. An incremental whose chain is not whole in the repository cannot be restored: it
// counts for nothing and is kept for inspection, never deleted on its own.
import { binlogSeq } from '../binlog/file-names.js';
import { bucketOf, gfsRanks, gfsReason, type Period } from './gfs.js';
import { gfsKeepUntil, pitrKeepUntil } from './keep-until.js';
import { pitrKeep, type PitrKeep } from './pitr-keep.js';
import { scopeKey, scopeKeysOf, scopeLabel, scopesOf, type Scope } from './scopes.js';
import type { BackupFacts, Decision, RetentionInput, RetentionPlan, SegmentFacts } from './types.js';

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k) ?? [];
    list.push(item);
    out.set(k, list);
  }
  return out;
}

function decide(reasons: string[], deleteReason: string): Decision {
  return reasons.length ? { action: 'keep', reasons } : { action: 'delete', reasons: [deleteReason] };
}

/** Reasons of one backup: each rule's text → the scopes it keeps the backup for (empty: the whole backup). */
type Reasons = Map<string, Set<string>>;

/** "rule" when it holds for everything the backup holds, else "rule for a, b". */
function reasonTexts(b: BackupFacts, reasons: Reasons, labels: ReadonlyMap<string, string>): string[] {
  const all = scopeKeysOf(b);
  return [...reasons].map(([why, keys]) => (keys.size === 0 || all.every((k) => keys.has(k)) ? why : `${why} for ${[...keys].map((k) => labels.get(k) ?? k).join(', ')}`));
}

/**
 * Binlogs are per source but each database's window needs them from its own base on: the
 * source keeps them from the earliest of those (every one, if any database needs every one).
 */
function binlogCut(cuts: ReadonlyArray<{ scope: Scope; pitr: PitrKeep }>): { seq: number | null; reason: string } {
  const all = cuts.find((c) => c.pitr.keepFromSeq === null);
  const why = (c: { scope: Scope; pitr: PitrKeep }, of: ReadonlyArray<{ scope: Scope }>): string =>
    of.length === cuts.length ? c.pitr.keepReason : `${c.pitr.keepReason} (for ${of.map((x) => scopeLabel(x.scope)).join(', ')})`;
  if (all) return { seq: null, reason: why(all, cuts.filter((c) => c.pitr.keepFromSeq === null)) };
  const seq = Math.min(...cuts.map((c) => c.pitr.keepFromSeq!));
  const at = cuts.filter((c) => c.pitr.keepFromSeq === seq);
  return { seq, reason: why(at[0]!, at) };
}

interface Chains {
  /** Each backup's ancestors among the verified backups, its parent first. */
  ancestors: Map<string, string[]>;
  /** Incrementals whose chain is not whole, and why. */
  broken: Map<string, string>;
}

function chainsOf(input: RetentionInput): Chains {
  const byId = new Map(input.backups.map((b) => [b.id, b]));
  const damaged = new Set(input.unverified.map((u) => u.id));
  const ancestors = new Map<string, string[]>();
  const broken = new Map<string, string>();
  for (const b of input.backups) {
    const list: string[] = [];
    const seen = new Set([b.id]);
    let child = b;
    for (let p = b.parent ?? null; p !== null; ) {
      const parent = byId.get(p);
      if (!parent || seen.has(p)) {
        broken.set(b.id, damaged.has(p) ? `it applies on ${p}, whose manifest does not verify` : `it applies on ${p}, which is not in the repository`);
        break;
      }
      if (child.linkProblem) {
        broken.set(b.id, child.linkProblem);
        break;
      }
      seen.add(p);
      list.push(p);
      child = parent;
      p = parent.parent ?? null;
    }
    ancestors.set(b.id, list);
  }
  return { ancestors, broken };
}

export function planRetention(input: RetentionInput): RetentionPlan {
  const { policy } = input;
  const chains = chainsOf(input);
  const windowStart = new Date(input.now.getTime() - policy.pitrWindowMs).toISOString();
  const window = formatDuration(policy.pitrWindowMs);
  const reasons = new Map<string, Reasons>(input.backups.map((b) => [b.id, new Map()]));
  const add = (id: string, why: string, scope?: Scope): void => {
    const r = reasons.get(id)!;
    const keys = r.get(why) ?? new Set<string>();
    if (scope) keys.add(scopeKey(scope));
    r.set(why, keys);
  };
  // The earliest time the rules could let each kept backup go (keep-until.ts): prune raises
  // its Object Lock to this. Legal hold has no end date and is tracked apart. Per scope
  // each bound holds, so the latest of them holds for the backup.
  const until = new Map<string, number>();
  const bump = (id: string, at: Date): void => void until.set(id, Math.max(until.get(id) ?? -Infinity, at.getTime()));
  const held = new Set<string>();
  const segmentsBySource = groupBy(input.segments, (s) => s.serverUuid);
  // A backup that cannot be restored stands in for nothing.
  const backupsBySource = groupBy(input.backups.filter((b) => !chains.broken.has(b.id)), (b) => b.serverUuid);
  for (const [id, why] of chains.broken) add(id, `its chain is broken (${why}): it cannot be restored and counts for nothing; kept for inspection, remove it by hand`);
  const keepFrom = new Map<string, { seq: number | null; reason: string }>();
  const scopes: Array<{ scope: Scope; newest: string; pitr: PitrKeep | null }> = [];
  const labels = new Map<string, string>();

  for (const [source, backups] of backupsBySource) {
    for (const b of backups) {
      const hold = b.labels[policy.legalHoldLabel];
      if (hold !== undefined && hold !== 'false') {
        add(b.id, `legal hold (label ${policy.legalHoldLabel}=${hold})`);
        held.add(b.id);
      }
    }
    const cuts: Array<{ scope: Scope; pitr: PitrKeep }> = [];
    for (const scope of scopesOf(source, backups)) {
      labels.set(scopeKey(scope), scopeLabel(scope));
      const { holders } = scope;
      const newest = [...holders].sort((a, b) => b.completedAt.localeCompare(a.completedAt) || b.id.localeCompare(a.id))[0]!;
      add(newest.id, 'newest good backup', scope);
      const buckets = Object.fromEntries((['daily', 'weekly', 'monthly'] as const).map((p) => [p, new Set(holders.map((b) => bucketOf(p, b.completedAt)))])) as Record<Period, Set<string>>;
      for (const [id, ranks] of gfsRanks(holders, policy)) {
        for (const r of ranks) {
          add(id, gfsReason(r), scope);
          const at = gfsKeepUntil(r, holders.find((b) => b.id === id)!.completedAt, buckets[r.period], input.now);
          if (at) bump(id, at);
        }
      }
      // Point-in-time recovery rebuilds databases from a base that holds them; accounts are
      // not rebuilt by it, so they pin no base and no binlog.
      if (scope.kind === 'accounts') {
        scopes.push({ scope, newest: newest.id, pitr: null });
        continue;
      }
      const pitr = pitrKeep(holders, segmentsBySource.get(source) ?? [], windowStart);
      for (const [id, why] of pitr.keep) {
        add(id, `${why} (${window} window from ${windowStart})`, scope);
        bump(id, pitrKeepUntil(holders.find((b) => b.id === id)!, holders, input.now, policy.pitrWindowMs));
      }
      scopes.push({ scope, newest: newest.id, pitr });
      cuts.push({ scope, pitr });
    }
    if (cuts.length) keepFrom.set(source, binlogCut(cuts));
  }

  // Whatever keeps an incremental keeps what it applies on, as long and as firmly.
  const dependents = new Map<string, string[]>();
  for (const b of input.backups) {
    if (reasons.get(b.id)!.size === 0 || chains.broken.has(b.id)) continue;
    for (const a of chains.ancestors.get(b.id) ?? []) {
      dependents.set(a, [...(dependents.get(a) ?? []), b.id]);
      const at = until.get(b.id);
      if (at !== undefined) bump(a, new Date(at));
      if (held.has(b.id)) held.add(a);
    }
  }
  for (const [id, kept] of dependents) {
    const newest = [...kept].sort().at(-1)!;
    add(id, `the chain of kept incremental ${newest}${kept.length > 1 ? ` (and ${kept.length - 1} more)` : ''} applies on it`);
  }

  const backups = input.backups.map((b: BackupFacts) => {
    const texts = reasonTexts(b, reasons.get(b.id)!, labels);
    const decision = decide(texts, `beyond the daily ${policy.daily} / weekly ${policy.weekly} / monthly ${policy.monthly} counts and not needed for the ${window} window`);
    const keep = decision.action === 'keep';
    const at = until.get(b.id);
    return { ...b, ...decision, keepAtLeastUntil: keep && at !== undefined ? new Date(at).toISOString() : null, legalHold: keep && held.has(b.id) };
  });
  const kept = new Set(backups.filter((b) => b.action === 'keep').map((b) => b.id));
  const coverage: RetentionPlan['coverage'] = scopes.map(({ scope, newest, pitr }) => ({
    serverUuid: scope.serverUuid,
    scope: scope.kind,
    database: scope.database,
    newest,
    kept: scope.holders.filter((b) => kept.has(b.id)).map((b) => b.id).sort(),
    pitrBase: pitr?.fromBackup?.id ?? null,
    pitrFrom: pitr?.fromBackup?.cpFile ?? null,
  }));
  const uncovered = (input.sourceDatabases ?? []).flatMap((src) => {
    const held = new Set((backupsBySource.get(src.serverUuid) ?? []).flatMap((b) => b.databases));
    return [...src.databases].sort().filter((d) => !held.has(d)).map((database) => ({ serverUuid: src.serverUuid, database }));
  });

  const sources: RetentionPlan['sources'] = [];
  const sourceIds = [...new Set([...segmentsBySource.keys(), ...input.gaps.map((g) => g.serverUuid)])].sort();
  for (const source of sourceIds) {
    const segs = [...(segmentsBySource.get(source) ?? [])].sort((a, b) => a.sequence - b.sequence);
    const from = keepFrom.get(source) ?? { seq: null, reason: 'no full backup of this source: every binlog is kept' };
    const cut = from.seq;
    const keepFile = cut === null ? segs[0]?.file ?? null : segs.find((s) => s.sequence >= cut)?.file ?? null;
    const why = `older than the window's binlog chain (${from.reason.replace(/^pitr: /, '')})`;
    const deleted = cut === null ? [] : segs.filter((s) => s.sequence < cut).map((s: SegmentFacts) => ({ ...s, action: 'delete' as const, reasons: [why] }));
    const deletedGapRecords = cut === null ? [] : input.gaps.filter((g) => g.serverUuid === source && binlogSeq(g.to) < cut).map((g) => ({ ...g, action: 'delete' as const, reasons: [why] }));
    sources.push({ serverUuid: source, keepFrom: keepFile, keepReason: from.reason, kept: segs.length - deleted.length, deleted, deletedGapRecords });
  }

  const graceStart = new Date(input.now.getTime() - policy.graceForIncompleteMs).toISOString();
  const grace = formatDuration(policy.graceForIncompleteMs);
  const debris = input.debris.map((d) =>
    d.kind === 'replaced-partial-segments'
      ? { ...d, action: 'delete' as const, reasons: ['partial segments of a binlog file shipped whole since (the whole file verifies)'] }
      : d.modified < graceStart
      ? { ...d, action: 'delete' as const, reasons: [`${d.kind === 'incomplete-upload' ? 'unfinished multipart upload' : d.kind === 'incomplete-backup' ? 'unfinished backup (no manifest)' : 'binlog data without a segment manifest'}, last written ${d.modified}, older than the ${grace} grace`] }
      : { ...d, action: 'keep' as const, reasons: [`may still be in progress (younger than the ${grace} grace)`] },
  );
  const unverified = input.unverified.map((u) => ({ ...u, action: 'keep' as const, reasons: [`manifest does not verify (${u.problem}): kept for inspection, remove by hand`] }));

  const gone = backups.filter((b) => b.action === 'delete');
  const goneSegs = sources.flatMap((s) => s.deleted);
  const goneDebris = debris.filter((d) => d.action === 'delete');
  return {
    now: input.now.toISOString(),
    windowStart,
    backups,
    unverified,
    sources,
    debris,
    coverage,
    uncovered,
    totals: {
      deleteBackups: gone.length,
      deleteSegments: goneSegs.length,
      deleteDebris: goneDebris.length,
      freedBytes: [...gone, ...goneSegs, ...goneDebris].reduce((n, x) => n + (('storedBytes' in x ? x.storedBytes : x.bytes) ?? 0), 0),
    },
  };
}
