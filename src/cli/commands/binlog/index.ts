// `dbops binlog ship [--once]` and `dbops binlog status`: thin wrappers around
// src/binlog (streaming + shipping, and the repository-only shipping status).
import type { Command } from 'commander';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { shipBinlogs } from '../../../binlog/shipper.js';
import { shippingStatus, type ShippingStatus } from '../../../binlog/shipping-status.js';
import { assertSourceId } from '../../../storage/layout.js';
import { sourceConnection } from '../../../config/connections.js';
import { bytes, table } from '../../format.js';
import { registerBinlogFind } from './find.js';

export function registerBinlog(program: Command, globals: () => GlobalOptions): void {
  const binlog = program.command('binlog').description('continuous binlog shipping for point-in-time recovery');

  binlog
    .command('ship')
    .description('stream binlogs from the source and ship every closed file (zstd → age → storage, signed segment manifest last); runs until SIGTERM/SIGINT')
    .option('--once', 'rotate (FLUSH BINARY LOGS), ship everything closed, exit (for cron and tests)')
    .option('--source <url>', 'source server, mysql://user@host:port (password from DBOPS_SOURCE_PASSWORD_FILE; flags show in ps)')
    .option('--max-lag <seconds>', 'newest shipped event at most this old while the source writes (binlog.maxLagSeconds, default 60)')
    .option('--spool-dir <dir>', 'local spool directory (binlog.spoolDir)')
    .addHelpText(
      'after',
      '\nThe source account needs REPLICATION SLAVE (streaming), REPLICATION CLIENT / BINLOG MONITOR (SHOW BINARY LOGS)\nand RELOAD (FLUSH BINARY LOGS: about once a minute, so the file shipped in parts as it grows is shipped whole;\nwith binlog.partialSegments false it is what bounds the lag).\n\nExample:\n  DBOPS_SOURCE_URL=mysql://shipper@db:3306 DBOPS_SOURCE_PASSWORD_FILE=/run/secrets/shipper dbops binlog ship\n  dbops binlog ship --once --json',
    )
    .action(async (opts: { once?: boolean; source?: string; maxLag?: string; spoolDir?: string }) => {
      const ctx = await CommandContext.create(globals(), {
        'source.url': opts.source,
        'binlog.maxLagSeconds': opts.maxLag,
        'binlog.spoolDir': opts.spoolDir,
      });
      const repo = await ctx.writableRepository();
      const source = sourceConnection(ctx.config);
      const signal = ctx.signal;
      // Keep a listener installed while we wind down: with none left, execa's signal-exit
      // re-raises the first SIGTERM and the process dies before closed files are shipped.
      // A second signal exits at once.
      let signals = 0;
      const windDown = (): void => {
        if (++signals > 1) process.exit(130);
      };
      process.on('SIGINT', windDown).on('SIGTERM', windDown);
      try {
        const result = await shipBinlogs({
          repo,
          source,
          recipients: repo.recipients,
          compressionLevel: ctx.config.compression.level,
          compressionThreads: ctx.config.compression.threads,
          spoolRoot: resolve(ctx.config.binlog.spoolDir ?? join(tmpdir(), 'dbops-binlog-spool')),
          maxLagSeconds: ctx.config.binlog.maxLagSeconds,
          partialSegments: ctx.config.binlog.partialSegments,
          ...(ctx.config.binlog.connectionServerId !== undefined ? { connectionServerId: ctx.config.binlog.connectionServerId } : {}),
          once: opts.once ?? false,
          signal,
        });
        ctx.print(result, () => {
          const lines = [`${result.serverUuid}: shipped ${result.shipped.length} file(s)${result.lastShipped ? `, up to ${result.lastShipped}` : ''}${result.partials ? `, ${result.partials} partial segment(s)` : ''}${result.forcedRotations ? `, ${result.forcedRotations} forced rotation(s)` : ''}`];
          for (const g of result.gaps) lines.push(`! gap ${g.from} … ${g.to} (${g.reason})`);
          return lines.join('\n');
        });
      } finally {
        process.removeListener('SIGINT', windDown).removeListener('SIGTERM', windDown);
        ctx.releaseSignals();
      }
    });

  binlog
    .command('status')
    .description('per source: shipped files, newest shipped event, lag in seconds, gaps (from the repository alone)')
    .option('--server-uuid <id>', 'only this source')
    .addHelpText('after', '\nExample:\n  dbops binlog status --json | jq ".sources[].lagSeconds"')
    .action(async (opts: { serverUuid?: string }) => {
      const ctx = await CommandContext.create(globals());
      const repo = await ctx.repository();
      if (opts.serverUuid) assertSourceId(opts.serverUuid);
      const ids = opts.serverUuid ? [opts.serverUuid] : await repo.binlogs.sources();
      const sources: ShippingStatus[] = [];
      for (const id of ids) sources.push(await shippingStatus(repo, id));
      ctx.print({ repositoryId: repo.config.id, sources }, () => human(sources, repo.storage.location));
    });

  registerBinlogFind(binlog, globals);
}

function human(sources: ShippingStatus[], location: string): string {
  if (sources.length === 0) return `no binlogs shipped to ${location} yet`;
  const rows = [['SOURCE', 'FILES', 'FIRST', 'LAST', 'STORED', 'NEWEST EVENT', 'LAG', 'GAPS']];
  for (const s of sources) {
    rows.push([s.serverUuid, String(s.files), s.firstFile ?? '-', s.lastFile ?? '-', bytes(s.storedBytes), s.newestEventTime?.replace(/\.\d+Z$/, 'Z') ?? '-', s.lagSeconds === null ? '-' : `${s.lagSeconds} s`, String(s.gaps.length)]);
  }
  const lines = [table(rows)];
  for (const s of sources) {
    if (s.partial) lines.push(`  ${s.serverUuid}: ${s.partial.file} shipped as it grows, to position ${s.partial.endPosition} (${s.partial.parts} partial segment(s), last event ${s.partial.lastEventTime.replace(/\.\d+Z$/, 'Z')})`);
    for (const g of s.gaps) lines.push(`! ${s.serverUuid}: gap ${g.from} … ${g.to} (${g.reason}${g.recorded ? '' : ', no gap record'}): point-in-time recovery cannot cross it`);
    for (const p of s.problems) lines.push(`! ${s.serverUuid}: ${p}`);
  }
  return lines.join('\n');
}
