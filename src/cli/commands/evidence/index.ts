// `dbops evidence list|verify|export`: the hash-chained log of restore tests, verifies and
// administrative actions. `verify` checks the whole chain (exit 3 naming the first bad link);
// with a FILE.tar it checks an exported bundle offline, without the repository.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { exportEvidence, verifyEvidenceBundle } from '../../../repo/evidence-bundle.js';
import type { ChainVerification } from '../../../repo/evidence-log.js';
import { loadPublicKeyFile } from '../../../crypto/signing.js';
import { parseDuration } from '../../../util/duration.js';
import { VerificationError } from '../../../errors.js';
import { table } from '../../format.js';

export function registerEvidence(program: Command, globals: () => GlobalOptions): void {
  const evidence = program.command('evidence').description('the tamper-evident log of restore tests, verifies and administrative actions');

  evidence
    .command('list')
    .description('entries, oldest first, after checking the whole chain')
    .option('--since <duration>', 'only entries newer than this, e.g. 90d')
    .action(async (opts: { since?: string }) => {
      const since = opts.since ? new Date(Date.now() - parseDuration(opts.since, '--since')) : undefined;
      const ctx = await CommandContext.create(globals());
      const chain = await (await ctx.repository()).evidence.verify();
      const entries = chain.entries.filter((e) => !since || Date.parse(e.at) >= since.getTime());
      ctx.print({ entries, problems: chain.problems }, () => {
        const rows = [['SEQ', 'AT', 'ACTION', 'SUBJECT', 'OUTCOME', 'BY', 'SUMMARY']];
        for (const e of entries) rows.push([String(e.sequence), e.at.replace(/\.\d+Z$/, 'Z'), e.action, e.subject ?? '-', e.outcome.toUpperCase(), `${e.actor.user}@${e.actor.host}`, e.summary]);
        return [entries.length ? table(rows) : 'no evidence entries yet', ...chain.problems.map((p) => `! ${p.problem}`)].join('\n');
      });
      failOnProblems(chain);
    });

  evidence
    .command('verify')
    .description('check every entry\'s signature and link, the objects they pin, and the head; exit 3 naming the first bad link')
    .argument('[bundle]', 'an exported FILE.tar to check instead of the repository (offline)')
    .option('--public-key <file>', 'the signing public key you were given (default: signing.publicKeyFile, else the repository\'s own)')
    .addHelpText('after', '\nExamples:\n  dbops evidence verify --public-key signing.pub\n  dbops evidence verify evidence-2026q4.tar --public-key signing.pub   # no repository needed')
    .action(async (bundle: string | undefined, opts: { publicKey?: string }) => {
      const ctx = await CommandContext.create(globals(), { 'signing.publicKeyFile': opts.publicKey });
      const keyFile = ctx.config.signing.publicKeyFile;
      let chain: ChainVerification;
      let where: string;
      if (bundle) {
        const r = await verifyEvidenceBundle(bundle, keyFile ? await loadPublicKeyFile(keyFile) : undefined);
        chain = r;
        where = `${bundle} (repository ${r.repositoryId}${r.keyFromBundle ? '; checked against the key inside the bundle: pass --public-key to pin your own' : ''})`;
      } else {
        const repo = await ctx.repository();
        chain = await repo.evidence.verify();
        where = repo.storage.location;
      }
      const range = chain.lastSequence === null ? 'no entries' : `entries ${chain.firstSequence}…${chain.lastSequence}`;
      ctx.print({ ok: chain.problems.length === 0, firstSequence: chain.firstSequence, lastSequence: chain.lastSequence, verified: chain.entries.length, problems: chain.problems }, () =>
        chain.problems.length === 0 ? `evidence log of ${where}: OK (${range}, every signature, link and pinned object checked)` : chain.problems.map((p) => `BAD ${p.problem}`).join('\n'),
      );
      failOnProblems(chain);
    });

  evidence
    .command('export')
    .description('a tar of the entries since a date, the reports they pin, the public key and how to check it all with stock tools')
    .requiredOption('--out <file.tar>', 'bundle to write')
    .option('--since <duration>', 'entries newer than this', '90d')
    .action(async (opts: { out: string; since: string }) => {
      const since = new Date(Date.now() - parseDuration(opts.since, '--since'));
      const ctx = await CommandContext.create(globals());
      const r = await exportEvidence(await ctx.repository(), since, opts.out);
      ctx.print({ file: r.file, entries: r.entries, firstSequence: r.firstSequence, lastSequence: r.lastSequence, objects: r.objects }, () => `wrote ${r.file}: ${r.entries} entries (${r.firstSequence ?? '-'}…${r.lastSequence ?? '-'}), ${r.objects} objects; see VERIFY.txt inside`);
    });
}

function failOnProblems(chain: ChainVerification): void {
  const first = chain.problems[0];
  if (first) throw new VerificationError(`the evidence log does not verify: ${first.problem}${chain.problems.length > 1 ? ` (and ${chain.problems.length - 1} more problem(s))` : ''}`, first.key);
}
