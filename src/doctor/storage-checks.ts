// The repository: reachable and writable (a probe object is written, read back and
// deleted) and initialised (repo.json verifies).
import { randomBytes } from 'node:crypto';
import { openStorage } from '../storage/open-storage.js';
import { openRepository, type Repository } from '../repo/repository.js';
import { check, type DoctorCheck } from './check.js';

export async function storageChecks(url: string | undefined): Promise<{ checks: DoctorCheck[]; repo?: Repository }> {
  if (!url) return { checks: [check('storage.reachable', 'storage reachable and writable', 'fail', 'storage.url is not set', 'set DBOPS_STORAGE_URL=s3://bucket/prefix?region=… or file:///path')] };
  const checks: DoctorCheck[] = [];
  let storage;
  try {
    storage = openStorage(url);
    const key = `doctor/probe-${randomBytes(8).toString('hex')}`;
    const body = randomBytes(64);
    await storage.put(key, body);
    const back = await storage.getBuffer(key);
    await storage.remove(key);
    const gone = (await storage.stat(key)) === undefined;
    if (!back.equals(body)) throw new Error('the probe object read back differs from what was written');
    if (!gone) throw new Error('the probe object is still there after delete');
    checks.push(check('storage.reachable', 'storage reachable and writable', 'ok', `${storage.location}: wrote, read back and deleted a probe object`));
  } catch (err) {
    checks.push(check('storage.reachable', 'storage reachable and writable', 'fail', (err as Error).message, 'check the storage URL, credentials (AWS_* / instance role) and that they allow PutObject, GetObject, DeleteObject and ListBucket'));
    return { checks };
  }
  try {
    const repo = await openRepository(storage);
    checks.push(check('storage.repository', 'repository initialised', 'ok', `repository ${repo.config.id}, created ${repo.config.created}`));
    return { checks, repo };
  } catch (err) {
    checks.push(check('storage.repository', 'repository initialised', 'fail', (err as Error).message, 'run "dbops init" once with this storage URL'));
    return { checks };
  }
}
