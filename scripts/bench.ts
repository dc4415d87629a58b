// `npm run bench`: how fast and how lean `dbops backup` is, against the shell pipelines
// any cron script could run instead, how much faster `dbops restore` loads than
// `mariadb < dump.sql`, and how `dbops pitr` replays binlogs against `mariadb-binlog |
// mariadb` and how far `dbops binlog ship` lags under load, how physical backups and restores compare
// with mariadb-backup's own pipeline and with the logical ones, on a generated dataset of a chosen size. Starts a
// throwaway MariaDB, seeds it, measures, prints a table, writes bench-results/*.json,
// and tears everything down (also on Ctrl-C). See scripts/bench/args.ts for flags.
import './quiet-logs.js';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTools } from './ensure-tools.js';
import { parseArgs } from './bench/args.js';
import { prepareDataset, type Dataset } from './bench/dataset.js';
import { setWarmMemoryBytes } from './bench/warm-memory.js';
import type { BenchGroupContext } from './bench/context.js';
import { runBackupBench, type BackupBenchResult } from './bench/backup-cases.js';
import { runRestoreBench, type RestoreBenchResult } from './bench/restore-cases.js';
import { formatRestoreTable, restoreJson } from './bench/restore-report.js';
import { runPhysicalBench, type PhysicalBenchResult } from './bench/physical-cases.js';
import { formatPhysicalTable, physicalJson } from './bench/physical-report.js';
import { runBinlogBench, type BinlogBenchResult } from './bench/binlog-cases.js';
import { binlogJson, formatBinlogTable } from './bench/binlog-report.js';
import { formatTable, summarise, toJson } from './bench/report.js';
import { haveGnuTime, killRunningCommands } from './bench/measure-command.js';
import { register, unregister, type Disposable } from '../src/sandbox/cleanup-registry.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const RESULTS_DIR = join(ROOT, 'bench-results');

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

async function firstLine(file: string, args: string[]): Promise<string> {
  const r = await execa(file, args, { reject: false });
  return String(r.stdout || r.stderr).split('\n')[0]!.trim();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await ensureTools({ install: false });
  if (!haveGnuTime()) log('note: /usr/bin/time is missing (apt-get install time): tree CPU seconds will not be reported');

  const cleanups: Array<() => Promise<void>> = [];
  let interrupted = false;
  // Ctrl-C: stop the measured command's whole process group, then let the finally below
  // tear down servers and temp dirs. (cleanup-registry kills sandbox servers by itself.)
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${signal}: stopping the running measurement and cleaning up …`);
    killRunningCommands('SIGTERM');
    process.exitCode = 130;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const workDir = await mkdtemp(join(tmpdir(), 'dbops-bench-'));
  const workEntry: Disposable = { pid: undefined, dir: workDir };
  if (!args.keep) register(workEntry);
  let dataset: Dataset | undefined;
  try {
    await mkdir(RESULTS_DIR, { recursive: true });
    log(`▶ dataset: ~${(args.sizeBytes / 1e6).toFixed(0)} MB of horizn_ table data${args.reuse ? ` (--reuse ${args.reuse})` : ''}`);
    dataset = await prepareDataset(args.sizeBytes, args.reuse);
    if (interrupted) throw new Error('interrupted');
    // Twice the dataset: the largest write of a run, a physical restore, is ~1.5× it.
    setWarmMemoryBytes(2 * args.sizeBytes);
    log(`  before each timed command, untimed: ${((2 * args.sizeBytes) / 1e9).toFixed(1)} GB written to /dev/shm and deleted, so the run does not pay the VM for memory it gave back (scripts/bench/warm-memory.ts)`);
    log(`  ${(dataset.dataBytes / 1e6).toFixed(0)} MB data + ${(dataset.indexBytes / 1e6).toFixed(0)} MB indexes; ${Object.entries(dataset.rows).map(([t, n]) => `${t} ${n}`).join(', ')}`);

    const group: BenchGroupContext = { root: ROOT, workDir, resultsDir: RESULTS_DIR, dataset, repeat: args.repeat, cpuProf: args.cpuProf, log, onCleanup: (fn) => cleanups.push(fn) };
    let backup: BackupBenchResult | undefined;
    if (args.only.includes('backup')) {
      log('▶ backup: each measurement in turn, same dataset');
      backup = await runBackupBench({
        ...group,
        skipS3: args.skipS3,
        keepFileRepo: args.only.includes('restore'),
      });
      process.stdout.write(formatTable(dataset, backup, summarise(backup)));
    }
    let restore: RestoreBenchResult | undefined;
    if (args.only.includes('restore')) {
      if (interrupted) throw new Error('interrupted');
      log('▶ restore: plain mariadb < dump.sql, then dbops restore, into one target server');
      restore = await runRestoreBench({
        ...group,
        ...(backup?.fileRepo ? { existingBackup: backup.fileRepo } : {}),
      });
      process.stdout.write(formatRestoreTable(restore));
    }
    let physical: PhysicalBenchResult | undefined;
    if (args.only.includes('physical')) {
      if (interrupted) throw new Error('interrupted');
      log('▶ physical: mariadb-backup | zstd vs dbops backup --kind physical, an incremental after 5% changed, restore --datadir to a started server');
      const logicalBackup = backup?.cases.find((c) => c.id === 'dbops-file');
      const logicalRestore = restore?.cases.find((c) => c.id === 'dbops-restore');
      physical = await runPhysicalBench({ ...group, ...(logicalBackup ? { logicalBackup } : {}), ...(logicalRestore ? { logicalRestore } : {}) });
      process.stdout.write(formatPhysicalTable(physical));
    }
    let binlog: BinlogBenchResult | undefined;
    if (args.only.includes('binlog')) {
      if (interrupted) throw new Error('interrupted');
      log(`▶ binlog: replay rate, mariadb-binlog | mariadb vs dbops pitr, into one target server, on a ${args.loadWriters}-writer load and a single-writer load; then shipping lag under load`);
      binlog = await runBinlogBench({
        ...group,
        lagSeconds: args.lagSeconds,
        lagRate: args.lagRate,
        maxLagSeconds: args.maxLag,
        partialSegments: args.partialSegments,
        loadWriters: args.loadWriters,
        interrupted: () => interrupted,
      });
      process.stdout.write(formatBinlogTable(binlog));
    }

    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = join(RESULTS_DIR, `bench-${stamp}.json`);
    const meta = {
      format: 'dbops-bench',
      group: args.only.join(','),
      startedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', node: process.version },
      tools: { zstd: await firstLine('zstd', ['--version']), age: await firstLine('age', ['--version']) },
      options: { sizeBytes: args.sizeBytes, warmMemoryBytes: 2 * args.sizeBytes, repeat: args.repeat, reuse: Boolean(args.reuse), cpuProf: args.cpuProf, only: args.only, ...(binlog ? { lagSeconds: args.lagSeconds, lagRate: args.lagRate, maxLag: args.maxLag, partialSegments: args.partialSegments, loadWriters: args.loadWriters } : {}) },
    };
    // The backup group's record keeps its old top-level shape; the restore group adds `restore`, the physical group `physical`, the binlog group `binlog`.
    const record = {
      ...(backup ? (toJson(dataset, backup, summarise(backup), meta) as Record<string, unknown>) : { ...meta, dataset: { sizeBytes: dataset.sizeBytes, dataBytes: dataset.dataBytes, rows: dataset.rows, reused: dataset.reused, serverVersion: dataset.version } }),
      ...(restore ? { restore: restoreJson(restore) } : {}),
      ...(physical ? { physical: physicalJson(physical) } : {}),
      ...(binlog ? { binlog: binlogJson(binlog) } : {}),
    };
    await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
    log(`results: ${file}${args.cpuProf ? ` (CPU profiles: ${RESULTS_DIR}/cpu-*.cpuprofile)` : ''}`);
    if (args.keep) log(`work dir kept: ${workDir}`);
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((err: Error) => log(`cleanup: ${err.message}`));
    await dataset?.stop().catch((err: Error) => log(`stopping the server: ${err.message}`));
    if (!args.keep) {
      await rm(workDir, { recursive: true, force: true });
      unregister(workEntry);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  // After Ctrl-C the measured command fails because we stopped it; say so instead.
  log(process.exitCode === 130 ? 'bench: interrupted; servers and temp dirs were removed' : `bench: ${(err as Error).message}`);
  process.exitCode ||= 1;
});
