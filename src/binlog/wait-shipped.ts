// A content restore test replays shipped binlogs up to the point where the source's
// checksums were taken. That point is in the file the source was writing then, which the
// shipper ships as it grows (partial segments) and whole once it is closed (dbops checksum
// rotates it; otherwise the shipper's own rotation). So the test waits, bounded, for that
// point to be offsite instead of failing on a segment that is seconds away.
import type { Config } from '../config/schema.js';
import type { Repository } from '../repo/repository.js';
import { parseDuration } from '../util/duration.js';
import { log } from '../util/logger.js';

/** binlog.waitForShipping, or the lag budget plus 30 s for the upload. */
export function shippingWaitMs(config: Config): number {
  return config.binlog.waitForShipping ? parseDuration(config.binlog.waitForShipping) : (config.binlog.maxLagSeconds + 30) * 1000;
}

/** True once `file` of `sourceId` is shipped whole, or (given `position`) its partial segments reach it; false after `timeoutMs`. */
export async function waitForShipped(repo: Repository, sourceId: string, file: string, timeoutMs: number, signal?: AbortSignal, position?: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    if ((await repo.binlogs.shippedFiles(sourceId)).includes(file)) return true;
    if (position !== undefined && ((await repo.binlogs.partials(sourceId, file)).parts.at(-1)?.endPosition ?? 0) >= position) return true;
    if (Date.now() >= deadline || signal?.aborted) return false;
    if (!told) {
      log.info({ file, waitSeconds: Math.round(timeoutMs / 1000) }, 'waiting for the binlog holding the checksum point to be shipped');
      told = true;
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))));
  }
}
