// `dbops report list|show|verify|html`: restore-test evidence for auditors. `verify` works
// offline on a file with only the public key; everything else reads the repository.
import type { Command } from 'commander';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { renderReportHtml } from '../../../report/report-html.js';
import { renderReportIndexHtml } from '../../../report/report-index-html.js';
import { loadPublicKeyFile } from '../../../crypto/signing.js';
import { parseDuration } from '../../../util/duration.js';
import { parseTime } from '../../../pitr/target-spec.js';
import { table } from '../../format.js';
import { seconds } from '../../../report/html.js';
import { VerificationError } from '../../../errors.js';
import { verifyReportBytes } from '../../../repo/report-store.js';

export function registerReport(program: Command, globals: () => GlobalOptions): void {
  const report = program.command('report').description('restore-test reports: list, show, verify (offline), html');

  report
    .command('list')
    .description('reports, newest last, each verified')
    .option('--since <duration|time>', 'only reports newer than this: a duration (90d) or an ISO 8601 time with zone')
    .action(async (opts: { since?: string }) => {
      const since = opts.since !== undefined ? sinceTime(opts.since) : undefined;
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      const listed = await repo.reports.list(since);
      const rows = listed.filter((l) => l.report).map((l) => {
        const r = l.report!;
        return { id: r.id, createdAt: r.createdAt, verdict: r.verdict, depth: r.depth, backupId: r.backup.id, rtoSeconds: r.rtoSeconds, rpoSeconds: r.rpoSeconds, backupAgeSeconds: r.backupAgeSeconds, failedChecks: r.checks.filter((c) => !c.ok).length };
      });
      const invalid = listed.filter((l) => l.problem).map((l) => ({ id: l.id, problem: l.problem }));
      // A report the evidence log pins but that is gone or changed (a deleted FAIL) counts too.
      for (const p of (await repo.evidence.verify()).problems) if (p.key.startsWith('reports/')) invalid.push({ id: p.key, problem: p.problem });
      ctx.print({ reports: rows, invalid }, () => {
        if (!rows.length && !invalid.length) return 'no restore-test reports yet';
        const t = [['ID', 'TESTED AT', 'VERDICT', 'DEPTH', 'BACKUP', 'RTO', 'RPO', 'BACKUP AGE']];
        for (const r of rows) t.push([r.id, r.createdAt.replace(/\.\d+Z$/, 'Z'), r.verdict.toUpperCase(), r.depth, r.backupId, seconds(r.rtoSeconds), seconds(r.rpoSeconds), seconds(r.backupAgeSeconds)]);
        return [table(t), ...invalid.map((i) => `! ${i.id}: ${i.problem}`)].join('\n');
      });
      if (invalid.length) throw new VerificationError(`${invalid.length} report(s) missing or failing verification, first: ${invalid[0]!.problem}`, invalid[0]!.id);
    });

  report
    .command('show')
    .description('one report (verified), as text or --json')
    .argument('<id>', 'report id, unique prefix or "latest"')
    .action(async (id: string) => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      const r = await repo.reports.get(id);
      ctx.print(r, () => {
        const lines = [
          `report   ${r.id}  ${r.verdict.toUpperCase()} (depth ${r.depth})`,
          `tested   ${r.createdAt}`,
          `backup   ${r.backup.id} (${r.backup.selection})`,
          `point    requested ${r.target.requested}; reached ${r.target.reached ? `${r.target.reached.binlogFile}:${r.target.reached.binlogPosition}` : '—'}`,
          `sandbox  ${r.sandbox.driver} ${r.sandbox.image ?? ''} ${r.sandbox.serverVersion ?? ''}`.trimEnd(),
          `RTO      ${seconds(r.rtoSeconds)} (${Object.entries(r.phases).map(([k, v]) => `${k} ${seconds(v)}`).join(', ')})`,
          `RPO      ${seconds(r.rpoSeconds)}${r.rpo ? ` at ${r.finishedAt} (newest offsite event ${r.rpo.newestOffsiteEvent}, ${r.rpo.basis})` : r.version === 1 ? ' (format-1 report: not measured)' : ''}`,
          `age      backup ${seconds(r.backupAgeSeconds)} old at report time (not the RPO)`,
          ...(r.error ? [`error    ${r.error}`] : []),
          `checks   ${r.checks.filter((c) => c.ok).length}/${r.checks.length} passed`,
          ...r.checks.filter((c) => !c.ok).map((c) => `  FAILED ${c.name} ${c.object ?? ''}: ${c.detail ?? `expected ${JSON.stringify(c.expected)}, got ${JSON.stringify(c.actual)}`}`),
        ];
        return lines.join('\n');
      });
    });

  report
    .command('verify')
    .description('check a report signature offline (exit 3 on any change)')
    .argument('<file-or-id>', 'a report JSON file, or a report id in the repository')
    .option('--public-key <file>', 'the pinned signing.pub (default: signing.publicKeyFile, else the repository key)')
    .addHelpText('after', '\nExample (offline, no repository access):\n  dbops report verify 20261127T020000Z-ab12cd.json --public-key signing.pub')
    .action(async (ref: string, opts: { publicKey?: string }) => {
      const ctx = await CommandContext.create(globals(), { 'signing.publicKeyFile': opts.publicKey });
      let r;
      if (existsSync(ref)) {
        const keyFile = ctx.config.signing.publicKeyFile;
        const key = keyFile ? await loadPublicKeyFile(keyFile) : (await ctx.repository()).publicKey;
        r = verifyReportBytes(await readFile(ref), key, ref);
      } else {
        r = await (await ctx.repository()).reports.get(ref);
      }
      ctx.print({ id: r.id, verdict: r.verdict, signatureValid: true, keyId: r.signature.keyId }, () => `report ${r.id}: signature valid (key ${r.signature.keyId}); verdict ${r.verdict.toUpperCase()}`);
    });

  report
    .command('html')
    .description('write every report as HTML plus an index: evidence chain banner, runs and RTO over time per depth, coverage per backup (exit 3 when a report or the chain does not verify)')
    .requiredOption('--out <dir>', 'output directory')
    .action(async (opts: { out: string }) => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      const listed = await repo.reports.list();
      const chain = await repo.evidence.verify();
      await mkdir(opts.out, { recursive: true });
      const reports = listed.flatMap((l) => (l.report ? [l.report] : []));
      const sequences = new Map(chain.entries.filter((e) => e.action === 'restore-test' && e.subject).map((e) => [e.subject!, e.sequence]));
      for (const r of reports) await writeFile(join(opts.out, `${r.id}.html`), renderReportHtml(r, { evidenceSequence: sequences.get(r.id) ?? null }));
      const problems = listed.filter((l) => l.problem).map((l) => ({ id: l.id, problem: l.problem! }));
      // A report the evidence log pins but that is gone or changed (a deleted FAIL) counts too.
      for (const p of chain.problems) if (p.key.startsWith('reports/')) problems.push({ id: p.key, problem: p.problem });
      const backups = (await repo.backups.list()).map((b) => ({ id: b.id, completedAt: b.manifest?.completedAt ?? null, parent: b.manifest?.physical?.parent ?? null, ...(b.problem ? { problem: b.problem } : {}) }));
      const generatedAt = new Date().toISOString();
      await writeFile(join(opts.out, 'index.html'), renderReportIndexHtml({ reports, problems, backups, chain: { lastSequence: chain.lastSequence, problems: chain.problems.map((p) => p.problem) }, generatedAt }));
      ctx.print({ out: opts.out, reports: reports.length, invalid: problems.length, chainVerifies: chain.problems.length === 0 }, () =>
        [`wrote ${reports.length} report page(s) and index.html to ${opts.out}`, ...(chain.problems.length ? [`evidence chain does NOT verify (${chain.problems.length} problem(s)), first: ${chain.problems[0]!.problem}`] : [])].join('\n'),
      );
      // The pages are written either way (they show the damage); the exit code says it too.
      const first = problems[0] ?? (chain.problems[0] ? { id: chain.problems[0].key, problem: chain.problems[0].problem } : undefined);
      if (first) throw new VerificationError(`the index shows ${problems.length} report(s) missing or failing verification and ${chain.problems.length} evidence problem(s); first: ${first.problem}`, first.id);
    });
}

/** `--since`: a time when it starts like a date (checked strictly), else a duration back from now. */
function sinceTime(text: string): Date {
  if (/^\s*\d{4}-/.test(text)) return parseTime(text, '--since');
  return new Date(Date.now() - parseDuration(text, '--since'));
}
