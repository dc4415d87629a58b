// `dbops migrate status|up|down|create|verify|resolve`: thin commands over src/migrate. up/down take
// the production guard and a pre-migration backup inside the runner's beforeChange hook, i.e. under
// the migration lock and only when there is something to change.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { create, defaultMigrationsDir, down, resolve, status, up, verify, type AppliedStep, type MigrationStatus } from '../../../migrate/index.js';
import { DbopsError, OperationError, UsageError } from '../../../errors.js';
import { table } from '../../format.js';
import { confirmProduction } from './production-guard.js';
import { prepareBackup, takeBackup, type BackupPlan } from './pre-migration-backup.js';
import { openDatabase, resolveTarget, type DatabaseTarget } from './target.js';

interface CommonFlags {
  source?: string;
  database?: string;
  dir?: string;
  lockTimeout?: string;
}

interface ChangeFlags extends CommonFlags {
  to?: string;
  steps?: string;
  backup: boolean;
  confirmProduction?: boolean;
}

function int(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

function common(cmd: Command): Command {
  return cmd
    .option('--source <url>', 'server, mysql://user:pass@host:port (prefer DBOPS_SOURCE_URL: flags show in ps)')
    .option('--database <name>', 'database to migrate (default: the one in source.url, else horizn)')
    .option('--dir <path>', 'migrations directory (default: the packaged db/migrations)')
    .option('--lock-timeout <seconds>', 'wait this long for another running migration (default 60)');
}

async function setup(globals: GlobalOptions, flags: CommonFlags): Promise<{ ctx: CommandContext; target: DatabaseTarget }> {
  const ctx = await CommandContext.create(globals, { 'source.url': flags.source });
  return { ctx, target: resolveTarget(ctx.config, flags.database) };
}

function libOptions(flags: CommonFlags): { dir?: string; lockTimeoutSec?: number } {
  const lock = int(flags.lockTimeout, '--lock-timeout', 0);
  return { ...(flags.dir !== undefined ? { dir: flags.dir } : {}), ...(lock !== undefined ? { lockTimeoutSec: lock } : {}) };
}

function describeStatus(rows: MigrationStatus[], database: string): string {
  if (rows.length === 0) return `no migrations found for ${database}`;
  const lines = [
    table([
      ['VERSION', 'MIGRATION', 'STATE', 'APPLIED (UTC)', 'BY'],
      ...rows.map((r) => [String(r.version), r.id, r.state, r.appliedAt ? r.appliedAt.toISOString().replace(/\.\d+Z$/, 'Z') : '-', r.appliedBy ?? '-']),
    ]),
  ];
  for (const r of rows) {
    if (r.state === 'failed') {
      lines.push('', `! ${r.id}: ${r.failedDirection} FAILED — MySQL DDL is not transactional, so it may be half-applied.`);
      if (r.failedStatement) lines.push(`  failed statement: ${r.failedStatement.replace(/\s+/g, ' ').slice(0, 300)}`);
      if (r.error) lines.push(`  error: ${r.error}`);
      if (r.hint) lines.push(`  to recover: ${r.hint}`);
      lines.push('  or restore the pre-migration backup: dbops list, then dbops restore <id> --database <db> --force');
    } else if (r.hint) {
      lines.push('', `! ${r.id}: ${r.state}: ${r.hint}`);
    }
  }
  return lines.join('\n');
}

function describeSteps(steps: AppliedStep[], database: string, verb: string): string {
  if (steps.length === 0) return `${database}: nothing to ${verb}`;
  return steps.map((s) => `${s.direction === 'up' ? 'applied ' : 'reverted'} ${s.id} (${s.statements} statements, ${(s.durationMs / 1000).toFixed(2)} s)`).join('\n');
}

/** up/down share everything but the runner call. */
async function change(globals: GlobalOptions, flags: ChangeFlags, direction: 'up' | 'down'): Promise<void> {
  const { ctx, target } = await setup(globals, flags);
  const to = int(flags.to, '--to', 0);
  const steps = int(flags.steps, '--steps', 1);
  if (direction === 'up' && steps !== undefined) throw new UsageError('--steps applies to `migrate down` only; use --to VERSION with up');
  if (to !== undefined && steps !== undefined) throw new UsageError('pass either --to or --steps, not both');
  const db = await openDatabase(target, { create: direction === 'up' });
  let backupId: string | undefined;
  const beforeChange = async (): Promise<void> => {
    await confirmProduction(ctx.config, target.database, `migrate ${direction}`, flags.confirmProduction);
    // Only now, with something to change: an up-to-date database needs no repository.
    const backupPlan: BackupPlan | undefined = flags.backup ? await prepareBackup(ctx) : undefined;
    if (!backupPlan) {
      process.stderr.write(`dbops: --no-backup: migrating ${target.database} without a backup\n`);
      return;
    }
    backupId = await takeBackup(ctx, backupPlan, target, `before migrate ${direction}`);
    // Printed at once, so the id is known even if the migration then fails or the process dies.
    process.stderr.write(`dbops: backup ${backupId} taken before migrate ${direction} (undo with: dbops restore ${backupId} --database ${target.database} --force)\n`);
  };
  try {
    const base = { ...libOptions(flags), beforeChange };
    const applied =
      direction === 'up'
        ? await up(db.conn, { ...base, ...(to !== undefined ? { to } : {}) })
        : await down(db.conn, { ...base, ...(to !== undefined ? { to } : {}), ...(steps !== undefined ? { steps } : {}) });
    ctx.print({ database: target.database, backupId: backupId ?? null, applied }, () =>
      [describeSteps(applied, target.database, direction === 'up' ? 'apply' : 'revert'), ...(backupId ? [`pre-migration backup: ${backupId}`] : [])].join('\n'),
    );
  } catch (err) {
    if (backupId && err instanceof DbopsError && !(err instanceof UsageError)) {
      throw new OperationError(`${err.message}; the pre-migration backup ${backupId} can undo it: dbops restore ${backupId} --database ${target.database} --force`, { cause: err });
    }
    throw err;
  } finally {
    ctx.releaseSignals();
    await db.close();
  }
}

export function registerMigrate(program: Command, globals: () => GlobalOptions): void {
  const migrate = program
    .command('migrate')
    .description('versioned schema migrations of the horizn_ database (checksummed, locked, backed up first)')
    .addHelpText(
      'after',
      `
The target is source.url (DBOPS_SOURCE_URL) and --database (default: the database in the URL, else horizn).
Before up/down changes anything, a backup of that database goes to the repository (needs storage.url,
age.recipients and signing.keyFile; --no-backup skips it). With environment: production, up/down need
--confirm-production (or typing the database name at a terminal).

Examples:
  dbops migrate status
  dbops migrate up
  dbops migrate down --steps 1
  dbops migrate create add_goals_table
  dbops migrate verify        # exit 3 when an applied migration file was edited`,
    );

  common(migrate.command('status').description('every migration with its state; failed ones with the statement and how to recover')).action(
    async (flags: CommonFlags) => {
      const { ctx, target } = await setup(globals(), flags);
      const db = await openDatabase(target);
      try {
        const rows = await status(db.conn, libOptions(flags));
        ctx.print({ database: target.database, migrations: rows }, () => describeStatus(rows, target.database));
      } finally {
        await db.close();
      }
    },
  );

  for (const direction of ['up', 'down'] as const) {
    const cmd = common(
      migrate
        .command(direction)
        .description(direction === 'up' ? 'apply pending migrations (all, or up to --to)' : 'revert the latest migration (or --steps N, or down --to VERSION; 0 = all)'),
    )
      .option('--to <version>', direction === 'up' ? 'apply up to and including this version' : 'revert every migration above this version')
      .option('--no-backup', 'do not take the pre-migration backup')
      .option('--confirm-production', 'allow this change in an environment marked production');
    if (direction === 'down') cmd.option('--steps <n>', 'revert this many of the latest migrations (default 1)');
    cmd.action((flags: ChangeFlags) => change(globals(), flags, direction));
  }

  migrate
    .command('create')
    .description('write the next NNNN_name.up.sql / .down.sql pair')
    .argument('<name>', 'what it does, e.g. add_goals_table')
    .option('--dir <path>', 'migrations directory (default: the packaged db/migrations)')
    .action(async (name: string, flags: { dir?: string }) => {
      const ctx = await CommandContext.create(globals());
      const created = await create(flags.dir ?? defaultMigrationsDir(), name);
      ctx.print(created, () => `created ${created.upPath}\ncreated ${created.downPath}`);
    });

  common(migrate.command('verify').description('check applied migrations against their files (exit 3 naming a changed file)')).action(
    async (flags: CommonFlags) => {
      const { ctx, target } = await setup(globals(), flags);
      const db = await openDatabase(target);
      try {
        await verify(db.conn, libOptions(flags));
        const applied = (await status(db.conn, libOptions(flags))).filter((s) => s.state === 'applied').length;
        ctx.print({ database: target.database, ok: true, applied }, () => `${target.database}: ${applied} applied migration(s) match their files`);
      } finally {
        await db.close();
      }
    },
  );

  common(
    migrate
      .command('resolve')
      .description('after repairing a failed migration by hand: mark it --applied, or --rolled-back so up runs it again')
      .argument('<version>', 'the failed migration version'),
  )
    .option('--applied', 'the change is complete: record it as applied')
    .option('--rolled-back', 'the change was undone: forget it')
    .action(async (version: string, flags: CommonFlags & { applied?: boolean; rolledBack?: boolean }) => {
      if (Boolean(flags.applied) === Boolean(flags.rolledBack)) throw new UsageError('pass exactly one of --applied or --rolled-back');
      const v = int(version, 'version', 1)!;
      const { ctx, target } = await setup(globals(), flags);
      const db = await openDatabase(target);
      try {
        await resolve(db.conn, v, flags.applied ? 'applied' : 'rolled-back', libOptions(flags));
        ctx.print({ database: target.database, version: v, resolvedAs: flags.applied ? 'applied' : 'rolled-back' }, () => `${target.database}: migration ${v} marked ${flags.applied ? 'applied' : 'rolled back'}`);
      } finally {
        await db.close();
      }
    });
}
