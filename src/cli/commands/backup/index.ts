// `dbops backup`: one full backup of the source into the repository; prints the id.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runBackup } from '../../../backup/run-backup.js';
import { sourceConnection } from '../../../config/connections.js';
import { bytes } from '../../format.js';
import { Progress } from '../../progress.js';

export function registerBackup(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backup')
    .description('take a full backup (consistent mysqldump → zstd → age → storage, signed manifest last)')
    .option('--source <url>', 'source server, mysql://user@host:port[?ssl-mode=VERIFY_IDENTITY&ssl-ca=…] (password from DBOPS_SOURCE_PASSWORD_FILE; flags show in ps)')
    .option('--databases <list>', 'comma-separated databases (default: every user database)')
    .option('--no-accounts', 'leave user accounts and grants out')
    .addHelpText('after', '\nExample:\n  DBOPS_SOURCE_URL=mysql://backup@127.0.0.1:3306 DBOPS_SOURCE_PASSWORD_FILE=/run/secrets/backup dbops backup --databases horizn\n  dbops backup --json   # the manifest summary')
    .action(async (opts: { source?: string; databases?: string; accounts: boolean }) => {
      const ctx = await CommandContext.create(globals(), {
        'source.url': opts.source,
        'source.databases': opts.databases,
        ...(opts.accounts === false ? { 'backup.accounts': false } : {}),
      });
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
          signal: ctx.signal,
          onEstimate: (n) => progress.setTotal(n),
          onProgress: (n) => progress.update(n),
        });
        progress.done();
        ctx.print(
          {
            id: manifest.id,
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
