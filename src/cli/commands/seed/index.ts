// `dbops seed`: fills a migrated, empty horizn_ database with realistic, deterministic data of about
// the requested size (demo, tests, benchmarks) and reports the load rate.
import type { Command } from 'commander';
import type { ConnectionOptions } from 'mysql2/promise';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { seed, DEFAULT_SEED_END_DATE, DEV_PASSWORD, DEV_USERNAME } from '../../../seed/index.js';
import { UsageError } from '../../../errors.js';
import { bytes } from '../../format.js';
import { Progress } from '../../progress.js';
import { confirmProduction } from '../migrate/production-guard.js';
import { resolveTarget } from '../../../migrate/target.js';
import { checkedConnectionOptions } from '../../../mysql/client.js';
import { parseSize } from './parse-size.js';

interface SeedFlags {
  source?: string;
  database?: string;
  size: string;
  sites?: string;
  days?: string;
  seed?: string;
  endDate?: string;
  truncate?: boolean;
  binlog: boolean;
  confirmProduction?: boolean;
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${flag} must be an integer, got "${value}"`);
  return n;
}

export function registerSeed(program: Command, globals: () => GlobalOptions): void {
  program
    .command('seed')
    .description('fill a migrated, empty horizn_ database with realistic, deterministic analytics data')
    .requiredOption('--size <size>', 'about this much table data, e.g. 50MB, 1GB')
    .option('--source <url>', 'server, mysql://user:pass@host:port (prefer DBOPS_SOURCE_URL)')
    .option('--database <name>', 'database to fill (default: the one in source.url, else horizn)')
    .option('--sites <n>', 'number of sites (default 3)')
    .option('--days <n>', 'days of history (default 30)')
    .option('--seed <s>', 'PRNG seed: the same seed and options give identical tables (default 1)')
    .option('--end-date <YYYY-MM-DD>', `last day of data, UTC (default ${DEFAULT_SEED_END_DATE})`)
    .option('--truncate', 'empty the analytics tables first instead of refusing when they hold data')
    .option('--no-binlog', 'keep the load out of the binary log (SET sql_log_bin = 0; needs BINLOG ADMIN or SUPER)')
    .option('--confirm-production', 'allow seeding a production target')
    .addHelpText('after', '\nExamples:\n  dbops migrate up --no-backup && dbops seed --size 1GB\n  dbops seed --size 50MB --sites 5 --days 90 --seed 42 --database horizn_demo')
    .action(async (flags: SeedFlags) => {
      const ctx = await CommandContext.create(globals(), { 'source.url': flags.source });
      const target = resolveTarget(ctx.config, flags.database);
      await confirmProduction(ctx.config, target, 'seed', flags.confirmProduction);
      const s = target.server;
      // Connection options rather than a connection: the seed opens one loader per raw table
      // (with the account's TLS, settled by one checked connection first).
      const options: ConnectionOptions = { ...(await checkedConnectionOptions(s, { database: target.database })), dateStrings: true, supportBigNumbers: true };
      const sizeBytes = parseSize(flags.size);
      const progress = new Progress('seed', sizeBytes);
      const sites = int(flags.sites, '--sites');
      const days = int(flags.days, '--days');
      try {
        const result = await seed(options, {
          sizeBytes,
          ...(sites !== undefined ? { sites } : {}),
          ...(days !== undefined ? { days } : {}),
          ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
          ...(flags.endDate !== undefined ? { endDate: flags.endDate } : {}),
          truncate: flags.truncate ?? false,
          noBinlog: !flags.binlog,
          onProgress: (p) => progress.update(p.bytesSent),
        });
        progress.done();
        ctx.print({ database: target.database, ...result }, () =>
          [
            `seeded ${target.database}: ${result.from} .. ${result.to}, ${result.sites} site(s), seed ${result.seed}`,
            `rows: ${Object.entries(result.rows).map(([t, n]) => `${t} ${n}`).join(', ')}`,
            `dashboard login (development only): ${DEV_USERNAME} / ${DEV_PASSWORD}`,
            `table data ${bytes(result.dataBytes)} + indexes ${bytes(result.indexBytes)}; raw load ${result.loadSeconds.toFixed(1)} s (index build ${result.indexSeconds.toFixed(1)} s of it) = ${result.loadMBps.toFixed(1)} MB/s; total ${result.totalSeconds.toFixed(1)} s`,
          ].join('\n'),
        );
      } finally {
        progress.done();
      }
    });
}
