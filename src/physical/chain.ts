// The backups a physical backup needs to be restored: its full, then every incremental up to
// itself, in the order they apply. Each link is checked on the signed manifests (same
// repository and source, the child's fromLsn is the parent's toLsn and its redo log ends no
// earlier than the parent's, the base it names is the full the chain reaches), so a chain
// with a missing or foreign link is refused before a byte is fetched, naming what is missing.
import type { Repository } from '../repo/repository.js';
import { physicalOf, type BackupManifest } from '../manifest/backup-manifest.js';
import { VerificationError, UsageError } from '../errors.js';

/** Full first, `manifest` last. */
export async function physicalChain(repo: Repository, manifest: BackupManifest): Promise<BackupManifest[]> {
  const chain = [manifest];
  let child = manifest;
  let info = physicalOf(child);
  while (info.parent !== null) {
    const parentId = info.parent;
    if (parentId >= child.id) throw new VerificationError(`backup ${child.id} names ${parentId}, which is not older, as the backup it applies on: the manifest is wrong`, undefined);
    let parent: BackupManifest;
    try {
      parent = await repo.backups.read(parentId);
    } catch (err) {
      if (err instanceof UsageError) throw new VerificationError(`incremental backup ${child.id} applies on ${parentId}, which is not in the repository: the chain from ${manifest.id} back to its full is broken and cannot be restored`, undefined, { cause: err });
      if (err instanceof VerificationError) throw new VerificationError(`incremental backup ${child.id} applies on ${parentId}, whose manifest does not verify (${err.message}): ${manifest.id} cannot be restored`, err.object, { cause: err });
      throw err;
    }
    const problem = linkProblem(child, parent);
    if (problem) throw new VerificationError(problem, undefined);
    chain.unshift(parent);
    child = parent;
    info = physicalOf(parent);
  }
  const base = chain[0]!;
  for (const m of chain.slice(1)) {
    if (physicalOf(m).base !== base.id) throw new VerificationError(`incremental backup ${m.id} names ${physicalOf(m).base} as its full, but its chain starts at ${base.id}`, undefined);
  }
  return chain;
}

/** Why the physical incremental `child` does not apply on `parent`, the backup it names; undefined when it does. */
export function linkProblem(child: BackupManifest, parent: BackupManifest): string | undefined {
  const c = child.physical;
  const p = parent.kind === 'physical' ? parent.physical : undefined;
  if (!c || !p) return `backup ${child.id} applies on ${parent.id}, which is not a physical backup`;
  if (parent.source.serverUuid !== child.source.serverUuid) return `incremental backup ${child.id} (source ${child.source.serverUuid}) applies on ${parent.id} of another source (${parent.source.serverUuid})`;
  if (p.toLsn !== c.fromLsn) return `incremental backup ${child.id} starts at LSN ${c.fromLsn} but ${parent.id} ends at ${p.toLsn}: they do not form a chain`;
  // LSNs only grow on one datadir: a child that ends before its parent was copied from a
  // datadir replaced or restored since, whose older pages the chain does not hold.
  if (BigInt(c.lastLsn) < BigInt(p.lastLsn)) return `incremental backup ${child.id} ends at LSN ${c.lastLsn}, before ${parent.id} (LSN ${p.lastLsn}): the source's datadir went back between them (replaced or restored), so it does not apply on ${parent.id}`;
  return undefined;
}

/**
 * What to do once a server runs on a restored or recovered datadir: the source's next
 * incremental would otherwise apply on the newest chain, which that datadir does not continue
 * (refused only while its redo log is behind the chain's end).
 */
export const TAKE_A_FULL = 'take a full physical backup of it: an incremental applies only on a chain its datadir continues';

/** "full ← incr ← incr": how list shows a chain. */
export function describeChain(ids: readonly string[]): string {
  return ids.join(' ← ');
}

/** A backup as far as its chain goes: `physical.parent` links an incremental to what it applies on. */
export interface ChainLink {
  id: string;
  physical?: { parent: string | null } | null;
}

/**
 * What restoring each backup restores: itself, then (a physical incremental) each backup its
 * chain applies it on, newest first, as far as the given backups reach. A restore test of an
 * incremental is evidence for each of them: it fetched, checked, extracted and applied them all.
 */
export function restoredWith(backups: readonly ChainLink[]): (id: string) => string[] {
  const parentOf = new Map(backups.map((b) => [b.id, b.physical?.parent ?? null]));
  return (id) => {
    const out = [id];
    for (let p = parentOf.get(id) ?? null; p !== null && !out.includes(p); p = parentOf.get(p) ?? null) out.push(p);
    return out;
  };
}

/**
 * Restore tests (or anything naming a backup) listed under every backup a restore of theirs
 * restores, in their given order: a test of an incremental under each backup of its chain.
 * One walk per distinct tested backup, so long chains and many tests stay cheap.
 */
export function byRestoredBackup<T>(items: readonly T[], backupOf: (item: T) => string, backups: readonly ChainLink[]): Map<string, T[]> {
  const restores = restoredWith(backups);
  const walked = new Map<string, string[]>();
  const out = new Map<string, T[]>();
  for (const item of items) {
    const tested = backupOf(item);
    let ids = walked.get(tested);
    if (!ids) walked.set(tested, (ids = restores(tested)));
    for (const id of ids) {
      const list = out.get(id);
      if (list) list.push(item);
      else out.set(id, [item]);
    }
  }
  return out;
}
