// Builds the throwaway server a restore test runs in, from config: the process driver
// (local mariadbd/mysqld in a temp datadir) or a container whose image defaults to the
// backup source's flavour and major version. Restore tests need no binlog in the sandbox.
// A physical backup's sandbox starts on the datadir its restore prepared (mounted, for a container).
import type { Config } from '../config/schema.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import type { Replayer } from './run-restore-test.js';
import type { Repository } from '../repo/repository.js';
import { pitrReplayer } from '../pitr/replayer.js';
import { waitForShipped } from '../binlog/wait-shipped.js';
import { startSandbox } from '../sandbox/index.js';
import { localRestoreTuningArgs, restoreTuningArgs } from '../sandbox/restore-tuning.js';
import type { Sandbox } from '../sandbox/sandbox.js';

export function sandboxFactory(config: Config['sandbox']): (manifest: BackupManifest, datadir?: string) => Promise<Sandbox> {
  return async (manifest, datadir) => {
    // Tuned for one big load: restore time is the RTO we report.
    if (config.driver === 'process') {
      return startSandbox({ driver: 'process', binlog: false, extraArgs: await localRestoreTuningArgs(), ...(datadir ? { datadir } : {}) });
    }
    const tuning = restoreTuningArgs(manifest.source.flavor, config.memory);
    return startSandbox({
      driver: 'container',
      binlog: false,
      flavor: manifest.source.flavor,
      version: manifest.source.version,
      extraArgs: tuning,
      ...(config.engine ? { engine: config.engine } : {}),
      ...(config.image ? { image: config.image } : {}),
      ...(config.memory ? { memory: config.memory } : {}),
      ...(config.cpus ? { cpus: config.cpus } : {}),
      ...(datadir ? { datadir } : {}),
    });
  };
}

/**
 * Everything a restore test needs besides its options, the same for the CLI and the daemon:
 * the sandbox from config, and binlog replay when the repository has shipped binlogs
 * (without, only checksums taken exactly at the backup's point can be compared). Replay
 * first waits up to `waitForShippingMs` for the file holding the point (see wait-shipped.ts).
 */
export async function restoreTestDependencies(
  repo: Repository,
  identityFile: string,
  config: Config['sandbox'],
  waitForShippingMs = 0,
): Promise<{ startSandbox: (manifest: BackupManifest, datadir?: string) => Promise<Sandbox>; replay?: Replayer }> {
  const pitr = (await repo.binlogs.sources()).length > 0 ? pitrReplayer(repo, identityFile) : undefined;
  const replay: Replayer | undefined = pitr && (async (request) => {
    await waitForShipped(repo, request.manifest.source.serverUuid, request.to.binlogFile, waitForShippingMs, request.signal, request.to.binlogPosition);
    return pitr(request);
  });
  return { startSandbox: sandboxFactory(config), ...(replay ? { replay } : {}) };
}
