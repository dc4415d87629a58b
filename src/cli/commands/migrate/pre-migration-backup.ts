// The backup taken before a migration touches anything: a full `runBackup` of the one database into
// the configured repository, so that a migration that fails half-way (MySQL DDL is not
// transactional) can always be undone by `dbops restore <id>`.
import { runBackup } from '../../../backup/run-backup.js';
import { UsageError } from '../../../errors.js';
import type { Repository } from '../../../repo/repository.js';
import type { CommandContext } from '../../context.js';
import type { DatabaseTarget } from '../../../migrate/target.js';
import { roleConfigured, sourceConnection } from '../../../config/connections.js';

export interface BackupPlan {
  repo: Repository;
}

/** Loads what the backup needs before anything is locked; refuses clearly when it is not configured. */
export async function prepareBackup(ctx: CommandContext): Promise<BackupPlan> {
  const missing: string[] = [];
  if (!ctx.config.storage.url) missing.push('storage.url (DBOPS_STORAGE_URL)');
  if (!ctx.config.signing.keyFile) missing.push('signing.keyFile (DBOPS_SIGNING_KEY_FILE)');
  if (missing.length > 0) {
    throw new UsageError(`a backup is taken before every migration but ${missing.join(', ')} is not configured: configure it, or pass --no-backup to migrate without one`);
  }
  return { repo: await ctx.writableRepository() };
}

/** Backs up `target.database`; returns the backup id. */
export async function takeBackup(ctx: CommandContext, plan: BackupPlan, target: DatabaseTarget, reason: string): Promise<string> {
  const manifest = await runBackup({
    repo: plan.repo,
    // The backup account, not the admin one: a dump needs global privileges the admin lacks.
    source: roleConfigured(ctx.config, 'backup') ? { ...sourceConnection(ctx.config), database: undefined } : target.server,
    recipients: plan.repo.recipients,
    databases: [target.database],
    compressionLevel: ctx.config.compression.level,
    compressionThreads: ctx.config.compression.threads,
    includeAccounts: false,
    labels: { reason, database: target.database },
    signal: ctx.signal,
  });
  return manifest.id;
}
