#!/usr/bin/env -S node --max-semi-space-size=1
// (The shebang's 1 MB V8 young generation is a memory/CPU trade, measured by npm run bench at
// 1 GB on 2 cores: peak RSS to S3 139 MB (goal 150) against 168 MB at 2 MB and more at V8's
// default; the price is more GC work: the backup took ~1.9x the zstd pipeline's wall time
// against ~1.5x with the default. A memory limit kills a backup, a slower one still lands.)
// The `dbops` entry: builds the command tree and is the ONE place that turns errors into
// a one-line message and an exit code (0 ok, 1 failed, 2 usage/config, 3 verification).
import { Command, CommanderError } from 'commander';
import { DbopsError, ConfigError, ExitCode } from '../errors.js';
import { VERSION } from '../version.js';
import type { GlobalOptions } from './context.js';
import { registerInit } from './commands/init/index.js';
import { registerKeys } from './commands/keys/index.js';
import { registerBackup } from './commands/backup/index.js';
import { registerList } from './commands/list/index.js';
import { registerVerify } from './commands/verify/index.js';
import { registerRestore } from './commands/restore/index.js';
import { registerMigrate } from './commands/migrate/index.js';
import { registerSeed } from './commands/seed/index.js';
import { registerPartitions } from './commands/partitions/index.js';
import { registerBinlog } from './commands/binlog/index.js';
import { registerReport } from './commands/report/index.js';
import { registerRestoreTest } from './commands/restore-test/index.js';
import { registerChecksum } from './commands/checksum/index.js';
import { registerPitr } from './commands/pitr/index.js';
import { registerPrune } from './commands/prune/index.js';
import { registerDoctor } from './commands/doctor/index.js';
import { registerDaemon } from './commands/daemon/index.js';
import { registerStatus } from './commands/status/index.js';

export function buildProgram(): Command {
  const program = new Command('dbops')
    .description('Backups, binlog shipping, point-in-time recovery and signed restore tests for MySQL and MariaDB')
    .version(VERSION)
    .option('--config <file>', 'config file (default ./dbops.yaml)')
    .option('--storage <url>', 's3://bucket/prefix?endpoint=…&region=… or file:///path (or DBOPS_STORAGE_URL)')
    .option('--json', 'machine-readable output on stdout')
    .exitOverride()
    // One line for usage errors too, in the same shape as every other error.
    .configureOutput({ outputError: (text, write) => write(`dbops: ${text.replace(/^error: /, '').trim()} (see --help)\n`) })
    .addHelpText(
      'after',
      `
Quick start:
  dbops keys generate --out ./keys
  export DBOPS_SOURCE_URL=mysql://backup:secret@127.0.0.1:3306
  export DBOPS_STORAGE_URL=file:///var/backups/dbops
  export DBOPS_AGE_RECIPIENTS=./keys/age.pub DBOPS_SIGNING_KEY_FILE=./keys/signing.key
  dbops init && dbops backup && dbops list
  DBOPS_AGE_IDENTITY_FILE=./keys/age.key dbops verify latest

Exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 verification failed.`,
    );
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  registerKeys(program, globals);
  registerInit(program, globals);
  registerBackup(program, globals);
  registerList(program, globals);
  registerVerify(program, globals);
  registerRestore(program, globals);
  registerMigrate(program, globals);
  registerSeed(program, globals);
  registerPartitions(program, globals);
  registerBinlog(program, globals);
  registerReport(program, globals);
  registerRestoreTest(program, globals);
  registerChecksum(program, globals);
  registerPitr(program, globals);
  registerPrune(program, globals);
  registerDoctor(program, globals);
  registerDaemon(program, globals);
  registerStatus(program, globals);
  const output = program.configureOutput();
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(output);
    for (const sub of cmd.commands) sub.exitOverride().configureOutput(output);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
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
  main(process.argv).then((code) => {
    process.exit(code);
  });
}
