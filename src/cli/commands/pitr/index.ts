// `dbops pitr`: point-in-time recovery into a target server — plan first (base backup,
// binlog chain, gaps, bytes, the point reached), then restore + replay (relay logs applied by
// the target's replication, or one client session).
// `--dry-run` prints only the plan. Thin: parse flags, call src/pitr, format.
import type { Command } from 'commander';
import { Progress } from '../../progress.js';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runPitr, type PitrResult } from '../../../pitr/run-pitr.js';
import { parseTarget } from '../../../pitr/target-spec.js';
import { assertSourceId } from '../../../storage/layout.js';
import { checkIdentityFile } from '../../../crypto/age.js';
import { restoreTargetConnection } from '../../../config/connections.js';
import { UsageError } from '../../../errors.js';
import { bytes } from '../../format.js';
import { TAKE_A_FULL } from '../../../physical/chain.js';
import { withEvidence } from '../../../repo/evidence-log.js';

interface PitrFlags {
  to?: string;
  toPosition?: string;
  toGtid?: string;
  before?: string;
  target?: string;
  database?: string;
  table?: string;
  intoSchema?: string;
  dryRun?: boolean;
  serverUuid?: string;
  force?: boolean;
  binlog?: boolean;
  parallel?: string;
  base?: string;
  keepPartial?: boolean;
  accounts?: boolean;
  datadir?: string;
  replay?: string;
}

export function registerPitr(program: Command, globals: () => GlobalOptions): void {
  program
    .command('pitr')
    .description('point-in-time recovery: restore the right full backup, then replay shipped binlogs to exactly the chosen point')
    .option('--to <time|latest>', 'ISO 8601 time WITH zone (2026-11-27T14:02:59+01:00): last transaction committed at or before it; or "latest"')
    .option('--to-position <file:pos>', 'replay up to this binlog position (transactions ending at or before it)')
    .option('--to-gtid <set>', 'replay up to and including this GTID (MariaDB 0-1-1234, MySQL uuid:1-1234)')
    .option('--before <file:pos>', 'stop just before the transaction at this position (from dbops binlog find)')
    .option('--target <url>', 'server to recover into, mysql://user@host:port (or DBOPS_RESTORE_TARGET_URL; password from DBOPS_RESTORE_TARGET_PASSWORD_FILE)')
    .option('--database <name>', 'recover only this database')
    .option('--table <db.table>', 'recover only this table')
    .option('--into-schema <name>', 'recover under another database name, to compare side by side')
    .option('--dry-run', 'print the plan only; touch nothing')
    .option('--server-uuid <id>', 'binlog source (default: the only one, or the newest backup\'s)')
    .option('--force', 'allow recovering over existing tables')
    .option('--binlog', 'write the recovery into the target binlog (default: off)')
    .option('--parallel <n>', 'tables restored at once')
    .option('--base <id|previous>', 'start from this full backup (id or unique prefix), or "previous": the one before the newest that fits')
    .option('--keep-partial', 'when the recovery fails, leave what it created on the target (default: drop it)')
    .option('--replay <auto|session|relay>', 'how binlogs are applied: auto (the target replicates them from relay logs where it can, else one client session), session, relay (config pitr.replay)')
    .option('--accounts', "also restore the backup's users and grants and replay account changes (CREATE USER, GRANT…) from the binlog; left out otherwise")
    .option('--datadir <dir>', 'recover from a physical base into this empty directory (restore, prepare, replay through a server started on it, shut down cleanly) instead of into a server')
    .addHelpText(
      'after',
      '\nExamples:\n  dbops binlog find --type ddl --grep "DROP TABLE"          # pick the bad event\n  dbops pitr --before binlog.000042:1234 --target mysql://root@127.0.0.1:3307   # password: DBOPS_RESTORE_TARGET_PASSWORD_FILE\n  dbops pitr --to 2026-11-27T14:02:59+01:00 --dry-run --json\n  dbops pitr --to latest --table shop.orders --into-schema rescue --target …\n  dbops pitr --to latest --base previous --target …          # the newest base is damaged\n  dbops pitr --to 2026-11-27T14:02:59+01:00 --datadir /var/lib/mysql-recovered   # from a physical base',
    )
    .action(async (opts: PitrFlags) => {
      const target = parseTarget(opts);
      if (opts.serverUuid) assertSourceId(opts.serverUuid);
      if (opts.database && opts.table) throw new UsageError('give either --database or --table, not both');
      if (opts.base !== undefined && !opts.base.trim()) throw new UsageError('--base is empty: give a backup id from "dbops list", or previous');
      if (opts.datadir !== undefined) {
        const clash = (['target', 'database', 'table', 'intoSchema', 'force', 'binlog'] as const).find((k) => opts[k] !== undefined);
        if (clash) throw new UsageError(`--${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply with --datadir: a physical base recovers the whole server into an empty directory`);
      }
      const ctx = await CommandContext.create(globals(), { 'restore.parallel': opts.parallel, 'restore.targetUrl': opts.target, 'pitr.replay': opts.replay });
      const conn = opts.dryRun || opts.datadir !== undefined ? undefined : restoreTargetConnection(ctx.config);
      const identityFile = await checkIdentityFile(ctx.config.age.identityFile);
      const repo = opts.dryRun ? await ctx.repository() : await ctx.repositoryForEvidence();
      // Restore and replay as one figure: base raw bytes loaded + binlog bytes replayed.
      const progress = opts.dryRun ? undefined : new Progress('pitr');
      try {
        const pitr = (): Promise<PitrResult> => runPitr({
          repo,
          identityFile,
          target,
          ...(conn ? { conn } : {}),
          ...(opts.datadir !== undefined ? { datadir: opts.datadir } : {}),
          scope: { ...(opts.database !== undefined ? { database: opts.database } : {}), ...(opts.table !== undefined ? { table: opts.table } : {}), ...(opts.intoSchema !== undefined ? { intoSchema: opts.intoSchema } : {}), ...(opts.accounts ? { accounts: true } : {}) },
          dryRun: opts.dryRun ?? false,
          ...(opts.serverUuid ? { sourceId: opts.serverUuid } : {}),
          force: opts.force ?? false,
          binlog: opts.binlog ?? false,
          parallel: ctx.config.restore.parallel,
          signal: ctx.signal,
          ...(opts.base !== undefined ? { base: opts.base } : {}),
          keepPartial: opts.keepPartial ?? false,
          applier: { mode: ctx.config.pitr.replay, threads: ctx.config.pitr.replayThreads, parallelMode: ctx.config.pitr.replayParallelMode },
          ...(progress
            ? {
                onProgress: (done: number, total: number) => {
                  progress.setTotal(total);
                  progress.update(done);
                },
              }
            : {}),
        });
        const result = opts.dryRun
          ? await pitr()
          : await withEvidence(repo, { action: 'pitr', subject: target.kind === 'latest' ? 'latest' : opts.to ?? opts.toPosition ?? opts.toGtid ?? opts.before ?? null }, pitr, (r) => ({
              outcome: 'ok',
              summary: `pitr from backup ${r.plan.base.id} to ${r.plan.reached.file}:${r.plan.reached.position} into ${conn ? `${conn.host ?? conn.socket}:${conn.port ?? ''}` : opts.datadir !== undefined ? `datadir ${opts.datadir}` : '?'}`,
              details: { requested: r.plan.requested, base: r.plan.base.id, reached: r.plan.reached, scope: r.plan.scope, phases: r.phases, applier: r.replay?.applier ?? null },
            }));
        progress?.done();
        ctx.print(result, () => human(result, opts.datadir));
      } finally {
        progress?.done();
        ctx.releaseSignals();
      }
    });
}

/** `datadir`: a recovery into an empty datadir (a physical base), which a server is then started on. */
function human(r: PitrResult, datadir?: string): string {
  const p = r.plan;
  const lines = [
    `${r.dryRun ? 'plan' : 'recovered'}: ${p.requested} (source ${p.sourceId}, ${p.flavor})`,
    `  base backup   ${p.base.id} (completed ${p.base.completedAt}, at ${p.base.consistentPoint.binlogFile}:${p.base.consistentPoint.binlogPosition})`,
    `  binlogs       ${p.chain.length === 0 ? 'none to replay' : `${p.chain[0]!.file}:${p.chain[0]!.from} → ${p.chain.at(-1)!.file}:${p.chain.at(-1)!.to} (${p.chain.length} file(s))`}`,
    `  to fetch      ${bytes(p.bytes.totalStored)} (backup ${bytes(p.bytes.backupStored)}, binlogs ${bytes(p.bytes.binlogStored)})`,
    `  ${r.dryRun ? 'will reach' : 'reached   '}    ${p.reached.file}:${p.reached.position}${p.reached.time ? ` (last transaction ${p.reached.time}` : ' ('}${p.reached.lastGtid ? `, GTID ${p.reached.lastGtid}` : ''}${p.reached.gtidSet ? `; state ${p.reached.gtidSet}` : ''})`,
    ...p.notes.map((n) => `  note: ${n}`),
  ];
  if (!r.dryRun) {
    lines.push(`  phases        ${Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
    if (r.replay && r.replay.binlogBytes > 0) {
      const a = r.replay.applier;
      lines.push(`  replay        ${bytes(r.replay.binlogBytes)} of binlog at ${bytes(r.replay.bytesPerSecond)}/s, ${a.kind === 'relay-log' ? `by the target's replication (relay logs, ${a.threads} ${a.parallelMode} threads)` : `in one client session (${a.reason})`}`);
    }
    if (datadir !== undefined) lines.push(`  next          chown -R mysql:mysql ${datadir}, start the server with --datadir=${datadir}, then ${TAKE_A_FULL}`);
  }
  return lines.join('\n');
}
