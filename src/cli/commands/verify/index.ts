// `dbops verify`: signature and hashes always; with the identity, decrypt + decompress every part.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { verifyBackup } from '../../../verify/verify-backup.js';
import { checkIdentityFile } from '../../../crypto/age.js';
import { VerificationError } from '../../../errors.js';
import { log } from '../../../util/logger.js';
import { recordEvidence } from '../../../repo/evidence-log.js';
import { Progress } from '../../progress.js';

export function registerVerify(program: Command, globals: () => GlobalOptions): void {
  program
    .command('verify')
    .description('check a backup without a database: manifest signature, hashes, and (with the identity) that every part decrypts and decompresses')
    .argument('[backup]', 'backup id, unique prefix, or "latest"', 'latest')
    .option('--skip-damaged', 'with latest: use the newest backup whose manifest verifies instead of failing (exit 3) on a damaged newest one')
    .addHelpText('after', '\nExamples:\n  dbops verify latest                                  # signature + stored hashes\n  DBOPS_AGE_IDENTITY_FILE=./keys/age.key dbops verify  # also decrypt + decompress every part')
    .action(async (ref: string, opts: { skipDamaged?: boolean }) => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repositoryForEvidence();
      let manifest;
      try {
        manifest = await repo.backups.resolve(ref, { skipDamaged: opts.skipDamaged ?? false });
      } catch (err) {
        if (err instanceof VerificationError) await recordEvidence(repo, { action: 'verify', subject: ref, outcome: 'fail', summary: `verify ${ref}: ${err.message}`, details: { object: err.object ?? null } });
        throw err;
      }
      const identity = ctx.config.age.identityFile ? await checkIdentityFile(ctx.config.age.identityFile) : undefined;
      if (!identity) log.warn('no age identity configured: checking signature and stored hashes only (set DBOPS_AGE_IDENTITY_FILE to also decrypt)');
      const progress = new Progress(identity ? 'verify (decrypt)' : 'verify (stored hashes)');
      let result;
      try {
        result = await verifyBackup(repo, manifest, identity, (done, total) => {
          progress.setTotal(total);
          progress.update(done);
        });
      } finally {
        progress.done();
      }
      const failed = result.parts.filter((p) => !p.ok);
      await recordEvidence(repo, {
        action: 'verify',
        subject: manifest.id,
        outcome: failed.length ? 'fail' : 'pass',
        summary: `verify of backup ${manifest.id} (${result.depth}): ${failed.length ? `${failed.length} of ${result.parts.length} parts bad` : `${result.parts.length} parts OK`}`,
        details: { depth: result.depth, parts: result.parts.length, failed: failed.map((f) => ({ key: f.key, problem: f.problem })) },
      });
      ctx.print(result, () =>
        failed.length === 0
          ? `backup ${manifest.id}: OK (${result.parts.length} parts, ${result.depth === 'content' ? (manifest.kind === 'physical' ? 'decrypted, hashed and extracted by mbstream' : 'decrypted and hashed') : 'stored hashes only'}${result.chain && result.chain.ids.length > 1 ? `; chain ${result.chain.ids.join(' ← ')} whole` : ''})`
          : failed.map((f) => `FAILED ${f.problem}`).join('\n'),
      );
      if (failed.length) throw new VerificationError(`backup ${manifest.id} failed verification: ${failed.length} of ${result.parts.length} parts bad, first: ${failed[0]!.problem}`, failed[0]!.key);
    });
}
