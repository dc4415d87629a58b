// The base-restore step of a point-in-time recovery from a physical backup: its chain restored
// and prepared into the (empty) datadir, a throwaway server started on it (socket and loopback
// only, no binary log), the replay run into that server exactly as into a logical base's
// target, then our account dropped and the server shut down cleanly, leaving the datadir at the
// recovered point for the real server to start on. A failure empties the datadir again unless
// --keep-partial.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Repository } from '../repo/repository.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import type { MysqlConn } from '../mysql/connection-url.js';
import { withConnection } from '../mysql/client.js';
import { restoreDatadir, type PhysicalRestoreResult } from '../restore/physical-restore.js';
import { startSandboxServer } from '../sandbox/process-server.js';
import { SANDBOX_ACCOUNT } from '../sandbox/sandbox-account.js';
import { localRestoreTuningArgs } from '../sandbox/restore-tuning.js';
import { log } from '../util/logger.js';

export interface PhysicalBaseOptions {
  repo: Repository;
  manifest: BackupManifest;
  identityFile: string;
  datadir: string;
  keepPartial: boolean;
  signal?: AbortSignal;
  onTotal?: (rawBytes: number) => void;
  onProgress?: (rawBytes: number) => void;
  /** Seconds per phase are added here: restore (fetch + prepare), start. */
  phases: Record<string, number>;
}

export async function withPhysicalBase<T>(o: PhysicalBaseOptions, replay: (conn: MysqlConn) => Promise<T>): Promise<{ result: T; restored: PhysicalRestoreResult }> {
  const t0 = performance.now();
  const restored = await restoreDatadir({
    repo: o.repo,
    manifest: o.manifest,
    identityFile: o.identityFile,
    datadir: o.datadir,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onTotal ? { onTotal: o.onTotal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  o.phases.restore = (performance.now() - t0) / 1000;
  let server: Awaited<ReturnType<typeof startSandboxServer>> | undefined;
  try {
    const t1 = performance.now();
    server = await startSandboxServer({ binlog: false, datadir: restored.datadir, extraArgs: await localRestoreTuningArgs() });
    o.phases.start = (performance.now() - t1) / 1000;
    const result = await replay(server.conn);
    // The datadir goes to its real server without a trace of ours.
    await withConnection(server.conn, async (db) => {
      await db.exec('SET SESSION sql_log_bin = 0');
      await db.exec(`DROP USER IF EXISTS '${SANDBOX_ACCOUNT}'@'localhost', '${SANDBOX_ACCOUNT}'@'127.0.0.1'`);
    });
    await server.stop();
    server = undefined;
    return { result, restored };
  } catch (err) {
    await server?.kill();
    if (o.keepPartial) log.warn({ datadir: restored.datadir }, `the recovery failed; --keep-partial: ${restored.datadir} holds the restored base and whatever the replay applied`);
    else await emptyDir(restored.datadir);
    throw err;
  }
}

async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, entry), { recursive: true, force: true });
}
