// `dbops list`: backups with a valid manifest (the only ones that exist), oldest first.
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { bytes, table } from '../../format.js';
import { pitrUnavailable } from '../../../manifest/point-in-time.js';

export function registerList(program: Command, globals: () => GlobalOptions): void {
  program
    .command('list')
    .description('list backups: id, time, size raw/stored, databases, consistent point')
    .addHelpText('after', '\nExample:\n  dbops list --json | jq ".backups[-1].id"')
    .action(async () => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      const listed = await repo.backups.list();
      const backups = listed.filter((b) => b.manifest).map((b) => {
        const m = b.manifest!;
        return {
          id: m.id,
          startedAt: m.startedAt,
          completedAt: m.completedAt,
          rawBytes: m.totals.rawBytes,
          storedBytes: m.totals.storedBytes,
          rows: m.totals.rows,
          databases: m.databases,
          source: { flavor: m.source.flavor, version: m.source.version, serverUuid: m.source.serverUuid },
          consistentPoint: m.consistentPoint,
          warnings: m.warnings.length,
          pointInTimeRecovery: pitrUnavailable(m) === undefined,
          ...(pitrUnavailable(m) ? { pointInTimeRecoveryProblem: pitrUnavailable(m) } : {}),
        };
      });
      const invalid = listed.filter((b) => b.problem).map((b) => ({ id: b.id, problem: b.problem }));
      ctx.print({ repositoryId: repo.config.id, backups, invalid }, () => {
        if (backups.length === 0 && invalid.length === 0) return `no backups in ${repo.storage.location}`;
        const rows = [['ID', 'COMPLETED', 'RAW', 'STORED', 'DATABASES', 'BINLOG POSITION', 'GTID']];
        for (const b of backups) {
          const cp = b.consistentPoint;
          rows.push([b.id, b.completedAt.replace(/\.\d+Z$/, 'Z'), bytes(b.rawBytes), bytes(b.storedBytes), b.databases.join(','), cp.binlogFile ? `${cp.binlogFile}:${cp.binlogPosition}` : '-', cp.gtidSet ?? '-']);
        }
        const lines = [table(rows)];
        for (const b of backups) if (b.pointInTimeRecoveryProblem) lines.push(`note: ${b.id}: point-in-time recovery impossible: ${b.pointInTimeRecoveryProblem}`);
        for (const i of invalid) lines.push(`! ${i.id}: ${i.problem} (not usable)`);
        return lines.join('\n');
      });
    });
}
