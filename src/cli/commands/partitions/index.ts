// `dbops partitions maintain|restore-archive`: date partitions of pageviews/events created ahead and,
// past retention, archived (encrypted, signed, verified) before they are dropped; and brought back.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { applyMaintenance, parseRetentionDays, planMaintenance, restoreArchive, type ArchiveKeys, type ArchiveTarget, type MaintenancePlan } from '../../../partitions/index.js';
import { DATE_PARTITIONED_TABLES, addDays } from '../../../migrate/index.js';
import { loadSigningKey } from '../../../crypto/signing.js';
import { checkIdentityFile, resolveRecipients } from '../../../crypto/age.js';
import { readServerInfo } from '../../../mysql/server-info.js';
import { flavorProfile, resolveTools } from '../../../mysql/flavor.js';
import { UsageError } from '../../../errors.js';
import { bytes } from '../../format.js';
import { confirmProduction } from '../migrate/production-guard.js';
import { openDatabase, resolveTarget } from '../migrate/target.js';

interface Flags {
  source?: string;
  database?: string;
}

function today(flag: string | undefined): string {
  const day = flag ?? new Date().toISOString().slice(0, 10);
  addDays(day, 0); // validates
  return day;
}

function describePlan(plan: MaintenancePlan): string {
  const lines = [`${plan.database}, today ${plan.today} (UTC):`];
  for (const t of plan.tables) {
    lines.push(`  ${t.table}: retention ${t.retentionDays}d (rows before ${t.cutoff} expire)`);
    lines.push(t.create.length ? `    create ${t.create.length} partition(s) ${t.create[0]} .. ${t.create.at(-1)}` : `    partitions ready through ${t.createThrough}`);
    if (t.expire.length === 0) lines.push('    nothing expired');
    for (const e of t.expire) lines.push(`    archive, verify, then drop ${e.partition} (${e.from ?? '…'} .. ${e.to}, ~${e.estimatedRows} rows)`);
  }
  return lines.join('\n');
}

export function registerPartitions(program: Command, globals: () => GlobalOptions): void {
  const partitions = program
    .command('partitions')
    .description('daily partitions of pageviews/events: create ahead, archive and drop past retention, restore archives');

  partitions
    .command('maintain')
    .description('print the plan; with --apply create partitions ahead and archive → verify → drop expired ones')
    .option('--apply', 'carry the plan out (default: only print it)')
    .option('--source <url>', 'server, mysql://user:pass@host:port (prefer DBOPS_SOURCE_URL)')
    .option('--database <name>', 'database (default: the one in source.url, else horizn)')
    .option('--today <YYYY-MM-DD>', 'the date to plan from, UTC (default: today)')
    .option('--confirm-production', 'allow --apply in an environment marked production')
    .addHelpText(
      'after',
      `
Retention per table: retention.pageviews / retention.events (DBOPS_RETENTION_PAGEVIEWS=400d, …); days ahead:
partitions.aheadDays (default 7). Archives go to archive/<table>/<partition>.sql.zst.age with a signed
.json manifest written last; a partition is dropped only after its archive was read back and verified.

Examples:
  dbops partitions maintain            # the plan
  dbops partitions maintain --apply --json`,
    )
    .action(async (flags: Flags & { apply?: boolean; today?: string; confirmProduction?: boolean }) => {
      const day = today(flags.today);
      const ctx = await CommandContext.create(globals(), { 'source.url': flags.source });
      const target = resolveTarget(ctx.config, flags.database);
      const policies = DATE_PARTITIONED_TABLES.map((table) => ({ table, retentionDays: parseRetentionDays(ctx.config.retention[table], `retention.${table}`) }));
      const db = await openDatabase(target);
      try {
        const plan = await planMaintenance(db.conn, target.database, day, ctx.config.partitions.aheadDays, policies);
        if (!flags.apply) {
          ctx.print({ applied: false, plan }, () => `${describePlan(plan)}\n(dry run: pass --apply to carry it out)`);
          return;
        }
        await confirmProduction(ctx.config, target.database, 'drop partitions of', flags.confirmProduction);
        const needsArchive = plan.tables.some((t) => t.expire.length > 0);
        let keys: ArchiveKeys | undefined;
        if (needsArchive) {
          if (!ctx.config.storage.url) throw new UsageError('expired partitions are archived before they are dropped, but storage.url is not configured: set DBOPS_STORAGE_URL');
          const [repo, signingKey, recipients] = await Promise.all([ctx.repository(), loadSigningKey(ctx.config.signing.keyFile), resolveRecipients(ctx.config.age.recipients)]);
          keys = { repo, signingKey, recipients, compressionLevel: ctx.config.compression.level, ...(ctx.config.age.identityFile ? { identityFile: await checkIdentityFile(ctx.config.age.identityFile) } : {}) };
        }
        const info = await readServerInfo(db.client);
        const archiveTarget: ArchiveTarget = { conn: db.conn, server: target.server, database: target.database, info, dumpTool: resolveTools(flavorProfile(info)).dump };
        const results = await applyMaintenance(plan, archiveTarget, keys);
        ctx.print({ applied: true, plan, results }, () =>
          results
            .map((r) =>
              [
                `${r.table}: created ${r.created.length} partition(s)${r.created.length ? ` (${r.created[0]} .. ${r.created.at(-1)})` : ''}`,
                ...r.archived.map((a) => `  archived ${a.partition}: ${a.rows} rows, ${bytes(a.storedBytes)} → ${a.key}${a.reused ? ' (existing archive, verified)' : ''}; dropped`),
              ].join('\n'),
            )
            .join('\n'),
        );
      } finally {
        ctx.releaseSignals();
        await db.close();
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
        ctx.print({ database: target.database, table, partition, rows: result.rows, recreated: result.recreated, archivedAt: result.manifest.createdAt }, () =>
          `restored ${result.rows} rows of ${table} ${partition} into ${target.database}${result.recreated ? ' (partition re-created)' : ''}`,
        );
      } finally {
        await db.close();
      }
    });
}
