// One shipper per spool directory: two streamers writing the same files would tear
// them. A pid file, taken over when its owner is gone (e.g. after kill -9).
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { isProcessAlive } from '../util/process-alive.js';

export async function acquireSpoolLock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return async () => {
        await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
        throw new UsageError(`another binlog shipper (pid ${pid}) is using spool directory ${dir}: stop it, or give this one its own binlog.spoolDir`);
      }
      await rm(path, { force: true });
    }
  }
  throw new UsageError(`cannot lock spool directory ${dir}: remove ${path} if no shipper is running`);
}
