// `dbops binlog find`: list shipped binlog transactions matching a statement pattern,
// table, event type and time window, with the FILE:POS a responder hands to `pitr --before`.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { findEvents, OP_TYPES, type FindResult } from '../../../pitr/binlog-find.js';
import { parseTime } from '../../../pitr/target-spec.js';
import { parseTableRef } from '../../../restore/select-parts.js';
import { assertSourceId } from '../../../storage/layout.js';
import { checkIdentityFile } from '../../../crypto/age.js';
import type { OpType } from '../../../pitr/decode-events.js';
import { UsageError } from '../../../errors.js';
import { bytes } from '../../format.js';

interface FindFlags {
  grep?: string;
  table?: string;
  type?: string;
  since?: string;
  until?: string;
  serverUuid?: string;
}

export function registerBinlogFind(binlog: Command, globals: () => GlobalOptions): void {
  binlog
    .command('find')
    .description('decode shipped binlogs and list matching transactions: time, FILE:POS (for pitr --before), GTID, statement or rows')
    .option('--grep <regex>', 'statement text or table name matches this (case-insensitive)')
    .option('--table <db.table>', 'only events on this table')
    .option('--type <type>', `only ${OP_TYPES.join(' | ')}`)
    .option('--since <time>', 'ISO 8601 time with zone')
    .option('--until <time>', 'ISO 8601 time with zone')
    .option('--server-uuid <id>', 'binlog source (default: the only one)')
    .addHelpText('after', '\nExamples:\n  dbops binlog find --type ddl --grep "drop table"\n  dbops binlog find --table shop.orders --type delete --since 2026-11-27T13:00:00Z --json')
    .action(async (opts: FindFlags) => {
      let grep: RegExp | undefined;
      if (opts.grep !== undefined) {
        try {
          grep = new RegExp(opts.grep, 'i');
        } catch (err) {
          throw new UsageError(`--grep "${opts.grep}" is not a valid regular expression: ${(err as Error).message}`);
        }
      }
      if (opts.type !== undefined && !OP_TYPES.includes(opts.type as OpType)) throw new UsageError(`--type must be one of ${OP_TYPES.join(', ')}, not "${opts.type}"`);
      if (opts.table !== undefined) parseTableRef(opts.table);
      if (opts.serverUuid) assertSourceId(opts.serverUuid);
      const since = opts.since !== undefined ? parseTime(opts.since, '--since') : undefined;
      const until = opts.until !== undefined ? parseTime(opts.until, '--until') : undefined;
      if (since && until && since > until) throw new UsageError(`--since ${since.toISOString()} is after --until ${until.toISOString()}: swap them`);
      const ctx = await CommandContext.create(globals());
      const identityFile = await checkIdentityFile(ctx.config.age.identityFile);
      const repo = await ctx.repository();
      try {
        const result = await findEvents({
          repo,
          identityFile,
          ...(opts.serverUuid ? { sourceId: opts.serverUuid } : {}),
          ...(grep ? { grep } : {}),
          ...(opts.table !== undefined ? { table: opts.table } : {}),
          ...(opts.type !== undefined ? { type: opts.type as OpType } : {}),
          ...(since ? { since } : {}),
          ...(until ? { until } : {}),
          signal: ctx.signal,
        });
        ctx.print(result, () => human(result));
      } finally {
        ctx.releaseSignals();
      }
    });
}

function human(r: FindResult): string {
  const lines: string[] = [];
  for (const t of r.matches) {
    for (const op of t.operations) {
      const what = op.rows !== null ? `${op.type.toUpperCase()} ${op.table ?? '?'} ${op.rows} row(s)${op.statement ? `  «${oneLine(op.statement)}»` : ''}` : oneLine(op.statement ?? '');
      lines.push(`${t.time}  ${t.file}:${t.position}  ${t.gtid ?? '-'}  ${what}`);
    }
  }
  lines.push(`${r.matches.length} matching transaction(s) of ${r.transactions} in ${r.files} file(s) (${bytes(r.scannedBytes)}, ${r.skippedFiles} skipped by time or content index) in ${r.seconds.toFixed(1)} s; pitr --before FILE:POS stops just before one`);
  return lines.join('\n');
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 160 ? `${t.slice(0, 157)}…` : t;
}
