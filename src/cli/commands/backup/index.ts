// `dbops backup`: one backup of the source into the repository, logical (a dump) or physical
// (mariadb-backup's copy of the datadir, full or incremental); prints the id.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runBackup } from '../../../backup/run-backup.js';
import { sourceConnection } from '../../../config/connections.js';
import { bytes } from '../../format.js';
import { Progress } from '../../progress.js';
import { UsageError } from '../../../errors.js';

export function registerBackup(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backup')
    .description('take a backup: logical (consistent dump) or physical (mariadb-backup of the whole server, full or --incremental) → zstd → age → storage, signed manifest last')
    .option('--source <url>', 'source server, mysql://user@host:port[?ssl-mode=VERIFY_IDENTITY&ssl-ca=…] (password from DBOPS_SOURCE_PASSWORD_FILE; flags show in ps)')
    .option('--databases <list>', 'comma-separated databases (default: every user database)')
    .option('--no-accounts', 'leave user accounts and grants out (logical)')
    .option('--kind <kind>', 'logical or physical (default: backup.kind, else logical)')
    .option('--incremental', 'physical: copy only the pages changed since the newest physical backup of this source, and apply on it')
    .option('--datadir <dir>', "physical: the source's datadir as this host sees it (default: the server's @@datadir)")
    .addHelpText(
      'after',
      '\nExamples:\n  DBOPS_SOURCE_URL=mysql://backup@127.0.0.1:3306 DBOPS_SOURCE_PASSWORD_FILE=/run/secrets/backup dbops backup --databases horizn\n  dbops backup --json   # the manifest summary\n  dbops backup --kind physical                # on the database host (reads the datadir)\n  dbops backup --kind physical --incremental  # pages changed since the newest physical backup',
    )
    .action(async (opts: { source?: string; databases?: string; accounts: boolean; kind?: string; incremental?: boolean; datadir?: string }) => {
      const ctx = await CommandContext.create(globals(), {
        'source.url': opts.source,
        'source.databases': opts.databases,
        'backup.kind': opts.kind,
        'backup.datadir': opts.datadir,
        ...(opts.accounts === false ? { 'backup.accounts': false } : {}),
      });
      const kind = ctx.config.backup.kind;
      if (opts.incremental && kind !== 'physical') throw new UsageError('--incremental takes a physical backup: add --kind physical (or set backup.kind: physical)');
      if (kind === 'physical' && opts.databases !== undefined) throw new UsageError('a physical backup copies every database of the server: leave out --databases, or take a logical backup (--kind logical)');
      if (kind === 'logical' && opts.datadir !== undefined) throw new UsageError('--datadir is for physical backups: add --kind physical');
      const repo = await ctx.writableRepository();
      const source = sourceConnection(ctx.config);
      const progress = new Progress('backup');
      try {
        const manifest = await runBackup({
          repo,
          source,
          recipients: repo.recipients,
          databases: ctx.config.source.databases,
          compressionLevel: ctx.config.compression.level,
          compressionThreads: ctx.config.compression.threads,
          includeAccounts: ctx.config.backup.accounts,
          kind,
          incremental: opts.incremental ?? false,
          ...(ctx.config.backup.datadir !== undefined ? { datadir: ctx.config.backup.datadir } : {}),
          signal: ctx.signal,
          onEstimate: (n) => progress.setTotal(n),
          onProgress: (n) => progress.update(n),
        });
        progress.done();
        ctx.print(
          {
            id: manifest.id,
            kind: manifest.kind,
            ...(manifest.physical ? { physical: manifest.physical } : {}),
            startedAt: manifest.startedAt,
            completedAt: manifest.completedAt,
            source: manifest.source,
            consistentPoint: manifest.consistentPoint,
            databases: manifest.databases,
            parts: manifest.parts.length,
            totals: manifest.totals,
            warnings: manifest.warnings,
          },
          () => (process.stdout.isTTY ? `${manifest.id}  (${bytes(manifest.totals.rawBytes)} raw → ${bytes(manifest.totals.storedBytes)} stored)` : manifest.id),
        );
      } finally {
        progress.done();
        ctx.releaseSignals();
      }
    });
}
