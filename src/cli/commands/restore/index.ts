// `dbops restore`: a logical backup (whole, one database, or one table) into a target server,
// or a physical backup (its whole chain, prepared) into an empty datadir a server can start on.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runRestore } from '../../../restore/run-restore.js';
import { checkIdentityFile } from '../../../crypto/age.js';
import { restoreTargetConnection } from '../../../config/connections.js';
import { withEvidence } from '../../../repo/evidence-log.js';
import { withPartialTarget } from '../../../restore/partial-target.js';
import { planRestore } from '../../../restore/select-parts.js';
import { Progress } from '../../progress.js';
import { restoreDatadir } from '../../../restore/physical-restore.js';
import { UsageError } from '../../../errors.js';
import { describeChain, TAKE_A_FULL } from '../../../physical/chain.js';
import type { CommandContext as Ctx } from '../../context.js';
import type { Repository } from '../../../repo/repository.js';
import type { BackupManifest } from '../../../manifest/backup-manifest.js';

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
  datadir?: string;
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
    .option('--datadir <dir>', 'a physical backup: restore (fetch, extract, prepare the chain) into this empty or new directory, for a server to start on')
    .addHelpText(
      'after',
      '\nExamples:\n  DBOPS_RESTORE_TARGET_PASSWORD_FILE=./target.pw DBOPS_AGE_IDENTITY_FILE=./keys/age.key dbops restore latest --target mysql://root@127.0.0.1:3307\n  dbops restore latest --target … --table horizn.sites --into-schema scratch\n  dbops restore <physical-id> --datadir /var/lib/mysql-restored   # then: chown -R mysql: it, start mariadbd on it',
    )
    .action(async (ref: string, opts: RestoreFlags) => {
      const ctx = await CommandContext.create(globals(), { 'restore.parallel': opts.parallel, 'restore.targetUrl': opts.target });
      if (opts.datadir !== undefined) {
        const clash = (['target', 'database', 'table', 'intoSchema', 'force', 'binlog', 'accounts', 'keepPartial'] as const).find((k) => opts[k] !== undefined);
        if (clash) throw new UsageError(`--${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply with --datadir: a physical backup restores whole, into an empty directory`);
      }
      const identityFile = await checkIdentityFile(ctx.config.age.identityFile);
      const repo = await ctx.repositoryForEvidence();
      const manifest = await repo.backups.resolve(ref, { skipDamaged: opts.skipDamaged ?? false });
      if (manifest.kind === 'physical' || opts.datadir !== undefined) return restorePhysical(ctx, repo, manifest, identityFile, opts.datadir);
      const target = restoreTargetConnection(ctx.config);
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

/** A physical backup into `datadir`: its chain fetched, extracted and prepared. */
async function restorePhysical(ctx: Ctx, repo: Repository, manifest: BackupManifest, identityFile: string, datadir: string | undefined): Promise<void> {
  if (manifest.kind !== 'physical') throw new UsageError(`backup ${manifest.id} is logical: restore it into a server with --target (--datadir takes a physical backup)`);
  if (datadir === undefined) throw new UsageError(`backup ${manifest.id} is physical: restore it into an empty directory with --datadir DIR, then start a server on it (or use dbops restore-test / pitr --datadir)`);
  const progress = new Progress('restore');
  try {
    const result = await withEvidence(
      repo,
      { action: 'restore', subject: manifest.id },
      () => restoreDatadir({ repo, manifest, identityFile, datadir, signal: ctx.signal, onTotal: (n) => progress.setTotal(n), onProgress: (n) => progress.update(n) }),
      (r) => ({
        outcome: 'ok',
        summary: `restored physical backup ${manifest.id} (${describeChain(r.chain)}) into datadir ${r.datadir}`,
        details: { chain: r.chain, datadir: r.datadir, rawBytes: r.rawBytes, phases: r.phases },
      }),
    );
    progress.done();
    ctx.print(result, () =>
      `restored physical backup ${manifest.id} (${describeChain(result.chain)}) into ${result.datadir}: fetched in ${result.phases.fetch.toFixed(1)} s, prepared in ${result.phases.prepare.toFixed(1)} s; the files belong to this user: chown -R mysql:mysql ${result.datadir}, then start the server with --datadir=${result.datadir}; if it becomes a backed-up source, ${TAKE_A_FULL}`,
    );
  } finally {
    progress.done();
    ctx.releaseSignals();
  }
}
