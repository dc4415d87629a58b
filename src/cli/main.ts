#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=1048576 node --max-semi-space-size=1 --heap-growing-percent=20
// (The settings on the shebang trade CPU for memory: a backup a memory limit kills is lost,
// a slower one still lands. A 1 MB V8 young generation keeps peak RSS down at the cost of more
// collections. A heap growing factor of 1.2 keeps V8 from growing the old generation up to
// 4× before it collects (its default on a fast machine), for more collections. A fixed glibc
// mmap threshold keeps S3 upload parts (5 MiB and up) mapped and unmapped: by default glibc
// raises the threshold after the first free and then serves them from a heap it does not give
// back. Their measured effect: scripts/bench/README.md.)
// The `dbops` entry: builds the command tree and is the ONE place that turns errors into
// a one-line message and an exit code (0 ok, 1 failed, 2 usage/config, 3 verification).
import { Command, CommanderError, Option } from 'commander';
import { DbopsError, ConfigError, ExitCode, UsageError } from '../errors.js';
import { LOG_LEVELS, isLogLevel, setLogLevel, type LogLevel } from '../util/logger.js';
import { VERSION } from '../version.js';
import { enableCompileCache } from './compile-cache.js';
import type { GlobalOptions } from './context.js';
type Register = (program: Command, globals: () => GlobalOptions) => void;

/**
 * Commands in help order, each loaded only when needed: a run of one command imports that
 * command's modules, not the other seventeen (measured: `backup --help` 0.67 → 0.52 s and
 * 84 → 79 MB RSS; `list` 70 MB). `dbops --help` and an unknown command load them all.
 */
const COMMANDS: Array<[string, () => Promise<Register>]> = [
  ['keys', async () => (await import('./commands/keys/index.js')).registerKeys],
  ['init', async () => (await import('./commands/init/index.js')).registerInit],
  ['backup', async () => (await import('./commands/backup/index.js')).registerBackup],
  ['list', async () => (await import('./commands/list/index.js')).registerList],
  ['verify', async () => (await import('./commands/verify/index.js')).registerVerify],
  ['restore', async () => (await import('./commands/restore/index.js')).registerRestore],
  ['migrate', async () => (await import('./commands/migrate/index.js')).registerMigrate],
  ['seed', async () => (await import('./commands/seed/index.js')).registerSeed],
  ['partitions', async () => (await import('./commands/partitions/index.js')).registerPartitions],
  ['binlog', async () => (await import('./commands/binlog/index.js')).registerBinlog],
  ['report', async () => (await import('./commands/report/index.js')).registerReport],
  ['evidence', async () => (await import('./commands/evidence/index.js')).registerEvidence],
  ['restore-test', async () => (await import('./commands/restore-test/index.js')).registerRestoreTest],
  ['checksum', async () => (await import('./commands/checksum/index.js')).registerChecksum],
  ['pitr', async () => (await import('./commands/pitr/index.js')).registerPitr],
  ['prune', async () => (await import('./commands/prune/index.js')).registerPrune],
  ['doctor', async () => (await import('./commands/doctor/index.js')).registerDoctor],
  ['daemon', async () => (await import('./commands/daemon/index.js')).registerDaemon],
  ['status', async () => (await import('./commands/status/index.js')).registerStatus],
  ['db', async () => (await import('./commands/db/index.js')).registerDb],
];

/** The command named on the command line: the first argument that is not a global option
 *  or its value. Anything else (help, a typo) loads every command so commander can answer. */
function invokedCommand(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config' || a === '--storage' || a === '--log-level') i++;
    else if (!a.startsWith('-')) return COMMANDS.some(([name]) => name === a) ? a : undefined;
  }
  return undefined;
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('dbops')
    .description('Backups, binlog shipping, point-in-time recovery and signed restore tests for MySQL and MariaDB')
    .version(VERSION)
    .option('--config <file>', 'config file (default ./dbops.yaml)')
    .option('--storage <url>', 's3://bucket/prefix?endpoint=…&region=… or file:///path (or DBOPS_STORAGE_URL)')
    .option('--json', 'machine-readable output on stdout')
    .option('-v, --verbose', 'more log detail (debug level)')
    .option('-q, --quiet', 'only warnings and errors, no progress')
    .addOption(new Option('--log-level <level>', 'log level (or DBOPS_LOG_LEVEL; default info)').choices(LOG_LEVELS))
    // Every command's --help lists these (and --json, --config, --storage): they work on every command.
    .configureHelp({ showGlobalOptions: true })
    .hook('preAction', (self) => applyLogLevel(self.opts<GlobalOptions>()))
    .exitOverride()
    // One line for usage errors too, in the same shape as every other error.
    .configureOutput({ outputError: (text, write) => write(`dbops: ${text.replace(/^error: /, '').trim()} (see --help)\n`) })
    .addHelpText(
      'after',
      `
Quick start:
  dbops keys generate --out ./keys
  export DBOPS_SOURCE_URL=mysql://backup@127.0.0.1:3306 DBOPS_SOURCE_PASSWORD_FILE=./backup.pw
  export DBOPS_STORAGE_URL=file:///var/backups/dbops
  export DBOPS_AGE_RECIPIENTS=./keys/age.pub DBOPS_SIGNING_KEY_FILE=./keys/signing.key
  dbops init && dbops backup && dbops list
  DBOPS_AGE_IDENTITY_FILE=./keys/age.key dbops verify latest

Exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 verification failed.`,
    );
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const only = invokedCommand(argv);
  // A bare --version needs no command at all.
  const versionOnly = only === undefined && argv.slice(2).some((a) => a === '--version' || a === '-V');
  if (!versionOnly) for (const [name, load] of COMMANDS) if (only === undefined || name === only) (await load())(program, globals);
  const output = program.configureOutput();
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(output);
    for (const sub of cmd.commands) sub.exitOverride().configureOutput(output);
  }
  return program;
}

/** --log-level, else -v / -q, else DBOPS_LOG_LEVEL (already the logger's level), else info. */
function applyLogLevel(o: GlobalOptions): void {
  const env = process.env.DBOPS_LOG_LEVEL?.trim().toLowerCase();
  if (env && !isLogLevel(env)) throw new UsageError(`DBOPS_LOG_LEVEL "${process.env.DBOPS_LOG_LEVEL}" is not a log level: use one of ${LOG_LEVELS.join(', ')}`);
  if (o.verbose && o.quiet) throw new UsageError('-v (--verbose) and -q (--quiet) contradict each other: give one');
  const level: LogLevel | undefined = o.logLevel ?? (o.verbose ? 'debug' : o.quiet ? 'warn' : undefined);
  if (level) setLogLevel(level);
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or help/version).
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`dbops: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof DbopsError) {
    process.stderr.write(`dbops: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`dbops: unexpected error: ${e?.message ?? String(err)}\n`);
  if (process.env.DBOPS_DEBUG) process.stderr.write(`${e?.stack}\n`);
  return ExitCode.failed;
}

// Run when executed directly (dist/cli/main.js or tsx src/cli/main.ts).
const invoked = process.argv[1] ?? '';
if (/[\\/]cli[\\/]main\.(js|ts)$/.test(invoked) || /[\\/]dbops$/.test(invoked)) {
  // glibc read the shebang's malloc setting when node started; the programs dbops starts
  // (mariadb-backup, zstd, mariadb, a sandbox mariadbd) would inherit it, and with a fixed
  // 1 MiB threshold each of their large allocations becomes an mmap/munmap pair, which costs
  // them seconds of CPU on a backup (measured in scripts/bench/README.md).
  delete process.env.MALLOC_MMAP_THRESHOLD_;
  // Before the command's modules load (buildProgram imports them).
  enableCompileCache();
  // A command still pending when nothing is left to wait on (a wait for an event that had
  // already happened) would otherwise end with exit 0 and no word: that is a failure.
  process.once('beforeExit', () => {
    process.stderr.write('dbops: internal error: the command stopped before it finished; its outcome is unknown (check what it was doing before relying on it) and this is a bug to report\n');
    process.exit(ExitCode.failed);
  });
  main(process.argv).then((code) => {
    process.exit(code);
  });
}
