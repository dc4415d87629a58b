// `dbops checksum`: per-table content checksums of the source inside one consistent
// snapshot at a recorded binlog position, signed into the repository for restore tests.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { takeChecksums } from '../../../checksum/take-checksums.js';
import { sourceConnection } from '../../../config/connections.js';

export function registerChecksum(program: Command, globals: () => GlobalOptions): void {
  program
    .command('checksum')
    .description('take signed per-table content checksums of the source in one consistent snapshot (for content-level restore tests)')
    .option('--source <url>', 'source server (prefer DBOPS_SOURCE_URL)')
    .option('--databases <list>', 'comma-separated databases (default: source.databases, else all)')
    .addHelpText('after', '\nExample:\n  dbops checksum && dbops restore-test --depth content')
    .action(async (opts: { source?: string; databases?: string }) => {
      const ctx = await CommandContext.create(globals(), { 'source.url': opts.source, 'source.databases': opts.databases });
      const repo = await ctx.writableRepository();
      const set = await takeChecksums(sourceConnection(ctx.config), ctx.config.source.databases);
      const stored = await repo.checksums.save(set);
      const tables = Object.values(stored.tables).reduce((n, t) => n + Object.keys(t).length, 0);
      ctx.print({ id: stored.id, point: stored.point, tables, seconds: stored.seconds }, () => `checksums ${stored.id}: ${tables} tables at ${stored.point.binlogFile}:${stored.point.binlogPosition} (${stored.seconds.toFixed(1)} s)`);
    });
}
