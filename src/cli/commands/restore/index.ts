// `dbops restore`: a backup (whole, one database, or one table) into a target server.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runRestore } from '../../../restore/run-restore.js';
import { checkIdentityFile } from '../../../crypto/age.js';
import { restoreTargetConnection } from '../../../config/connections.js';
import { withEvidence } from '../../../repo/evidence-log.js';
import { withPartialTarget } from '../../../restore/partial-target.js';
import { planRestore } from '../../../restore/select-parts.js';
import { Progress } from '../../progress.js';

interface RestoreFlags {
  target?: string;
  database?: string;
  table?: string;
  intoSchema?: string;
  force?: boolean;
  binlog?: boolean;
  accounts?: boolean;
  parallel?: string;
  skipDamaged?: boolean;
  keepPartial?: boolean;
}

export function registerRestore(program: Command, globals: () => GlobalOptions): void {
  program
    .command('restore')
    .description('restore a backup into a target server (refuses a non-empty target unless --force)')
    .argument('[backup]', 'backup id, unique prefix, or "latest"', 'latest')
    .option('--target <url>', 'target server, mysql://user@host:port (or DBOPS_RESTORE_TARGET_URL; password from DBOPS_RESTORE_TARGET_PASSWORD_FILE)')
    .option('--database <name>', 'restore only this database')
    .option('--table <db.table>', 'restore only this table')
    .option('--into-schema <name>', 'restore under another database name (side by side); triggers are left out')
    .option('--force', 'allow restoring over existing tables')
    .option('--binlog', 'write the restore into the target binlog (default: off for speed)')
    .option('--accounts', 'also apply user accounts and grants from the backup')
    .option('--parallel <n>', 'tables loaded at once')
    .option('--skip-damaged', 'with latest: use the newest backup whose manifest verifies instead of failing (exit 3) on a damaged newest one')
    .option('--keep-partial', 'when the restore fails, leave what it created on the target (default: drop it)')
    .addHelpText(
      'after',
      '\nExamples:\n  DBOPS_RESTORE_TARGET_PASSWORD_FILE=./target.pw DBOPS_AGE_IDENTITY_FILE=./keys/age.key dbops restore latest --target mysql://root@127.0.0.1:3307\n  dbops restore latest --target … --table horizn.sites --into-schema scratch',
    )
    .action(async (ref: string, opts: RestoreFlags) => {
      const ctx = await CommandContext.create(globals(), { 'restore.parallel': opts.parallel, 'restore.targetUrl': opts.target });
      const target = restoreTargetConnection(ctx.config);
      const identityFile = await checkIdentityFile(ctx.config.age.identityFile);
      const repo = await ctx.repositoryForEvidence();
      const manifest = await repo.backups.resolve(ref, { skipDamaged: opts.skipDamaged ?? false });
      const scope = {
        ...(opts.database !== undefined ? { database: opts.database } : {}),
        ...(opts.table !== undefined ? { table: opts.table } : {}),
        ...(opts.intoSchema !== undefined ? { intoSchema: opts.intoSchema } : {}),
      };
      // What a failed restore created is dropped again (unless --keep-partial), and its message says what is left.
      const partial = { target, operation: 'restore' as const, databases: planRestore(manifest, scope).createDatabases.map((d) => d.name), keepPartial: opts.keepPartial ?? false, binlog: opts.binlog ?? false, backupId: manifest.id };
      const progress = new Progress('restore');
      try {
        const result = await withEvidence(repo, { action: 'restore', subject: manifest.id }, () => withPartialTarget(partial, (p) => runRestore({
          repo,
          manifest,
          target,
          identityFile,
          ...scope,
          force: opts.force ?? false,
          binlog: opts.binlog ?? false,
          accounts: opts.accounts ?? false,
          parallel: ctx.config.restore.parallel,
          signal: ctx.signal,
          onPart: p.onPart,
          onTotal: (n) => progress.setTotal(n),
          onProgress: (n) => progress.update(n),
        })), (r) => ({
          outcome: 'ok',
          summary: `restored backup ${manifest.id} (${r.databases.join(', ')}) into ${target.socket ?? `${target.host}:${target.port}`}`,
          details: { databases: r.databases, parts: r.parts.length, seconds: r.seconds, scope: { database: opts.database ?? null, table: opts.table ?? null, intoSchema: opts.intoSchema ?? null } },
        }));
        progress.done();
        ctx.print(result, () => `restored backup ${manifest.id} (${result.parts.length} parts, databases ${result.databases.join(', ')}) in ${result.seconds.toFixed(1)} s${result.strippedTriggers ? `; ${result.strippedTriggers} trigger block(s) left out of the renamed copy` : ''}`);
      } finally {
        progress.done();
        ctx.releaseSignals();
      }
    });
}
