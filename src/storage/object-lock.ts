// S3 Object Lock (storage.objectLock: governance | compliance), so that not even a stolen
// credential deletes a backup before retention would.
//
// Design. An object's "retention class" is the shortest time the retention rules are
// sure to keep it, known at the moment the lock is set:
//
//  * At upload nobody knows yet whether a backup will become a weekly or a monthly, so
//    EVERY object (backup parts and manifests, binlog segments and their manifests, gap
//    records, reports, repo.json) gets retain-until = upload time + retention.pitrWindow +
//    storage.objectLockMargin. That is the minimum each of them is needed for: the window
//    needs its binlogs and the full they start from, and the margin (default 1d) covers the
//    time from one full backup to the next, during which the older full is still the
//    window's anchor. Set the margin to at least the interval between full backups (doctor
//    warns otherwise).
//  * `dbops prune --apply` raises retain-until on the backups it keeps, to the earliest time
//    the same rules could let them go (plan.ts `keepAtLeastUntil`, keep-until.ts): a daily,
//    weekly or monthly to the start of the first period in which enough newer periods
//    with a backup could exist for it to drop out of its count; a full that the PITR
//    window needs to the time the next full could take over its role. The lock therefore
//    never outlives what the policy keeps, and prune never has to wait for one of its own
//    extensions. A backup under the legal-hold label gets an S3 legal hold (no end date;
//    lifting it is a deliberate act by someone allowed s3:PutObjectLegalHold). repo.json,
//    never pruned and needed to read any backup, follows the longest promise (at least
//    now + the upload period) and is held while any backup is.
//  * A delete is refused while a version is retained. In lock mode `remove` deletes every
//    version of the key by version id (a plain DELETE would only add a delete marker and
//    leave the bytes, billed, forever) and a refusal surfaces as ObjectLockedError. Prune
//    treats that as "not expired yet": it keeps the object, notes it and carries on
//    (exit 0); the next prune after the date removes it. Commit markers go first (a
//    backup's manifest, a segment's manifest) and are written last, so they are locked at
//    least as long as their data: a locked manifest keeps its whole backup, never a
//    manifest pointing at deleted data.
//
// Consequences: every object lives at least pitrWindow + margin (a daily that falls out of
// its count earlier waits for its lock); an unfinished backup's parts stay until their lock
// ends (prune removes them then, as debris); the shipper's heartbeat and doctor's probe are
// written unlocked (they are rewritten or removed at once). The lock protects object
// versions, not names: a thief can still hide objects behind delete markers (recover by
// deleting the markers) or write new versions, and pinning signing.publicKeyFile keeps a
// forged repo.json from being believed.
//
// Governance vs compliance is passed through as ObjectLockMode. dbops never sends
// x-amz-bypass-governance-retention, so for dbops both behave the same; governance lets a
// principal with s3:BypassGovernanceRetention remove objects early (a break-glass role,
// never the backup host's), compliance lets nobody, not even the account root.
import type { Config } from '../config/schema.js';
import { parseDuration } from '../util/duration.js';
import type { LockMode } from './storage.js';

export interface ObjectLockOptions {
  mode: LockMode;
  /** retain-until at upload = upload time + this (pitrWindow + objectLockMargin). */
  uploadPeriodMs: number;
}

/** The lock settings of a config, or undefined when storage.objectLock is unset. */
export function objectLockOptions(config: Pick<Config, 'storage' | 'retention'>): ObjectLockOptions | undefined {
  const mode = config.storage.objectLock;
  if (!mode) return undefined;
  const window = parseDuration(config.retention.pitrWindow, 'retention.pitrWindow');
  const margin = parseDuration(config.storage.objectLockMargin, 'storage.objectLockMargin');
  return { mode, uploadPeriodMs: window + margin };
}

/** S3's spelling of a mode. */
export function s3LockMode(mode: LockMode): 'GOVERNANCE' | 'COMPLIANCE' {
  return mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE';
}

/** The one message for Object Lock on a local repository (config validation and openStorage). */
export const FILE_LOCK_PROBLEM = 'storage.objectLock needs an s3:// repository (a file:// directory cannot lock objects): unset storage.objectLock or use an S3 bucket with Object Lock';

/** How to get a bucket that can lock objects (for error messages and doctor). */
export const LOCK_BUCKET_HINT =
  'use a bucket with Object Lock: create it with the lock on (aws s3api create-bucket --object-lock-enabled-for-bucket …; MinIO: mc mb --with-lock …), or on AWS enable versioning and then aws s3api put-object-lock-configuration --object-lock-configuration ObjectLockEnabled=Enabled; or unset storage.objectLock';
