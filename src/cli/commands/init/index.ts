// `dbops init`: writes a signed repo.json to the storage location; never overwrites one.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { initRepository } from '../../../repo/repository.js';
import { loadSigningKey } from '../../../crypto/signing.js';
import { resolveRecipients } from '../../../crypto/age.js';

export function registerInit(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description('create a repository (repo.json) at the storage URL')
    .addHelpText('after', '\nExample:\n  DBOPS_STORAGE_URL=file:///var/backups/dbops DBOPS_AGE_RECIPIENTS=./keys/age.pub \\\n  DBOPS_SIGNING_KEY_FILE=./keys/signing.key dbops init')
    .action(async () => {
      const ctx = await CommandContext.create(globals());
      const storage = ctx.storage();
      const key = await loadSigningKey(ctx.config.signing.keyFile);
      const recipients = await resolveRecipients(ctx.config.age.recipients);
      const repo = await initRepository(storage, key, recipients);
      ctx.print({ repositoryId: repo.id, location: storage.location, signingKeyId: repo.signingKeyId, recipients: repo.recipients.map((r) => r.fingerprint) }, () => `initialised repository ${repo.id} at ${storage.location} (signing key ${repo.signingKeyId})`);
    });
}
