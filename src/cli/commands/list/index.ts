// `dbops list`: backups with a valid manifest (the only ones that exist), oldest first, with
// their kind, and for physical incrementals the chain they restore with (full ← incr ← incr).
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { bytes, table } from '../../format.js';
import { pitrUnavailable } from '../../../manifest/point-in-time.js';
import { describeChain, linkProblem } from '../../../physical/chain.js';
import type { BackupManifest } from '../../../manifest/backup-manifest.js';

/** Each physical backup's chain (full first) among the listed manifests, or where it breaks. */
function chainsOfListed(manifests: BackupManifest[]): Map<string, { ids: string[]; problem?: string }> {
  const byId = new Map(manifests.map((m) => [m.id, m]));
  const out = new Map<string, { ids: string[]; problem?: string }>();
  for (const m of manifests) {
    const ids = [m.id];
    let problem: string | undefined;
    let child = m;
    for (let p = m.physical?.parent ?? null; p !== null; ) {
      const parent = byId.get(p);
      if (!parent || ids.includes(p)) {
        problem = `${p} is missing or does not verify: it cannot be restored`;
        break;
      }
      problem = linkProblem(child, parent);
      if (problem) break;
      ids.unshift(p);
      child = parent;
      p = parent.physical?.parent ?? null;
    }
    out.set(m.id, { ids, ...(problem ? { problem } : {}) });
  }
  return out;
}

export function registerList(program: Command, globals: () => GlobalOptions): void {
  program
    .command('list')
    .description('list backups: id, kind (and chain), time, size raw/stored, databases, consistent point')
    .addHelpText('after', '\nExample:\n  dbops list --json | jq ".backups[-1].id"')
    .action(async () => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      const listed = await repo.backups.list();
      const chains = chainsOfListed(listed.flatMap((b) => (b.manifest ? [b.manifest] : [])));
      const backups = listed.filter((b) => b.manifest).map((b) => {
        const m = b.manifest!;
        const chain = chains.get(m.id)!;
        return {
          id: m.id,
          kind: m.kind,
          incremental: m.physical?.parent != null,
          ...(m.physical ? { parent: m.physical.parent, lsn: { from: m.physical.fromLsn, to: m.physical.toLsn } } : {}),
          ...(m.kind === 'physical' ? { chain: chain.ids, ...(chain.problem ? { chainProblem: chain.problem } : {}) } : {}),
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
        const rows = [['ID', 'KIND', 'COMPLETED', 'RAW', 'STORED', 'DATABASES', 'BINLOG POSITION', 'GTID']];
        for (const b of backups) {
          const cp = b.consistentPoint;
          const kind = b.kind === 'physical' ? (b.incremental ? 'physical incr' : 'physical full') : 'logical';
          rows.push([b.id, kind, b.completedAt.replace(/\.\d+Z$/, 'Z'), bytes(b.rawBytes), bytes(b.storedBytes), b.databases.join(','), cp.binlogFile ? `${cp.binlogFile}:${cp.binlogPosition}` : '-', cp.gtidSet ?? '-']);
        }
        const lines = [table(rows)];
        // One line per chain, from each incremental nothing applies on yet.
        const parents = new Set(backups.flatMap((b) => (b.incremental && b.parent ? [b.parent] : [])));
        for (const b of backups) if (b.incremental && !parents.has(b.id)) lines.push(`chain: ${describeChain(b.chain ?? [b.id])}${b.chainProblem ? ` (BROKEN: ${b.chainProblem})` : ''}`);
        for (const b of backups) if (b.pointInTimeRecoveryProblem) lines.push(`note: ${b.id}: point-in-time recovery impossible: ${b.pointInTimeRecoveryProblem}`);
        for (const i of invalid) lines.push(`! ${i.id}: ${i.problem} (not usable)`);
        return lines.join('\n');
      });
    });
}
