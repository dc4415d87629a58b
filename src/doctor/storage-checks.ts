// The repository: reachable and writable (a probe object is written, read back and
// deleted) and initialised (repo.json verifies). With storage.objectLock also: the bucket
// has Object Lock enabled, and the lock margin covers the time between full backups.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { scheduleIntervalMs } from '../daemon/schedule.js';
import { ObjectLockedError } from '../errors.js';
import { openStorage } from '../storage/open-storage.js';
import { LOCK_BUCKET_HINT, objectLockOptions } from '../storage/object-lock.js';
import type { Storage } from '../storage/storage.js';
import { openRepository, type Repository } from '../repo/repository.js';
import { formatDuration } from '../retention/plan.js';
import { parseDuration } from '../util/duration.js';
import { check, type DoctorCheck } from './check.js';

export async function storageChecks(config: Pick<Config, 'storage' | 'retention' | 'schedule'>): Promise<{ checks: DoctorCheck[]; repo?: Repository }> {
  const url = config.storage.url;
  if (!url) return { checks: [check('storage.reachable', 'storage reachable and writable', 'fail', 'storage.url is not set', 'set DBOPS_STORAGE_URL=s3://bucket/prefix?region=… or file:///path')] };
  const checks: DoctorCheck[] = [];
  let storage: Storage;
  try {
    const objectLock = objectLockOptions(config);
    storage = await openStorage(url, objectLock ? { objectLock } : {});
    const key = `doctor/probe-${randomBytes(8).toString('hex')}`;
    const body = randomBytes(64);
    // Unlocked: the probe is removed at once (only a bucket default retention would hold it).
    await storage.put(key, body, { unlocked: true });
    const back = await storage.getBuffer(key);
    let held = '';
    try {
      await storage.remove(key);
    } catch (err) {
      if (!(err instanceof ObjectLockedError)) throw err;
      held = `; the probe ${key} is held by the bucket's default retention${err.retainUntil ? ` until ${err.retainUntil.toISOString()}` : ''} and stays until then`;
    }
    const gone = held !== '' || (await storage.stat(key)) === undefined;
    if (!back.equals(body)) throw new Error('the probe object read back differs from what was written');
    if (!gone) throw new Error('the probe object is still there after delete');
    checks.push(check('storage.reachable', 'storage reachable and writable', 'ok', `${storage.location}: wrote, read back and deleted a probe object${held}`));
  } catch (err) {
    const lockPerms = config.storage.objectLock ? ', ListBucketVersions, DeleteObjectVersion' : '';
    checks.push(check('storage.reachable', 'storage reachable and writable', 'fail', (err as Error).message, `check the storage URL, credentials (AWS_* / instance role) and that they allow PutObject, GetObject, DeleteObject${lockPerms} and ListBucket`));
    return { checks };
  }
  if (storage.lock) checks.push(...(await objectLockChecks(storage, config)));
  try {
    const repo = await openRepository(storage);
    checks.push(check('storage.repository', 'repository initialised', 'ok', `repository ${repo.config.id}, created ${repo.config.created}`));
    return { checks, repo };
  } catch (err) {
    checks.push(check('storage.repository', 'repository initialised', 'fail', (err as Error).message, 'run "dbops init" once with this storage URL'));
    return { checks };
  }
}

async function objectLockChecks(storage: Storage, config: Pick<Config, 'storage' | 'retention' | 'schedule'>): Promise<DoctorCheck[]> {
  const lock = storage.lock!;
  const out: DoctorCheck[] = [];
  const title = `Object Lock (${lock.mode})`;
  let state;
  try {
    state = await lock.bucketState();
  } catch (err) {
    return [check('storage.objectLock', title, 'fail', (err as Error).message, LOCK_BUCKET_HINT)];
  }
  if (state.enabled === true) {
    out.push(check('storage.objectLock', title, 'ok', `${state.detail}; objects are locked for ${formatDuration(lock.uploadPeriodMs)} (retention.pitrWindow + storage.objectLockMargin) at upload, kept backups longer by prune`));
  } else if (state.enabled === false) {
    out.push(check('storage.objectLock', title, 'fail', `storage.objectLock is ${lock.mode}, but ${state.detail}: every upload would be refused`, LOCK_BUCKET_HINT));
  } else {
    out.push(check('storage.objectLock', title, 'warn', state.detail, 'grant s3:GetBucketObjectLockConfiguration so doctor can check the bucket'));
  }
  const margin = parseDuration(config.storage.objectLockMargin, 'storage.objectLockMargin');
  const interval = scheduleIntervalMs(config.schedule.backup);
  if (margin < interval) {
    out.push(check('storage.objectLockMargin', 'Object Lock margin vs backup interval', 'warn',
      `storage.objectLockMargin ${formatDuration(margin)} is shorter than the interval between full backups (${formatDuration(interval)} from schedule.backup): the full that anchors the PITR window and its binlogs can lose their lock before the window stops needing them`,
      `set DBOPS_STORAGE_OBJECT_LOCK_MARGIN=${formatDuration(interval)} (or more)`));
  }
  return out;
}
