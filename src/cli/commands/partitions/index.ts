// `dbops partitions maintain|restore-archive`: the horizn_ database's visitor data kept within its
// retention (src/partitions/maintain.ts: partitions ahead, salts rotated, expired partitions archived
// → verified → dropped, sessions/realtime_visitors rows deleted, old archives removed); and an
// archived partition brought back.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { maintainDatabase, restoreArchive, type ArchiveKeys, type MaintainResult, type MaintenancePlan } from '../../../partitions/index.js';
import { checkIdentityFile } from '../../../crypto/age.js';
import { readServerInfo } from '../../../mysql/server-info.js';
import { flavorProfile, resolveTools } from '../../../mysql/flavor.js';
import { recordAdminAction } from '../../../audit/admin-action.js';
import { OperationError, UsageError } from '../../../errors.js';
import { bytes } from '../../format.js';
import { confirmProduction } from '../migrate/production-guard.js';
import { openDatabase, resolveTarget } from '../../../migrate/target.js';

interface Flags {
  source?: string;
  database?: string;
}

/** --today pins the clock to that day's noon (UTC); default now. */
function clock(flag: string | undefined): Date {
  if (flag === undefined) return new Date();
  const t = Date.parse(`${flag}T12:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(flag) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== flag) throw new UsageError(`--today ${flag} is not a date; use YYYY-MM-DD`);
  return new Date(t);
}

function describePlan(plan: MaintenancePlan): string {
  const lines = [`${plan.database}, today ${plan.today} (UTC):`];
  for (const t of plan.tables) {
    lines.push(`  ${t.table}: retention ${t.retentionDays}d (rows before ${t.cutoff} expire)`);
    lines.push(t.create.length ? `    create ${t.create.length} partition(s) ${t.create[0]} .. ${t.create.at(-1)}` : `    partitions ready through ${t.createThrough}`);
    if (t.expire.length === 0) lines.push('    nothing expired');
    for (const e of t.expire) lines.push(`    archive, verify, then drop ${e.partition} (${e.from ?? '…'} .. ${e.to}, ~${e.estimatedRows} rows)`);
  }
  for (const r of plan.rows) lines.push(`  ${r.table}: retention ${r.window} (${r.column} before ${r.cutoff}): ${r.rows ? `delete ${r.rows} row(s), oldest ${r.oldest}` : 'nothing expired'}`);
  if (plan.salts) lines.push(`  visitor_salts: ${plan.salts.destroy.length ? `destroy the salts of ${plan.salts.destroy.join(', ')}` : 'only today\'s and yesterday\'s kept'}; make today's and tomorrow's`);
  else lines.push('  visitor_salts: missing (migration 0004 not applied)');
  if (plan.archives) {
    const a = plan.archives;
    lines.push(`  archives: ${a.expired.length ? `delete ${a.expired.length} past retention` : 'none past retention'}${a.orphans.length ? `, remove ${a.orphans.length} orphaned object(s)` : ''}`);
    for (const p of a.problems) lines.push(`    ! ${p}`);
  }
  return lines.join('\n');
}

function describeOutcome(r: MaintainResult): string {
  const o = r.outcome!;
  const lines = o.tables.map((t) =>
    [
      `${t.table}: created ${t.created.length} partition(s)${t.created.length ? ` (${t.created[0]} .. ${t.created.at(-1)})` : ''}`,
      ...t.archived.map((a) => `  archived ${a.partition}: ${a.rows} rows, ${bytes(a.storedBytes)} → ${a.key}${a.reused ? ' (existing archive, verified)' : ''}${t.dropped.includes(a.partition) ? '; dropped' : ''}`),
    ].join('\n'),
  );
  for (const x of o.rows) lines.push(`${x.table}: deleted ${x.deleted} row(s) from ${x.oldest ?? '-'} to before ${x.cutoff}`);
  if (o.salts) lines.push(`visitor_salts: made ${o.salts.created.length ? o.salts.created.join(', ') : 'none'}; destroyed ${o.salts.destroyed.length ? o.salts.destroyed.join(', ') : 'none'}`);
  if (o.archives) lines.push(`archives: removed ${o.archives.removed} past retention and ${o.archives.orphans} orphan(s)${o.archives.locked.length ? `; ${o.archives.locked.length} still under Object Lock` : ''}`);
  return lines.join('\n');
}

export function registerPartitions(program: Command, globals: () => GlobalOptions): void {
  const partitions = program
    .command('partitions')
    .description('visitor data of the horizn_ database: partitions ahead, retention of every visitor table, archives');

  partitions
    .command('maintain')
    .description('print the plan; with --apply carry it out (partitions ahead, salts, retention, archives)')
    .option('--apply', 'carry the plan out (default: only print it)')
    .option('--source <url>', 'server, mysql://user:pass@host:port (prefer DBOPS_SOURCE_URL)')
    .option('--database <name>', 'database (default: the one in source.url, else horizn)')
    .option('--today <YYYY-MM-DD>', 'the date to plan from, UTC (default: today)')
    .option('--confirm-production', 'allow --apply on a production target')
    .addHelpText(
      'after',
      `
Retention per table (DBOPS_RETENTION_*): retention.pageviews / retention.events (days; expired daily
partitions are archived to the repository, verified, then dropped), retention.sessions (days, by
started_at), retention.realtimeVisitors (a duration, by last_seen_at), retention.archives (how long an
archive is kept). Days ahead: partitions.aheadDays (default 7). Daily visitor salts: today's and
tomorrow's are made, older than yesterday's destroyed. Archives go to
archive/<database>/<table>/<partition>.sql.zst.age with a signed .json manifest written last.
Every deletion is recorded as an administrative action. \`dbops daemon\` runs this on schedule.partitions.

Examples:
  dbops partitions maintain            # the plan
  dbops partitions maintain --apply --json`,
    )
    .action(async (flags: Flags & { apply?: boolean; today?: string; confirmProduction?: boolean }) => {
      const now = clock(flags.today);
      const ctx = await CommandContext.create(globals(), { 'source.url': flags.source });
      const target = resolveTarget(ctx.config, flags.database);
      try {
        if (flags.apply) {
          await confirmProduction(ctx.config, target, 'drop partitions and delete visitor rows of', flags.confirmProduction);
          await ctx.adminEvidence();
        }
        const repo = ctx.config.storage.url ? await ctx.repository() : undefined;
        const keys = async (): Promise<ArchiveKeys> => {
          if (!repo) throw new UsageError('expired partitions are archived before they are dropped, but storage.url is not configured: set DBOPS_STORAGE_URL');
          const writable = await ctx.writableRepository();
          return { repo: writable, recipients: writable.recipients, compressionLevel: ctx.config.compression.level, ...(ctx.config.age.identityFile ? { identityFile: await checkIdentityFile(ctx.config.age.identityFile) } : {}) };
        };
        const r = await maintainDatabase({ config: ctx.config, target, now, apply: flags.apply ?? false, keys, ...(repo ? { repo } : {}) });
        if (r.skipped) throw new UsageError(`${r.skipped}; run \`dbops migrate up\` first`);
        if (!flags.apply) {
          ctx.print({ applied: false, plan: r.plan }, () => `${describePlan(r.plan!)}\n(dry run: pass --apply to carry it out)`);
          return;
        }
        ctx.print({ applied: true, plan: r.plan, results: r.outcome!.tables, outcome: r.outcome }, () => describeOutcome(r));
        const problems = r.outcome!.problems;
        if (problems.length) throw new OperationError(problems.join('; '));
      } finally {
        ctx.releaseSignals();
      }
    });

  partitions
    .command('restore-archive')
    .description('bring an archived partition back (re-creates it if needed; needs the age identity)')
    .argument('<table>', 'pageviews or events')
    .argument('<partition>', 'e.g. p20251127')
    .option('--source <url>', 'server, mysql://user:pass@host:port (prefer DBOPS_SOURCE_URL)')
    .option('--database <name>', 'database (default: the one in source.url, else horizn)')
    .addHelpText('after', '\nExample:\n  DBOPS_AGE_IDENTITY_FILE=./keys/age.key dbops partitions restore-archive pageviews p20251127')
    .action(async (table: string, partition: string, flags: Flags) => {
      const ctx = await CommandContext.create(globals(), { 'source.url': flags.source });
      const target = resolveTarget(ctx.config, flags.database);
      const identityFile = await checkIdentityFile(ctx.config.age.identityFile);
      const repo = await ctx.repository();
      await ctx.adminEvidence();
      const db = await openDatabase(target);
      try {
        const info = await readServerInfo(db.client);
        const result = await restoreArchive({
          conn: db.conn,
          server: target.server,
          database: target.database,
          clientTool: resolveTools(flavorProfile(info)).client,
          repo,
          identityFile,
          table,
          partition,
        });
        await recordAdminAction({ action: 'partition.restore', target: `${target.database}.${table}`, details: { partition, rows: result.rows, range: result.manifest.range, recreated: result.recreated }, outcome: 'ok' });
        ctx.print({ database: target.database, table, partition, rows: result.rows, recreated: result.recreated, archivedAt: result.manifest.createdAt }, () =>
          `restored ${result.rows} rows of ${table} ${partition} into ${target.database}${result.recreated ? ' (partition re-created)' : ''}`,
        );
      } finally {
        await db.close();
      }
    });
}
