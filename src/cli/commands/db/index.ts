// `dbops db report`: one look at the source as database monitoring sees it (slow statements,
// index usage, storage and growth, connections, new error-log entries) with the alert rules that
// fire, as text, --json or a self-contained HTML page (--html FILE). Read only on the server, as
// the monitor account (monitor.*, else the source's). With a writable repository the look also
// keeps the day's storage sample, which growth is fitted to; the error-log position is the
// daemon's and is only read here.
import type { Command } from 'commander';
import { access, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { monitorConnection } from '../../../config/connections.js';
import { withConnection } from '../../../mysql/client.js';
import { collectDbReport } from '../../../monitor/collect.js';
import { alertRules } from '../../../monitor/db-alerts.js';
import { renderDbReportText } from '../../../monitor/report-text.js';
import { renderDbReportHtml } from '../../../monitor/report-html.js';
import type { Repository } from '../../../repo/repository.js';
import { UsageError } from '../../../errors.js';
import { log } from '../../../util/logger.js';

/** The repository the history lives in: writable with a signing key, else read only; none when not configured or not initialised. */
async function historyRepository(ctx: CommandContext): Promise<Repository | undefined> {
  if (!ctx.config.storage.url) return undefined;
  try {
    return ctx.config.signing.keyFile ? await ctx.writableRepository() : await ctx.repository();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    log.warn({ err: err.message }, 'no storage history: the repository cannot be opened');
    return undefined;
  }
}

export function registerDb(program: Command, globals: () => GlobalOptions): void {
  const db = program.command('db').description('database monitoring of the source: slow statements, index usage, storage growth, connections, error log');
  db.command('report')
    .description('one look at the source: top statements, unused and redundant indexes, table and partition sizes with growth, connections, new error-log entries, and the alert rules that fire')
    .option('--source <url>', 'source server (prefer DBOPS_SOURCE_URL; a monitor.url account is used first)')
    .option('--html <file>', 'also write the report as a self-contained HTML page')
    .addHelpText(
      'after',
      '\nConfig: monitor.* (account, topStatements, diskLimit and alert thresholds); performance_schema=ON on the server gives statements, index usage and full scans.\n\nExample:\n  dbops db report\n  dbops db report --json | jq \'.statements.statements[0]\'\n  dbops db report --html /var/www/dbops/db.html',
    )
    .action(async (opts: { source?: string; html?: string }) => {
      const ctx = await CommandContext.create(globals(), { 'source.url': opts.source });
      const html = opts.html !== undefined ? resolve(opts.html) : undefined;
      if (html !== undefined) {
        try {
          await access(dirname(html), constants.W_OK);
        } catch (err) {
          throw new UsageError(`cannot write --html ${opts.html}: ${dirname(html)} is not a writable directory (${(err as NodeJS.ErrnoException).code}): choose another path`);
        }
      }
      const conn = monitorConnection(ctx.config);
      const repo = await historyRepository(ctx);
      const report = await withConnection(
        conn,
        (client) => collectDbReport(client, { databases: ctx.config.source.databases, topStatements: ctx.config.monitor.topStatements, rules: alertRules(ctx.config), repo, advanceErrorLog: false }),
        { connectTimeoutMs: 10_000 },
      );
      if (html !== undefined) await writeFile(html, renderDbReportHtml(report));
      ctx.print(report, () => `${renderDbReportText(report)}${html ? `\n\nwrote ${html}` : ''}`);
    });
}
