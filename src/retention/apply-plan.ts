// Carries out a retention plan. Commit markers go first (a backup's manifest, a
// segment's manifest), then the data, so an interrupted prune leaves debris that the
// next prune removes, never a manifest pointing at missing data.
//
// With Object Lock (see storage/object-lock.ts) it first raises the lock of every kept
// backup to the plan's keepAtLeastUntil (legal hold for held ones), parts before the
// manifest so the manifest's lock always covers its parts'. Then a delete the lock
// refuses (ObjectLockedError) is "not expired yet": the object stays as it is, the plan
// item is listed under `locked` with its date, and the run goes on (exit 0). A locked
// manifest keeps its whole backup (or segment); binlog segments of a source stop at the
// first locked one, so they still go from the front only.
//
// Before anything goes, the plan is checked on its own terms: no backup it deletes may be
// the newest of a database (or of the accounts) of its source, nor one that a backup it keeps
// applies on (a physical incremental's chain). Backups go in the plan's order, except that an
// incremental goes before what it applies on: a prune stopped midway never leaves one listed
// without its chain, and a backup stays while one that applies on it stays (Object Lock
// refused it). A signal stops the run between items, never inside one; what was left is what
// the next prune finishes.
import type { Repository } from '../repo/repository.js';
import { backupManifestKey, backupPrefix, repoJsonKey } from '../storage/layout.js';
import { segmentDataKey, segmentManifestKey } from '../storage/layout.js';
import { ObjectLockedError, OperationError, StorageError } from '../errors.js';
import { log } from '../util/logger.js';
import { abortIncompleteUpload } from './incomplete-uploads.js';
import type { RetentionPlan } from './types.js';

/** A plan item Object Lock kept in place; a prune after `until` removes it. */
export interface LockedItem {
  kind: 'backup' | 'backup-objects' | 'segments' | 'segment-data' | 'gap-record' | 'debris';
  name: string;
  /** Latest retain-until among its refused objects (null: not readable, or legal hold). */
  until: string | null;
  note: string;
}

export interface ApplyResult {
  backups: string[];
  segments: number;
  /** Binlog files removed, per source. */
  segmentsBySource: Record<string, number>;
  gapRecords: number;
  debris: string[];
  /** Deletions Object Lock refused: left intact for a later prune. */
  locked: LockedItem[];
  /** Kept backups (and repo.json, id "repo.json") whose Object Lock this run raised or put under legal hold. */
  extended: Array<{ id: string; until: string | null; legalHold: boolean; objects: number }>;
  /** Things that could not be removed or protected (e.g. an abort the store refuses); the rest went ahead. */
  problems: string[];
}

async function listKeys(repo: Repository, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const obj of repo.storage.list(prefix)) keys.push(obj.key);
  return keys;
}

/** Remove each key; the ones Object Lock refuses are returned, anything else throws. */
async function removeKeys(repo: Repository, keys: readonly string[]): Promise<ObjectLockedError[]> {
  const refused: ObjectLockedError[] = [];
  for (const key of keys) {
    try {
      await repo.storage.remove(key);
    } catch (err) {
      if (!(err instanceof ObjectLockedError)) throw err;
      refused.push(err);
    }
  }
  return refused;
}

function latest(errors: readonly ObjectLockedError[]): string | null {
  const dates = errors.map((e) => e.retainUntil?.getTime()).filter((t): t is number => t !== undefined);
  return dates.length ? new Date(Math.max(...dates)).toISOString() : null;
}

/** "is under Object Lock until …; a prune after that removes it" and the like. */
function lockedNote(err: ObjectLockedError, it = 'it'): string {
  if (err.legalHold) return `under an Object Lock legal hold; a prune after it is lifted removes ${it}`;
  if (err.confirmed && err.retainUntil) return `under Object Lock until ${err.retainUntil.toISOString()}; a prune after that removes ${it}`;
  return `refused (AccessDenied) with no readable retention, so treated as locked; a later prune tries again`;
}

/** Raise the lock of kept backups to what the plan promises (see keep-until.ts). */
async function protectKept(repo: Repository, plan: RetentionPlan, result: ApplyResult): Promise<void> {
  const lock = repo.storage.lock;
  if (!lock) return;
  const now = Date.parse(plan.now);
  for (const b of plan.backups) {
    if (b.action !== 'keep') continue;
    const until = b.keepAtLeastUntil && Date.parse(b.keepAtLeastUntil) > now ? new Date(b.keepAtLeastUntil) : undefined;
    if (!until && !b.legalHold) continue;
    const manifest = backupManifestKey(b.id);
    try {
      // The manifest is written last and raised last: its lock is a lower bound for its parts'.
      const current = await lock.retention(manifest);
      if (!current) continue;
      const raise = until && !(current.retainUntil && current.retainUntil.getTime() >= until.getTime()) ? until : undefined;
      const hold = b.legalHold && !current.legalHold;
      if (!raise && !hold) continue;
      const keys = (await listKeys(repo, backupPrefix(b.id))).filter((k) => k !== manifest);
      keys.push(manifest);
      for (const key of keys) {
        if (raise) await lock.extendRetention(key, raise);
        if (hold) await lock.setLegalHold(key, true);
      }
      result.extended.push({ id: b.id, until: raise?.toISOString() ?? null, legalHold: hold, objects: keys.length });
      log.info({ backupId: b.id, retainUntil: raise?.toISOString(), legalHold: hold || undefined, objects: keys.length }, 'raised the Object Lock of a kept backup');
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      const problem = `could not raise the Object Lock of kept backup ${b.id}${until ? ` to ${until.toISOString()}` : ''}${b.legalHold ? ' (legal hold)' : ''}: ${err.message}`;
      result.problems.push(problem);
      log.warn({ backupId: b.id }, problem);
    }
  }
}

/**
 * repo.json (the repository id and signing key every backup is checked against) must
 * outlive every backup: its lock goes to the latest of now + the upload period (so it
 * outlasts the newest objects) and every kept backup's promise, and it is held while any
 * kept backup is. It is never deleted by prune, so this cannot block prune.
 */
async function protectRepoJson(repo: Repository, plan: RetentionPlan, result: ApplyResult): Promise<void> {
  const lock = repo.storage.lock!;
  const now = Date.parse(plan.now);
  const kept = plan.backups.filter((b) => b.action === 'keep');
  const until = new Date(Math.max(now + lock.uploadPeriodMs, ...kept.map((b) => (b.keepAtLeastUntil ? Date.parse(b.keepAtLeastUntil) : 0))));
  const held = kept.some((b) => b.legalHold);
  try {
    const current = await lock.retention(repoJsonKey);
    if (!current) return;
    const raise = !(current.retainUntil && current.retainUntil.getTime() >= until.getTime());
    const hold = held && !current.legalHold;
    if (raise) await lock.extendRetention(repoJsonKey, until);
    if (hold) await lock.setLegalHold(repoJsonKey, true);
    if (raise || hold) result.extended.push({ id: repoJsonKey, until: raise ? until.toISOString() : null, legalHold: hold, objects: 1 });
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    const problem = `could not raise the Object Lock of ${repoJsonKey} to ${until.toISOString()}: ${err.message}`;
    result.problems.push(problem);
    log.warn(problem);
  }
}

/** Refuses a plan that deletes the newest backup holding some database or the accounts of its source. */
export function checkNewestKept(plan: RetentionPlan): void {
  const newest = new Map<string, RetentionPlan['backups'][number]>();
  for (const b of plan.backups) {
    for (const scope of [...b.databases.map((d) => `database ${d}`), ...(b.accounts ? ['the accounts'] : [])]) {
      const key = `${b.serverUuid}\n${scope}`;
      const seen = newest.get(key);
      if (!seen || b.completedAt > seen.completedAt || (b.completedAt === seen.completedAt && b.id > seen.id)) newest.set(key, b);
    }
  }
  for (const [key, b] of newest) {
    if (b.action !== 'delete') continue;
    const [source, scope] = key.split('\n');
    throw new OperationError(`refusing to apply the retention plan: it deletes backup ${b.id}, the newest that holds ${scope} of source ${source}; nothing was deleted (a planner defect: please report it)`);
  }
}

/** Ancestors of a backup in the plan (its parent first). */
function ancestorsIn(plan: RetentionPlan): (id: string) => string[] {
  const byId = new Map(plan.backups.map((b) => [b.id, b]));
  return (id) => {
    const out: string[] = [];
    for (let p = byId.get(id)?.parent ?? null; p !== null && !out.includes(p); p = byId.get(p)?.parent ?? null) out.push(p);
    return out;
  };
}

/** Refuses a plan that deletes a backup that a backup it keeps applies on. */
export function checkChainsKept(plan: RetentionPlan): void {
  const ancestors = ancestorsIn(plan);
  const gone = new Set(plan.backups.filter((b) => b.action === 'delete').map((b) => b.id));
  for (const b of plan.backups) {
    if (b.action !== 'keep') continue;
    const missing = ancestors(b.id).find((a) => gone.has(a));
    if (missing) throw new OperationError(`refusing to apply the retention plan: it deletes backup ${missing}, which kept backup ${b.id} applies on; nothing was deleted (a planner defect: please report it)`);
  }
}

/** The plan's order, except that a backup goes only after every deleted one that applies on it. */
function dependentsFirst<T extends { id: string }>(deletions: readonly T[], ancestors: (id: string) => string[]): T[] {
  const out: T[] = [];
  const placed = new Set<string>();
  const place = (b: T): void => {
    if (placed.has(b.id)) return;
    placed.add(b.id);
    for (const d of deletions) if (ancestors(d.id).includes(b.id)) place(d);
    out.push(b);
  };
  for (const b of deletions) place(b);
  return out;
}

function stopIfAborted(signal: AbortSignal | undefined, result: ApplyResult): void {
  if (!signal?.aborted) return;
  throw new OperationError(
    `prune interrupted by ${String(signal.reason ?? 'a signal')} after deleting ${result.backups.length} backup(s), ${result.segments} binlog file(s) and ${result.debris.length} debris item(s); everything the plan keeps is intact: run "dbops prune --apply" again to finish`,
  );
}

export async function applyPlan(repo: Repository, plan: RetentionPlan, storageUrl: string, signal?: AbortSignal): Promise<ApplyResult> {
  checkNewestKept(plan);
  checkChainsKept(plan);
  const ancestors = ancestorsIn(plan);
  const result: ApplyResult = { backups: [], segments: 0, segmentsBySource: {}, gapRecords: 0, debris: [], locked: [], extended: [], problems: [] };
  const keepLocked = (item: LockedItem): void => {
    result.locked.push(item);
    log.info({ kind: item.kind, name: item.name, retainUntil: item.until }, item.note);
  };
  await protectKept(repo, plan, result);
  if (repo.storage.lock) await protectRepoJson(repo, plan, result);

  // Backups that stay: the kept ones, and those Object Lock keeps in place below.
  const staying = new Set(plan.backups.filter((b) => b.action === 'keep').map((b) => b.id));
  const deletions = dependentsFirst(plan.backups.filter((b) => b.action === 'delete'), ancestors);
  for (const b of deletions) {
    stopIfAborted(signal, result);
    const dependent = [...staying].find((id) => ancestors(id).includes(b.id));
    if (dependent) {
      staying.add(b.id);
      keepLocked({ kind: 'backup', name: b.id, until: null, note: `backup ${b.id} stays for now: backup ${dependent}, which applies on it, could not be deleted yet` });
      continue;
    }
    const [manifestLocked] = await removeKeys(repo, [backupManifestKey(b.id)]);
    if (manifestLocked) {
      staying.add(b.id);
      keepLocked({ kind: 'backup', name: b.id, until: latest([manifestLocked]), note: `backup ${b.id} stays for now: its manifest is ${lockedNote(manifestLocked)}` });
      continue;
    }
    const refused = await removeKeys(repo, await listKeys(repo, backupPrefix(b.id)));
    result.backups.push(b.id);
    log.info({ backupId: b.id, reason: b.reasons[0] }, 'pruned backup');
    if (refused.length) {
      keepLocked({ kind: 'backup-objects', name: b.id, until: latest(refused), note: `backup ${b.id} is gone (manifest deleted) but ${refused.length} of its objects are ${lockedNote(refused[0]!, 'them as an unfinished backup')}` });
    }
  }
  for (const source of plan.sources) {
    let removed = 0;
    let stopped = false;
    for (const [i, s] of source.deleted.entries()) {
      stopIfAborted(signal, result);
      const [manifestLocked] = await removeKeys(repo, s.partial ? s.partial.manifests : [segmentManifestKey(s.serverUuid, s.file)]);
      if (manifestLocked) {
        // Later files were shipped later, so they are locked at least as long: stop here.
        // The gap records older than the cut stay with them: they still describe that chain.
        const rest = source.deleted.slice(i);
        const gaps = source.deletedGapRecords.length ? ` (and ${source.deletedGapRecords.length} gap record(s) with them)` : '';
        keepLocked({
          kind: 'segments',
          name: `${s.serverUuid}/${s.file}`,
          until: latest([manifestLocked]),
          note: `${rest.length} binlog file(s) of ${s.serverUuid} from ${s.file} to ${rest.at(-1)!.file}${gaps} stay for now: ${s.file} is ${lockedNote(manifestLocked, 'them')}`,
        });
        stopped = true;
        break;
      }
      const [dataLocked] = await removeKeys(repo, s.partial ? s.partial.data : [segmentDataKey(s.serverUuid, s.file)]);
      if (dataLocked) keepLocked({ kind: 'segment-data', name: s.partial ? `${s.serverUuid}/partial/${s.file}` : segmentDataKey(s.serverUuid, s.file), until: latest([dataLocked]), note: `binlog data ${s.file} (manifest deleted) is ${lockedNote(dataLocked, 'it as orphan data')}` });
      removed++;
      result.segments++;
    }
    for (const g of stopped ? [] : source.deletedGapRecords) {
      stopIfAborted(signal, result);
      const [locked] = await removeKeys(repo, [g.key]);
      if (locked) {
        keepLocked({ kind: 'gap-record', name: g.key, until: latest([locked]), note: `gap record ${g.key} is ${lockedNote(locked)}` });
        continue;
      }
      result.gapRecords++;
    }
    result.segmentsBySource[source.serverUuid] = removed;
    if (removed) log.info({ serverUuid: source.serverUuid, segments: removed, keepFrom: source.keepFrom }, 'pruned binlog segments');
  }
  for (const d of plan.debris) {
    if (d.action !== 'delete') continue;
    stopIfAborted(signal, result);
    if (d.kind === 'incomplete-upload') {
      const problem = await abortIncompleteUpload(storageUrl, d.name, d.uploadId!);
      if (problem) {
        result.problems.push(problem);
        log.warn({ key: d.name }, problem);
        continue;
      }
    } else if (d.kind === 'incomplete-backup' && (await repo.storage.stat(backupManifestKey(d.name)))) {
      // It committed after the plan was made (a very long backup): it is a backup now.
      continue;
    } else {
      const refused = await removeKeys(repo, d.keys);
      if (refused.length) {
        keepLocked({ kind: 'debris', name: d.name, until: latest(refused), note: `${d.kind} ${d.name}: ${refused.length} of ${d.keys.length} object(s) ${refused.length === 1 ? 'is' : 'are'} ${lockedNote(refused[0]!, 'them')}` });
        continue;
      }
    }
    result.debris.push(d.name);
    log.info({ kind: d.kind, name: d.name }, 'removed debris');
  }
  return result;
}
