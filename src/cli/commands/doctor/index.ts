// `dbops doctor`: is this host ready to back up and ship? Each check prints its fix;
// exit 1 when anything blocks backups or shipping (warnings alone exit 0).
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { runDoctor } from '../../../doctor/run-doctor.js';
import { OperationError } from '../../../errors.js';

const LABEL = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' } as const;

export function registerDoctor(program: Command, globals: () => GlobalOptions): void {
  program
    .command('doctor')
    .description('check source, privileges (prints the exact GRANT), binlog settings, tools, storage, keys and clock; exit 1 when backups are blocked')
    .option('--source <url>', 'source server (prefer DBOPS_SOURCE_URL)')
    .addHelpText('after', '\nExample:\n  dbops doctor\n  dbops doctor --json | jq \'.checks[] | select(.status != "ok")\'')
    .action(async (opts: { source?: string }) => {
      const ctx = await CommandContext.create(globals(), { 'source.url': opts.source });
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
