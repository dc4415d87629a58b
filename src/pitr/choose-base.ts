// The full backup a recovery starts from. By default the newest whose consistent point is
// not after the target; `--base previous` the one before that newest candidate; `--base ID`
// that backup. A newer backup whose manifest does not verify is never stepped over in
// silence: it might have been the base, so the refusal names it and the base to use
// instead. Whatever is chosen, the previous good base (older, manifest verified, an
// unbroken chain of shipped binlogs to the target) is worked out too, so that a base found
// damaged later, while it is restored, can be answered with the exact flag that avoids it.
import type { Repository } from '../repo/repository.js';
import type { ListedBackup } from '../repo/backup-store.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import type { ChainSegment } from '../binlog/segment-manifest.js';
import type { GapRecord } from '../binlog/gap-record.js';
import { idTime, isBackupId } from '../storage/layout.js';
import { UsageError, VerificationError } from '../errors.js';
import { comparePoint, cp, describeWindows, formatPoint, recoverableWindows, selectChain, type ChainPoint } from './chain.js';
import { describeTarget, type PitrTarget } from './target-spec.js';

export interface BaseRef {
  id: string;
  completedAt: string;
}

export interface BaseChoice {
  base: BackupManifest;
  /** The newest good base older than `base` whose chain reaches the target; null when none. */
  previous: BaseRef | null;
  /** The responder named the base (--base ID): refusals about its chain name it. */
  given: boolean;
  notes: string[];
}

export interface ChooseBaseOptions {
  repo: Repository;
  listed: ListedBackup[];
  /** Verified backups of the source that carry binlog coordinates. */
  candidates: BackupManifest[];
  sourceId: string;
  target: PitrTarget;
  stop: ChainPoint;
  segments: ChainSegment[];
  gaps: GapRecord[];
  /** `previous`, a backup id or a unique prefix (from --base). */
  ref?: string;
  /** This exact backup (restore tests replay onto the backup they restored). */
  baseId?: string;
}

export async function chooseBase(o: ChooseBaseOptions): Promise<BaseChoice> {
  const target = describeTarget(o.target);
  const fitting = o.candidates.filter((b) => comparePoint(cp(b), o.stop) <= 0).sort((a, b) => comparePoint(cp(b), cp(a)) || b.id.localeCompare(a.id));
  const previousOf = (id: string): BaseRef | null => {
    const p = fitting.find((b) => b.id < id && reaches(o, b));
    return p ? { id: p.id, completedAt: p.completedAt } : null;
  };
  const flagFor = (p: BaseRef | null): string => (p ? `the previous good base is ${p.id} (completed ${p.completedAt}): recover from it with --base ${p.id}` : `no older base reaches ${target}; ${describeWindows(recoverableWindows(o.segments, o.candidates))}`);

  if (o.baseId !== undefined || (o.ref !== undefined && o.ref !== 'previous')) {
    let base: BackupManifest;
    try {
      base = o.candidates.find((b) => b.id === o.baseId) ?? (o.baseId !== undefined ? await o.repo.backups.read(o.baseId) : await o.repo.backups.resolve(o.ref!));
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      const ids = await o.repo.backups.ids();
      const id = o.baseId ?? ids.find((x) => x === o.ref) ?? ids.find((x) => x.startsWith(o.ref!)) ?? o.ref!;
      throw new VerificationError(`base backup ${id} does not verify (${err.message}); ${flagFor(previousOf(id))}`, err.object, { cause: err });
    }
    if (!o.candidates.some((b) => b.id === base.id)) throw new UsageError(`backup ${base.id} has no binlog coordinates of source ${o.sourceId}: it cannot be a PITR base`);
    if (comparePoint(cp(base), o.stop) > 0) throw new UsageError(`the target ${formatPoint(o.stop)} is before backup ${base.id}'s consistent point ${formatPoint(cp(base))}`);
    return { base, previous: previousOf(base.id), given: o.ref !== undefined, notes: [] };
  }

  // A damaged manifest newer than the newest good base may have been the base: its backup
  // started before the last event of the file the target is in.
  const stopSegment = o.segments.find((s) => s.file === o.stop.file);
  const latestStart = stopSegment ? Date.parse(stopSegment.lastEventTime) : Infinity;
  const damaged = o.listed.filter((b) => b.problem !== undefined && (!fitting[0] || b.id > fitting[0].id) && (!isBackupId(b.id) || idTime(b.id).getTime() <= latestStart)).sort((a, b) => b.id.localeCompare(a.id));

  if (o.ref === 'previous') {
    const newest = damaged[0]?.id ?? fitting[0]?.id;
    const previous = newest === undefined ? undefined : damaged.length ? fitting[0] : fitting[1];
    if (!previous) throw new UsageError(`--base previous: no base fits ${target} before ${newest ?? 'the newest backup'}; ${describeWindows(recoverableWindows(o.segments, o.candidates))}`);
    return { base: previous, previous: previousOf(previous.id), given: true, notes: [`--base previous: starting from backup ${previous.id}, not the newest, ${newest}`] };
  }

  const newestDamaged = damaged[0];
  if (newestDamaged) {
    const good = fitting[0] && reaches(o, fitting[0]) ? { id: fitting[0].id, completedAt: fitting[0].completedAt } : previousOf(fitting[0]?.id ?? newestDamaged.id);
    throw new VerificationError(
      `backup ${newestDamaged.id} does not verify (${newestDamaged.problem}): it may be the base for ${target} and is not stepped over in silence; ${good ? `investigate it, or recover from the newest base that verifies, ${good.id} (completed ${good.completedAt}), with --base ${good.id}` : `investigate it (no other base reaches ${target})`}`,
      undefined,
    );
  }
  const base = fitting[0];
  if (!base) {
    const oldest = [...o.candidates].sort((a, b) => comparePoint(cp(a), cp(b)))[0];
    throw new UsageError(
      oldest
        ? `the target (${target} = ${formatPoint(o.stop)}) is before the oldest backup of this source (${oldest.id}, consistent point ${formatPoint(cp(oldest))} at ${oldest.completedAt}): no full backup to start from`
        : `no full backup of source ${o.sourceId} with binlog coordinates: run "dbops backup" (point-in-time recovery starts from one)`,
    );
  }
  return { base, previous: previousOf(base.id), given: false, notes: [] };
}

/** The chain from the backup's consistent point to the stop has every file. */
function reaches(o: Pick<ChooseBaseOptions, 'segments' | 'gaps' | 'candidates' | 'stop'>, b: BackupManifest): boolean {
  try {
    selectChain(o.segments, o.gaps, o.candidates, cp(b), o.stop);
    return true;
  } catch (err) {
    if (err instanceof UsageError) return false;
    throw err;
  }
}

/** The message a damaged base gets when it is found while it is restored. */
export function baseFailedMessage(baseId: string, damage: string, previous: BaseRef | null, target: string): string {
  return `base backup ${baseId} failed verification (${damage}); ${previous ? `the previous good base is ${previous.id} (completed ${previous.completedAt}): recover from it with --base ${previous.id}` : `no older base reaches ${target}`}`;
}
