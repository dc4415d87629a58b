// `dbops migrate status|plan|up|down|create|verify|resolve|baseline`: thin commands over src/migrate.
// Every change is decided before anything is written: what would run (read-only), then the
// production guard, then whether a backup can be taken; only then is the database created and the
// runner called, which takes the pre-migration backup under the lock, just before the first change.
// A refusal therefore leaves the server exactly as it was.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import {
  baseline,
  create,
  defaultMigrationsDir,
  down,
  migrationsTableExists,
  notInitialisedError,
  planUp,
  readMigrationRows,
  resolve,
  status,
  up,
  verify,
  type AppliedStep,
  type MigrationStatus,
  type PlannedMigration,
} from '../../../migrate/index.js';
import { recordAdminAction } from '../../../audit/admin-action.js';
import { DbopsError, OperationError, UsageError, VerificationError } from '../../../errors.js';
import { table } from '../../format.js';
import { confirmProduction } from './production-guard.js';
import { prepareBackup, takeBackup, type BackupPlan } from './pre-migration-backup.js';
import { databaseExists, openDatabase, resolveTarget, type DatabaseTarget, type OpenDatabase } from '../../../migrate/target.js';

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
  confirmNoBackup?: boolean;
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
    .option('--lock-timeout <seconds>', 'wait this long for another running migration, seed or partition maintenance (default 60)');
}

async function setup(globals: GlobalOptions, flags: CommonFlags): Promise<{ ctx: CommandContext; target: DatabaseTarget }> {
  const ctx = await CommandContext.create(globals, { 'source.url': flags.source });
  return { ctx, target: resolveTarget(ctx.config, flags.database) };
}

function libOptions(flags: CommonFlags): { dir?: string; lockTimeoutSec?: number } {
  const lock = int(flags.lockTimeout, '--lock-timeout', 0);
  return { ...(flags.dir !== undefined ? { dir: flags.dir } : {}), ...(lock !== undefined ? { lockTimeoutSec: lock } : {}) };
}

/** The database when it exists, else undefined; never creates it. */
async function openIfExists(target: DatabaseTarget): Promise<OpenDatabase | undefined> {
  return (await databaseExists(target)) ? openDatabase(target) : undefined;
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
  return steps
    .map((s) =>
      s.forgotten
        ? `forgot   ${s.id} (its failed up changed nothing, so its down file did not run)`
        : `${s.direction === 'up' ? 'applied ' : 'reverted'} ${s.id} (${s.statements} statements, ${(s.durationMs / 1000).toFixed(2)} s)`,
    )
    .join('\n');
}

function describePlan(plan: PlannedMigration[], database: string): string {
  if (plan.length === 0) return `${database}: nothing to apply`;
  const out = [`-- ${database}: ${plan.length} migration(s) would be applied, in this order (nothing was changed)`];
  for (const m of plan) {
    out.push('', `-- ${m.id} (${m.path})`);
    for (const st of m.statements) out.push(`${st.sql};`);
  }
  return out.join('\n');
}

/** Whether `down` would touch anything (read-only). */
async function somethingToRevert(db: OpenDatabase | undefined, to: number | undefined): Promise<boolean> {
  if (!db) return false;
  const rows = await readMigrationRows(db.conn);
  return to === undefined ? rows.length > 0 : rows.some((r) => r.version > to);
}

/** up/down share everything but the runner call. */
async function change(globals: GlobalOptions, flags: ChangeFlags, direction: 'up' | 'down'): Promise<void> {
  const { ctx, target } = await setup(globals, flags);
  const to = int(flags.to, '--to', 0);
  const steps = int(flags.steps, '--steps', 1);
  if (direction === 'up' && steps !== undefined) throw new UsageError('--steps applies to `migrate down` only; use --to VERSION with up');
  if (to !== undefined && steps !== undefined) throw new UsageError('pass either --to or --steps, not both');
  if (flags.confirmNoBackup && flags.backup) throw new UsageError('--confirm-no-backup goes with --no-backup');
  let db = await openIfExists(target);
  if (!db && direction === 'down') throw new UsageError(`database ${target.database} does not exist on the server: nothing to revert (check --database)`);
  const action = `migrate ${direction}`;
  let backupId: string | undefined;
  let attempted = false;
  try {
    // What would change, read-only: nothing to do needs no guard, no backup and no repository.
    const pending = direction === 'up' ? (await planUp(db?.conn, { ...libOptions(flags), ...(to !== undefined ? { to } : {}) })).length > 0 : await somethingToRevert(db, to);
    if (!pending) {
      ctx.print({ database: target.database, backupId: null, applied: [] }, () => describeSteps([], target.database, direction === 'up' ? 'apply' : 'revert'));
      return;
    }
    const production = await confirmProduction(ctx.config, target, action, flags.confirmProduction);
    await ctx.adminEvidence();
    let backupPlan: BackupPlan | undefined;
    if (!flags.backup) {
      if (production && !flags.confirmNoBackup) {
        throw new UsageError(`${target.database} is production: migrating it without the safety backup needs --confirm-no-backup as well as --no-backup (that backup is what undoes a failed migration)`);
      }
      process.stderr.write(`dbops: --no-backup: migrating ${target.database} without a backup\n`);
      if (production) {
        await recordAdminAction({ action: 'migrate.backup-skipped', target: target.database, details: { direction, reason: '--no-backup --confirm-no-backup in production' }, outcome: 'ok' });
      }
    } else if (db) {
      backupPlan = await prepareBackup(ctx); // refuses before anything changed when it is not configured
    }
    if (!db) {
      db = await openDatabase(target, { create: true });
      process.stderr.write(`dbops: created database ${target.database} (it did not exist: nothing to back up)\n`);
    }
    const beforeChange = async (): Promise<void> => {
      if (!backupPlan) return;
      backupId = await takeBackup(ctx, backupPlan, target, `before migrate ${direction}`);
      // Printed at once, so the id is known even if the migration then fails or the process dies.
      process.stderr.write(`dbops: backup ${backupId} taken before migrate ${direction} (undo with: dbops restore ${backupId} --database ${target.database} --force)\n`);
    };
    attempted = true;
    const base = { ...libOptions(flags), beforeChange };
    const applied =
      direction === 'up'
        ? await up(db.conn, { ...base, ...(to !== undefined ? { to } : {}) })
        : await down(db.conn, { ...base, ...(to !== undefined ? { to } : {}), ...(steps !== undefined ? { steps } : {}) });
    await recordAdminAction({ action: `migrate.${direction}`, target: target.database, details: { steps: applied.map((s) => ({ id: s.id, statements: s.statements, forgotten: s.forgotten ?? false })), backupId: backupId ?? null }, outcome: 'ok' });
    ctx.print({ database: target.database, backupId: backupId ?? null, applied }, () =>
      [describeSteps(applied, target.database, direction === 'up' ? 'apply' : 'revert'), ...(backupId ? [`pre-migration backup: ${backupId}`] : [])].join('\n'),
    );
  } catch (err) {
    if (attempted) await recordAdminAction({ action: `migrate.${direction}`, target: target.database, details: { error: (err as Error).message, backupId: backupId ?? null }, outcome: 'failed' });
    if (backupId && err instanceof DbopsError && !(err instanceof UsageError)) {
      throw new OperationError(`${err.message}; the pre-migration backup ${backupId} can undo it: dbops restore ${backupId} --database ${target.database} --force`, { cause: err });
    }
    throw err;
  } finally {
    ctx.releaseSignals();
    await db?.close();
  }
}

/** The exit a status implies: 1 a failed migration, 3 files that do not match the history. */
function statusProblem(rows: MigrationStatus[], database: string): DbopsError | undefined {
  const failed = rows.find((r) => r.state === 'failed');
  if (failed) return new OperationError(`${database}: migration ${failed.id} failed: ${failed.hint ?? ''}`);
  const off = rows.filter((r) => r.state === 'changed' || r.state === 'missing' || r.state === 'out-of-order');
  if (off.length) return new VerificationError(`${database}: ${off.map((r) => `${r.id} is ${r.state}`).join(', ')}; see \`dbops migrate status\``, off[0]!.id);
  return undefined;
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
age.recipients and signing.keyFile; --no-backup skips it). A production target (environment: production,
a settings row environment = "production", or a server matching production.hostnamePattern) needs
--confirm-production (or typing the database name at a terminal), and --no-backup there needs
--confirm-no-backup too. A refused command changes nothing.

Exit codes of status and verify: 0 clean, 1 a failed migration, 2 not initialised, 3 changed files or schema drift.

Examples:
  dbops migrate status
  dbops migrate plan          # the statements up would run; nothing is changed
  dbops migrate up
  dbops migrate down --steps 1
  dbops migrate baseline --version 3   # a database created before dbops: record 1..3 as applied
  dbops migrate create add_goals_table
  dbops migrate verify        # exit 3 naming an edited file, or a column, index or partition changed by hand`,
    );

  common(migrate.command('status').description('every migration with its state (exit 1 failed, 2 not initialised, 3 changed or out of order)')).action(
    async (flags: CommonFlags) => {
      const { ctx, target } = await setup(globals(), flags);
      const db = await openIfExists(target);
      try {
        const initialised = db ? await migrationsTableExists(db.conn) : false;
        const rows = await status(db?.conn, libOptions(flags));
        ctx.print({ database: target.database, initialised, migrations: rows }, () => describeStatus(rows, target.database));
        if (!initialised) throw notInitialisedError(target.database);
        const problem = statusProblem(rows, target.database);
        if (problem) throw problem;
      } finally {
        await db?.close();
      }
    },
  );

  common(migrate.command('plan').description('print the statements `migrate up` would run, in order; changes nothing'))
    .option('--to <version>', 'plan up to and including this version')
    .action(async (flags: CommonFlags & { to?: string }) => {
      const { ctx, target } = await setup(globals(), flags);
      const to = int(flags.to, '--to', 0);
      const db = await openIfExists(target);
      try {
        const plan = await planUp(db?.conn, { ...libOptions(flags), ...(to !== undefined ? { to } : {}) });
        ctx.print({ database: target.database, exists: db !== undefined, pending: plan }, () => describePlan(plan, target.database));
      } finally {
        await db?.close();
      }
    });

  for (const direction of ['up', 'down'] as const) {
    const cmd = common(
      migrate
        .command(direction)
        .description(direction === 'up' ? 'apply pending migrations (all, or up to --to)' : 'revert the latest migration (or --steps N, or down --to VERSION; 0 = all)'),
    )
      .option('--to <version>', direction === 'up' ? 'apply up to and including this version' : 'revert every migration above this version')
      .option('--no-backup', 'do not take the pre-migration backup')
      .option('--confirm-production', 'allow this change of a production target')
      .option('--confirm-no-backup', 'with --no-backup on a production target: yes, without a backup');
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

  common(
    migrate
      .command('verify')
      .description('applied migrations match their files, and the live schema is what they make (exit 3 naming the difference)'),
  ).action(async (flags: CommonFlags) => {
    const { ctx, target } = await setup(globals(), flags);
    const db = await openIfExists(target);
    if (!db) throw notInitialisedError(target.database);
    try {
      const { applied } = await verify(db.conn, libOptions(flags));
      ctx.print({ database: target.database, ok: true, applied }, () => `${target.database}: ${applied} applied migration(s) match their files, and the live schema matches them`);
    } finally {
      await db.close();
    }
  });

  common(
    migrate
      .command('resolve')
      .description('after repairing a failed migration by hand: mark it --applied, or --rolled-back so up runs it again')
      .argument('<version>', 'the failed migration version'),
  )
    .option('--applied', 'the change is complete: record it as applied')
    .option('--rolled-back', 'the change was undone: forget it')
    .option('--confirm-production', 'allow this on a production target')
    .action(async (version: string, flags: CommonFlags & { applied?: boolean; rolledBack?: boolean; confirmProduction?: boolean }) => {
      if (Boolean(flags.applied) === Boolean(flags.rolledBack)) throw new UsageError('pass exactly one of --applied or --rolled-back');
      const v = int(version, 'version', 1)!;
      const { ctx, target } = await setup(globals(), flags);
      const db = await openIfExists(target);
      if (!db) throw notInitialisedError(target.database);
      const as = flags.applied ? 'applied' : 'rolled-back';
      try {
        await ctx.adminEvidence();
        await resolve(db.conn, v, as, { ...libOptions(flags), beforeChange: async () => void (await confirmProduction(ctx.config, target, 'migrate resolve', flags.confirmProduction)) });
        await recordAdminAction({ action: 'migrate.resolve', target: target.database, details: { version: v, as }, outcome: 'ok' });
        ctx.print({ database: target.database, version: v, resolvedAs: as }, () => `${target.database}: migration ${v} marked ${flags.applied ? 'applied' : 'rolled back'}`);
      } finally {
        await db.close();
      }
    });

  common(
    migrate
      .command('baseline')
      .description('for a database created before dbops: record migrations 1..N as applied without running them'),
  )
    .requiredOption('--version <n>', 'the last migration the database already has')
    .option('--confirm-production', 'allow this on a production target')
    .action(async (flags: CommonFlags & { version: string; confirmProduction?: boolean }) => {
      const v = int(flags.version, '--version', 1)!;
      const { ctx, target } = await setup(globals(), flags);
      const db = await openIfExists(target);
      if (!db) throw new UsageError(`database ${target.database} does not exist on the server: baseline records what an existing database already has; use \`dbops migrate up\` for a new one`);
      try {
        await ctx.adminEvidence();
        const ids = await baseline(db.conn, v, { ...libOptions(flags), beforeChange: async () => void (await confirmProduction(ctx.config, target, 'migrate baseline', flags.confirmProduction)) });
        await recordAdminAction({ action: 'migrate.baseline', target: target.database, details: { version: v, recorded: ids }, outcome: 'ok' });
        ctx.print({ database: target.database, baseline: v, recorded: ids }, () =>
          `${target.database}: recorded ${ids.join(', ')} as applied (not run); \`dbops migrate verify\` compares the live schema with them`,
        );
      } finally {
        await db.close();
      }
    });
}
