// `dbops doctor`: is this host ready to back up and ship? Each check prints its fix;
// exit 1 when anything blocks backups or shipping (warnings alone exit 0).
// `--print-grants` prints the CREATE USER / GRANT statements of every role instead.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runDoctor } from '../../../doctor/run-doctor.js';
import { CURRENT, grantsText, type GrantsTarget } from '../../../doctor/print-grants.js';
import { OperationError, UsageError } from '../../../errors.js';
import { roleConfigured, sourceConnection } from '../../../config/connections.js';
import { withConnection } from '../../../mysql/client.js';
import { readServerInfo } from '../../../mysql/server-info.js';
import type { Config } from '../../../config/schema.js';

const LABEL = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' } as const;

/** Versions to print grants for: the one named, else the source's, else both current releases. */
async function grantsTargets(config: Config, flavor: string | undefined): Promise<GrantsTarget[]> {
  if (flavor !== undefined) {
    if (flavor !== 'mariadb' && flavor !== 'mysql') throw new UsageError(`--flavor must be mariadb or mysql, not "${flavor}"`);
    return [CURRENT[flavor]];
  }
  if (roleConfigured(config, 'backup')) {
    try {
      return [await withConnection(sourceConnection(config), (db) => readServerInfo(db), { connectTimeoutMs: 5000 })];
    } catch {
      // unreachable: print both
    }
  }
  return [CURRENT.mariadb, CURRENT.mysql];
}

export function registerDoctor(program: Command, globals: () => GlobalOptions): void {
  program
    .command('doctor')
    .description('check source, accounts (TLS, privileges per role), binlog settings, tools, storage, keys and clock; exit 1 when backups are blocked')
    .option('--source <url>', 'source server (prefer DBOPS_SOURCE_URL)')
    .option('--print-grants', 'print CREATE USER / GRANT statements for the backup, admin, restore and monitor roles, and exit')
    .option('--flavor <flavor>', 'with --print-grants: mariadb or mysql (default: the source server\'s, else both)')
    .addHelpText('after', '\nExample:\n  dbops doctor\n  dbops doctor --json | jq \'.checks[] | select(.status != "ok")\'\n  dbops doctor --print-grants --flavor mysql')
    .action(async (opts: { source?: string; printGrants?: boolean; flavor?: string }) => {
      const ctx = await CommandContext.create(globals(), { 'source.url': opts.source });
      if (opts.printGrants) {
        const targets = await grantsTargets(ctx.config, opts.flavor);
        const texts = targets.map((t) => grantsText(ctx.config, t));
        ctx.print({ grants: targets.map((t, i) => ({ flavor: t.flavor, version: t.version, sql: texts[i] })) }, () => texts.join('\n\n'));
        return;
      }
      const result = await runDoctor(ctx.config);
      ctx.print(result, () => {
        const lines: string[] = [];
        for (const c of result.checks) {
          lines.push(`${LABEL[c.status]}  ${c.title}: ${c.detail}`);
          if (c.fix && c.status !== 'ok') lines.push(`      fix: ${c.fix}`);
        }
        const failed = result.checks.filter((c) => c.status === 'fail').length;
        const warned = result.checks.filter((c) => c.status === 'warn').length;
        lines.push(failed ? `${failed} problem(s) block backups; ${warned} warning(s)` : `ready: ${warned} warning(s)`);
        return lines.join('\n');
      });
      if (!result.ok) {
        const first = result.checks.find((c) => c.status === 'fail')!;
        throw new OperationError(`doctor found ${result.checks.filter((c) => c.status === 'fail').length} blocking problem(s); first: ${first.title}: ${first.fix ?? first.detail}`);
      }
    });
}
