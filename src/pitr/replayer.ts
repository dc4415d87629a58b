// The restore-test Replayer backed by the PITR engine: replays the shipped binlogs of the
// backup's source from its consistent point to the checksum point, into the sandbox.
import type { Repository } from '../repo/repository.js';
import type { Replayer } from '../restore-test/run-restore-test.js';
import { replayTo } from './run-pitr.js';

export function pitrReplayer(repo: Repository, identityFile: string): Replayer {
  return async ({ manifest, to, target, signal }) => {
    const { plan } = await replayTo({ repo, identityFile, baseId: manifest.id, sourceId: manifest.source.serverUuid, to, conn: target, ...(signal ? { signal } : {}) });
    return { reached: { binlogFile: plan.reached.file, binlogPosition: plan.reached.position, gtidSet: plan.reached.gtidSet, time: plan.reached.time } };
  };
}
