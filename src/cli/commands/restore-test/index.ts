// `dbops restore-test`: restore into a throwaway server, check, write a signed report.
// Exit by verdict: 0 pass, 3 fail (a check failed), 1 error (the test could not run),
// 130 interrupted (SIGINT/SIGTERM; the report and its evidence entry are still written).
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runRestoreTest, type Depth } from '../../../restore-test/run-restore-test.js';
import { restoreTestDependencies } from '../../../restore-test/sandbox-factory.js';
import { shippingWaitMs } from '../../../binlog/wait-shipped.js';
import { checkIdentityFile } from '../../../crypto/age.js';
import { OperationError, TestInterruptedError, UsageError, VerificationError } from '../../../errors.js';
import { seconds } from '../../../report/html.js';

interface Flags {
  backup: string;
  depth: string;
  sandbox?: string;
  skipDamaged?: boolean;
}

export function registerRestoreTest(program: Command, globals: () => GlobalOptions): void {
  program
    .command('restore-test')
    .description('prove a backup restores: into a throwaway server, checked, with a signed report')
    .option('--backup <ref>', 'latest, random (catches bit rot in older backups), untested (the backup coverage needs next: oldest without a content-depth pass) or a backup id', 'latest')
    .option('--depth <depth>', 'integrity | restore | content', 'content')
    .option('--skip-damaged', 'with latest: use the newest backup whose manifest verifies instead of failing (exit 3) on a damaged newest one')
    .option('--sandbox <driver>', 'process (local mariadbd in a temp datadir) | container (default: sandbox.driver)')
    .addHelpText('after', '\nExamples:\n  dbops restore-test                      # latest backup, content equality\n  dbops restore-test --backup random --depth restore\n\nExit codes (the verdict): 0 pass, 3 fail, 1 error (could not run), 130 interrupted.')
    .action(async (opts: Flags) => {
      if (!['integrity', 'restore', 'content'].includes(opts.depth)) throw new UsageError(`--depth must be integrity, restore or content, not "${opts.depth}"`);
      const ctx = await CommandContext.create(globals(), { 'sandbox.driver': opts.sandbox });
      const repo = await ctx.writableRepository();
      const identityFile = await checkIdentityFile(ctx.config.age.identityFile);
      const deps = await restoreTestDependencies(repo, identityFile, ctx.config.sandbox, shippingWaitMs(ctx.config));
      try {
        const { report, keys } = await runRestoreTest({ repo, identityFile, backup: opts.backup, skipDamaged: opts.skipDamaged ?? false, maxUntestedDays: ctx.config.verify.maxUntestedDays, depth: opts.depth as Depth, ...deps, parallel: ctx.config.restore.parallel, signal: ctx.signal });
        const failed = report.checks.filter((c) => !c.ok);
        ctx.print({ ...report, stored: keys }, () =>
          [
            `restore test ${report.id}: ${report.verdict.toUpperCase()} (backup ${report.backup.id}, depth ${report.depth}, RTO ${seconds(report.rtoSeconds)}, RPO ${seconds(report.rpoSeconds)}, backup age ${seconds(report.backupAgeSeconds)})`,
            ...failed.map((c) => `  FAILED ${c.name} ${c.object ?? ''}: ${c.detail ?? ''}`),
            ...(report.error ? [`  error: ${report.error}`] : []),
            `report: ${keys.jsonKey}`,
          ].join('\n'),
        );
        if (report.verdict === 'fail') throw new VerificationError(`restore test failed: ${failed.length} check(s), first: ${failed[0]!.name} ${failed[0]!.object ?? ''} ${failed[0]!.detail ?? ''}`.trim(), failed[0]!.object);
        if (report.verdict === 'error') throw new OperationError(`restore test could not complete: ${report.error}`);
        if (report.verdict === 'interrupted') throw new TestInterruptedError(`restore test ${report.id} ${report.error ?? 'interrupted'}; verdict INTERRUPTED recorded`);
      } finally {
        ctx.releaseSignals();
      }
    });
}
