// `dbops status`: the facts behind /healthz for people and scripts — backups, newest
// age, shipping lag per source, the recoverable window, the last restore test and the
// daemon's jobs (a job whose last run failed is unhealthy). Exit 1 when unhealthy, with the reasons.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { collectStatus, evaluateHealth, healthLimits, jobReasons } from '../../../daemon/health.js';
import { defaultStatePath } from '../../../daemon/run-daemon.js';
import { loadState } from '../../../daemon/state-file.js';
import { OperationError } from '../../../errors.js';
import { bytes } from '../../format.js';

export function registerStatus(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('health facts: backups, newest age, binlog shipping lag, recoverable window, last restore test (exit 1 when unhealthy)')
    .addHelpText('after', '\nExample:\n  dbops status\n  dbops status --json | jq .reasons')
    .action(async () => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      const limits = healthLimits(ctx.config);
      const facts = await collectStatus(repo, limits);
      const statePath = defaultStatePath(ctx.config);
      const jobs = existsSync(statePath) ? (await loadState(statePath)).jobs : {};
      const reasons = [...evaluateHealth(facts, limits), ...jobReasons(jobs)];
      ctx.print({ healthy: reasons.length === 0, reasons: reasons.map((r) => r.message), ...facts, jobs }, () => {
        const b = facts.backups.newest;
        const lines = [
          `backups: ${facts.backups.count}${facts.backups.invalid ? ` (+${facts.backups.invalid} that do not verify)` : ''}, ${bytes(facts.backups.storedBytesTotal)} stored (logical ${facts.backups.byKind.logical.count}, physical ${facts.backups.byKind.physical.count}${facts.backups.byKind.physical.incremental ? ` of which ${facts.backups.byKind.physical.incremental} incremental` : ''})`,
          `newest: ${b ? `${b.id}, ${b.ageSeconds} s old, ${bytes(b.rawBytes)} raw → ${bytes(b.storedBytes)} stored${b.pointInTimeRecoveryProblem ? `; point-in-time recovery impossible: ${b.pointInTimeRecoveryProblem}` : ''}` : 'none'}`,
          ...facts.sources.map((s) => `binlogs ${s.serverUuid}: ${s.files} files, lag ${s.lagSeconds ?? '-'} s, newest event ${s.newestEventTime ?? '-'}`),
          `recoverable window: ${facts.window.start ?? '-'} … ${facts.window.end ?? '-'}${facts.window.gaps.length ? ` (${facts.window.gaps.length} gap(s))` : ''}`,
          `last restore test: ${facts.restoreTest ? `${facts.restoreTest.id} ${facts.restoreTest.verdict} at depth ${facts.restoreTest.depth}, RTO ${facts.restoreTest.rtoSeconds ?? '-'} s, ${facts.restoreTest.ageSeconds} s ago` : 'none'}`,
          ...(['integrity', 'restore', 'content'] as const).map((d) => {
            const t = facts.tests.newestByDepth[d];
            return `  newest ${d} test: ${t ? `${t.reportId} ${t.outcome} (backup ${t.backupId}, ${t.at})` : 'none'}`;
          }),
          `coverage: ${facts.tests.coverage.backups.filter((b) => b.newestContentPass).length} of ${facts.tests.coverage.backups.length} backups passed a content-depth test${facts.tests.coverage.untested.length ? `; overdue (> ${facts.tests.coverage.maxUntestedDays} days): ${facts.tests.coverage.untested.join(', ')}` : ''}`,
          `evidence log: ${facts.evidence.entries} entries${facts.evidence.problems.length ? `, DOES NOT VERIFY: ${facts.evidence.problems[0]}` : ', chain verifies'}`,
          ...Object.entries(jobs).map(([name, s]) => `job ${name}: last ${s.outcome ?? 'never run'}${s.lastEnd ? ` at ${s.lastEnd}` : ''}${s.error ? ` (${s.error})` : ''}`),
          reasons.length ? `UNHEALTHY:\n${reasons.map((r) => `  - ${r.message}`).join('\n')}` : 'healthy',
        ];
        return lines.join('\n');
      });
      if (reasons.length) throw new OperationError(`unhealthy: ${reasons.map((r) => r.message).join('; ')}`);
    });
}
