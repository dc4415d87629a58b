// `dbops prune [--apply]`: retention (GFS counts + the PITR window + legal hold, per
// database) and debris removal. A dry run unless --apply: prints what would go, what
// stays and why, and which backup covers each database.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { requireSetting } from '../../../config/load-config.js';
import { retentionPolicy } from '../../../retention/policy.js';
import { runPrune, type PruneResult } from '../../../retention/prune.js';
import { formatDuration } from '../../../retention/plan.js';
import type { RetentionPolicy } from '../../../retention/types.js';
import { bytes } from '../../format.js';
import { parseConnectionUrl } from '../../../mysql/connection-url.js';
import { ACCOUNTS_LABEL } from '../../../retention/scopes.js';

export function registerPrune(program: Command, globals: () => GlobalOptions): void {
  program
    .command('prune')
    .description('apply retention: GFS counts for full backups, keep everything the PITR window needs, remove debris (dry run unless --apply)')
    .option('--apply', 'delete what the plan says (default: only print the plan)')
    .addHelpText(
      'after',
      '\nRules (config retention.*), per database: the newest good backup that holds it, the newest backup holding it of each of the\nlast daily/weekly/monthly periods, and a backup holding it + the binlogs that reach every point of pitrWindow are never\ndeleted; nor are backups under the legal-hold label. With source.url set, databases no backup holds are named.\nWith storage.objectLock, --apply also raises the lock of kept backups; objects still locked are left for a later prune.\n\nExample:\n  dbops prune            # the plan\n  dbops prune --apply --json',
    )
    .action(async (opts: { apply?: boolean }) => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      const policy = retentionPolicy(ctx.config);
      const source = ctx.config.source.url ? parseConnectionUrl(ctx.config.source.url) : undefined;
      try {
        const storageUrl = requireSetting(ctx.config.storage.url, 'storage.url', '--storage');
        const result = await runPrune({ repo, storageUrl, policy, apply: opts.apply ?? false, signal: ctx.signal, ...(source ? { source } : {}) });
        const objectLock = repo.storage.lock?.mode ?? null;
        ctx.print({ dryRun: !(opts.apply ?? false), policy, objectLock, ...result }, () => human(result, policy, opts.apply ?? false, objectLock !== null));
      } finally {
        ctx.releaseSignals();
      }
    });
}

function human(r: PruneResult, policy: RetentionPolicy, applied: boolean, locking: boolean): string {
  const p = r.plan;
  const lines = [`retention: daily ${policy.daily}, weekly ${policy.weekly}, monthly ${policy.monthly}; every point since ${p.windowStart} (${formatDuration(policy.pitrWindowMs)} window) stays restorable`];
  const lockNote = (b: PruneResult['plan']['backups'][number]): string => {
    if (!locking || b.action !== 'keep') return '';
    const until = b.keepAtLeastUntil && b.keepAtLeastUntil > p.now ? `rules keep it until ${b.keepAtLeastUntil} at least: Object Lock raised to that if it ends sooner` : '';
    const notes = [until, b.legalHold ? 'Object Lock legal hold' : ''].filter(Boolean);
    return notes.length ? `  [${notes.join(', ')}]` : '';
  };
  for (const b of p.backups) lines.push(`${b.action === 'delete' ? 'DELETE' : 'keep  '} backup ${b.id}  ${b.reasons.join('; ')}${lockNote(b)}`);
  for (const u of p.unverified) lines.push(`keep   backup ${u.id}  ${u.reasons.join('; ')}`);
  for (const s of p.sources) {
    const removed = r.applied?.segmentsBySource[s.serverUuid] ?? 0;
    const del = !s.deleted.length ? '' : applied
      ? `; deleted ${removed} of ${s.deleted.length} (${s.deleted[0]!.file} … ${s.deleted.at(-1)!.file})`
      : `; DELETE ${s.deleted.length} (${s.deleted[0]!.file} … ${s.deleted.at(-1)!.file})`;
    lines.push(`binlogs ${s.serverUuid}: keep ${s.kept}${s.keepFrom ? ` from ${s.keepFrom}` : ''} (${s.keepReason})${del}`);
    if (s.deletedGapRecords.length) lines.push(`  ${applied ? 'deleted' : 'DELETE'} ${s.deletedGapRecords.length} gap record(s) older than the kept chain`);
  }
  const sources = new Set(p.coverage.map((c) => c.serverUuid)).size;
  for (const c of p.coverage) {
    const what = c.scope === 'accounts' ? ACCOUNTS_LABEL : `database ${c.database}`;
    const of = sources > 1 ? ` of ${c.serverUuid}` : '';
    const pitr = c.scope === 'accounts' ? '' : c.pitrBase ? `; PITR from ${c.pitrBase} (${c.pitrFrom})` : '; no PITR base (no backup holding it has a binlog position)';
    lines.push(`${what}${of}: newest ${c.newest}${pitr}; ${c.kept.length} kept backup(s) hold it`);
  }
  for (const u of p.uncovered) lines.push(`! database ${u.database} of source ${u.serverUuid} has no backup: nothing can restore it; back it up (dbops backup)`);
  for (const d of p.debris) lines.push(`${d.action === 'delete' ? 'DELETE' : 'keep  '} ${d.kind} ${d.name}  ${d.reasons.join('; ')}`);
  for (const e of r.applied?.extended ?? []) lines.push(`locked backup ${e.id}: ${[e.until ? `retain-until raised to ${e.until}` : '', e.legalHold ? 'legal hold set' : ''].filter(Boolean).join(', ')} (${e.objects} objects)`);
  for (const l of r.applied?.locked ?? []) lines.push(`still locked: ${l.note}`);
  for (const problem of r.problems) lines.push(`! ${problem}`);
  const t = p.totals;
  if (r.applied) {
    const a = r.applied;
    const waiting = a.locked.length ? `; ${a.locked.length} item(s) still under Object Lock were left in place` : '';
    lines.push(`deleted ${a.backups.length} backup(s), ${a.segments} binlog file(s), ${a.debris.length} debris item(s)${waiting}`);
  } else {
    lines.push(`dry run: nothing deleted; --apply would delete ${t.deleteBackups} backup(s), ${t.deleteSegments} binlog file(s), ${t.deleteDebris} debris item(s), ${bytes(t.freedBytes)}`);
  }
  return lines.join('\n');
}
