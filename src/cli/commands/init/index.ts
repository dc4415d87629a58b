// `dbops init`: writes a signed repo.json to the storage location; never overwrites one.
// With storage.objectLock it first asks the bucket whether it can lock objects and refuses
// (exit 2) when it cannot: every later upload would be rejected or left unprotected.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { initRepository, openRepository } from '../../../repo/repository.js';
import { recordEvidence } from '../../../repo/evidence-log.js';
import { loadSigningKey } from '../../../crypto/signing.js';
import { resolveRecipients } from '../../../crypto/age.js';
import { UsageError } from '../../../errors.js';
import { LOCK_BUCKET_HINT } from '../../../storage/object-lock.js';
import { log } from '../../../util/logger.js';

export function registerInit(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description('create a repository (repo.json) at the storage URL')
    .addHelpText('after', '\nExample:\n  DBOPS_STORAGE_URL=file:///var/backups/dbops DBOPS_AGE_RECIPIENTS=./keys/age.pub \\\n  DBOPS_SIGNING_KEY_FILE=./keys/signing.key dbops init')
    .action(async () => {
      const ctx = await CommandContext.create(globals());
      const storage = await ctx.storage();
      if (storage.lock) {
        const state = await storage.lock.bucketState();
        if (state.enabled === false) throw new UsageError(`storage.objectLock is ${storage.lock.mode}, but ${state.detail}: ${LOCK_BUCKET_HINT}`);
        if (state.enabled === undefined) log.warn({ storage: storage.location }, `${state.detail}; uploads will fail if the bucket has no Object Lock (dbops doctor checks)`);
      }
      const key = await loadSigningKey(ctx.config.signing.keyFile);
      const recipients = await resolveRecipients(ctx.config.age.recipients);
      const repo = await initRepository(storage, key, recipients);
      await recordEvidence(await openRepository(storage, { signer: key }), { action: 'init', subject: repo.id, outcome: 'ok', summary: `repository ${repo.id} created at ${storage.location}`, details: { signingKeyId: repo.signingKeyId, recipients: repo.recipients.map((r) => r.fingerprint), objectLock: storage.lock?.mode ?? null } });
      const lock = storage.lock ? ` (Object Lock ${storage.lock.mode})` : '';
      ctx.print({ repositoryId: repo.id, location: storage.location, signingKeyId: repo.signingKeyId, recipients: repo.recipients.map((r) => r.fingerprint), objectLock: storage.lock?.mode ?? null }, () => `initialised repository ${repo.id} at ${storage.location}${lock} (signing key ${repo.signingKeyId})`);
    });
}
