// `dbops keys generate`: an age identity/recipient pair (via the stock age-keygen) and an
// Ed25519 signing pair. Private files are 0600 and never overwritten.
import type { Command } from 'commander';
import { mkdir, writeFile, chmod, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { generateSigningKeyPair, publicKeyFromPem, keyIdOf } from '../../../crypto/signing.js';
import { UsageError, ToolError } from '../../../errors.js';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { recipientFingerprint, resolveRecipients } from '../../../crypto/age.js';
import { recordEvidence } from '../../../repo/evidence-log.js';

export function registerKeys(program: Command, globals: () => GlobalOptions): void {
  const keys = program.command('keys').description('manage encryption and signing keys');
  keys
    .command('generate')
    .description('create age.key (0600), age.pub, signing.key (0600) and signing.pub in a directory')
    .requiredOption('--out <dir>', 'directory to write the keys into (created if missing)')
    .addHelpText('after', '\nExample:\n  dbops keys generate --out ./keys\n  # keep age.key offline (escrow); the backup host needs age.pub and signing.key only')
    .action(async (opts: { out: string }) => {
      const dir = resolve(opts.out);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const files = ['age.key', 'age.pub', 'signing.key', 'signing.pub'].map((f) => join(dir, f));
      for (const f of files) {
        const exists = await access(f).then(() => true, () => false);
        if (exists) throw new UsageError(`${f} already exists; refusing to overwrite a key (choose another --out directory)`);
      }
      let recipient: string;
      try {
        await execa('age-keygen', ['-o', files[0]!], { reject: true });
        await chmod(files[0]!, 0o600);
        recipient = (await execa('age-keygen', ['-y', files[0]!])).stdout.trim();
      } catch (err) {
        throw new ToolError('age-keygen', (err as { code?: string }).code === 'ENOENT' ? 'not found on PATH; install age (Debian: apt-get install age)' : String((err as Error).message).split('\n')[0]!);
      }
      await writeFile(files[1]!, `${recipient}\n`, { mode: 0o644, flag: 'wx' });
      const { privatePem, publicPem } = generateSigningKeyPair();
      await writeFile(files[2]!, privatePem, { mode: 0o600, flag: 'wx' });
      await writeFile(files[3]!, publicPem, { mode: 0o644, flag: 'wx' });
      const keyId = keyIdOf(publicKeyFromPem(publicPem));
      const out = { ageIdentityFile: files[0], ageRecipient: recipient, signingKeyFile: files[2], signingPublicKeyFile: files[3], signingKeyId: keyId };
      if (globals().json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else
        process.stdout.write(
          `age recipient   ${recipient}\nsigning key id  ${keyId}\n\nexport DBOPS_AGE_RECIPIENTS=${files[1]}\nexport DBOPS_SIGNING_KEY_FILE=${files[2]}\n# to verify content or restore: export DBOPS_AGE_IDENTITY_FILE=${files[0]}\n`,
        );
    });

  for (const [name, adding] of [['add-recipient', true], ['remove-recipient', false]] as const) {
    keys
      .command(name)
      .description(`${adding ? 'add an age recipient to' : 'remove an age recipient from'} the repository (re-signs repo.json); new backups are encrypted to the new list, old ones keep theirs`)
      .argument('<recipient>', 'an age1… public key, or a file holding one')
      .addHelpText('after', `\nExample:\n  dbops keys ${name} ./escrow/age.pub\n  # then set age.recipients to the same list (or leave it unset: repo.json's list is used)`)
      .action(async (ref: string) => {
        const ctx = await CommandContext.create(globals(), { 'age.recipients': [] });
        const repo = await ctx.writableRepository();
        const [recipient] = await resolveRecipients([ref]);
        const fp = recipientFingerprint(recipient!);
        const current = repo.recipients;
        const has = current.some((r) => recipientFingerprint(r) === fp);
        if (adding && has) throw new UsageError(`recipient ${fp} is already one of the repository's recipients; nothing to change`);
        if (!adding && !has) throw new UsageError(`recipient ${fp} is not one of the repository's recipients (${current.map(recipientFingerprint).join(', ')}); nothing to change`);
        const next = adding ? [...current, recipient!] : current.filter((r) => recipientFingerprint(r) !== fp);
        const updated = await repo.updateRecipients(next);
        await recordEvidence(repo, { action: 'recipients', subject: fp, outcome: 'ok', summary: `${adding ? 'added' : 'removed'} age recipient ${fp}`, details: { recipients: updated.recipients.map((r) => r.fingerprint) } });
        ctx.print({ repositoryId: updated.id, recipients: updated.recipients.map((r) => r.fingerprint) }, () => `${adding ? 'added' : 'removed'} recipient ${fp}; the repository's recipients are now ${updated.recipients.map((r) => r.fingerprint).join(', ')}`);
      });
  }
}
