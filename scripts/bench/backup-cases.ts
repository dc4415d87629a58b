// The "backup" benchmark group: the same consistent dump measured five ways in one run
// on one dataset — bare dump, `| zstd`, `| zstd | age`, and the real `dbops backup` CLI
// to file:// and to an S3 protocol server — so ratios are taken under identical
// conditions (absolute times drift between runs on a shared 2-core machine).
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withConnection } from '../../src/mysql/client.js';
import { readServerInfo, type ServerInfo } from '../../src/mysql/server-info.js';
import { flavorProfile, resolveTools } from '../../src/mysql/flavor.js';
import { dumpArgs } from '../../src/backup/dump-args.js';
import { withDefaultsFile, defaultsFileArg } from './defaults-file.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../../test/helpers/s3-server.js';
import { measureCommand, type Measurement } from './measure-command.js';
import { DATABASE } from './dataset.js';
import type { BenchGroupContext } from './context.js';
import { findChildProcess, type ProcessInfo } from './process-tree.js';

export interface CaseResult {
  id: string;
  label: string;
  runs: Measurement[];
  /** Median wall time over the runs. */
  wallSeconds: number;
  /** Set for dbops runs: the backup's own summary (--json). */
  backup?: { id: string; parts: number; rawBytes: number; storedBytes: number };
}

export interface BackupBenchContext extends BenchGroupContext {
  skipS3: boolean;
  /** Leave the file:// repository in place (the restore group restores from it). */
  keepFileRepo?: boolean;
}

export interface BackupBenchResult {
  cases: CaseResult[];
  dumpArgs: string[];
  /** Arguments dbops actually gave mariadb-dump (seen in /proc), minus the defaults file. */
  dbopsDumpArgs: string[] | null;
  cli: string;
  /** The file:// repository and keys, when kept (keepFileRepo). */
  fileRepo?: { storageUrl: string; backupId: string; keysDir: string };
}

/** The dump flags `runBackup` uses (src/backup/dump-args.ts); checked against the real run below. */
export function dumpFlags(info: ServerInfo): string[] {
  return dumpArgs(info, [DATABASE]);
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The environment we start from: nothing of ours (DBOPS_*) leaking in from the shell. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('DBOPS_') && !k.startsWith('BENCH_')) env[k] = v;
  return env;
}

/** The node flags and environment on the CLI's shebang line (`#!/usr/bin/env -S NAME=VALUE node --flag`):
 *  what the installed `dbops` bin (and the Docker image's entrypoint) runs with, so the bench
 *  measures the same process users run. */
function shebang(file: string): { flags: string[]; env: Record<string, string> } {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*\benv -S (.*)$/.exec(first) ?? /^#!(.*)$/.exec(first);
  const words = m ? m[1]!.trim().split(/\s+/) : [];
  const node = words.findIndex((w) => /(^|\/)node$/.test(w));
  const env = Object.fromEntries(words.slice(0, Math.max(0, node)).flatMap((w) => (/^\w+=/.test(w) ? [[w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]] : [])));
  return { flags: words.slice(node + 1).filter((a) => a.startsWith('--')), env };
}

/** How to start the real CLI: the build when present, else the sources through tsx. `env`
 *  goes into every dbops process's environment. */
export function cliCommand(root: string): { argv: string[]; env: Record<string, string>; label: string } {
  const built = join(root, 'dist/cli/main.js');
  if (existsSync(built)) {
    const { flags, env } = shebang(built);
    const settings = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'node', ...flags].join(' ');
    return { argv: [...flags, built], env, label: `dist/cli/main.js (built; ${settings} from its shebang, as the bin runs)` };
  }
  return { argv: ['--import', 'tsx', join(root, 'src/cli/main.ts')], env: {}, label: 'src/cli/main.ts via tsx (no dist/ build)' };
}

/** What each group's measurements start from: the CLI, its environment, the run's log and GNU time files, the RSS probe, a dbops runner. */
export function groupSetup(root: string, workDir: string): {
  cli: ReturnType<typeof cliCommand>;
  env: Record<string, string>;
  logFile: string;
  timeFile: string;
  probe: string;
  dbops: ReturnType<typeof dbopsRunner>;
} {
  const cli = cliCommand(root);
  const env = baseEnv();
  return { cli, env, logFile: join(workDir, 'commands.log'), timeFile: join(workDir, 'time.out'), probe: join(root, 'scripts/bench/rss-probe.mjs'), dbops: dbopsRunner(cli, env) };
}

/** Runs the CLI to completion (setup steps, not measurements): its stdout, or an error
 *  with the last lines of its stderr. */
export function dbopsRunner(cli: { argv: string[]; env: Record<string, string> }, env: Record<string, string>): (args: string[], extraEnv: Record<string, string>) => Promise<string> {
  return async (args, extraEnv) => {
    const r = await execa(process.execPath, [...cli.argv, ...args], { env: { ...env, ...cli.env, ...extraEnv }, extendEnv: false, reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new Error(`dbops ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr).trim().split('\n').slice(-2).join(' | ')}`);
    return String(r.stdout);
  };
}

/** Fresh keys and an initialised file:// repository under workDir/<name>-keys and
 *  workDir/<name>-repo; returns the env that points the CLI at them and at `sourceUrl`. */
export async function makeFileRepository(
  dbops: (args: string[], extraEnv: Record<string, string>) => Promise<string>,
  workDir: string,
  name: string,
  sourceUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<{ keysDir: string; storageUrl: string; env: Record<string, string> }> {
  const keysDir = join(workDir, `${name}-keys`);
  const repoDir = join(workDir, `${name}-repo`);
  await mkdir(repoDir, { recursive: true });
  await dbops(['keys', 'generate', '--out', keysDir], {});
  const storageUrl = `file://${repoDir}`;
  const env = {
    DBOPS_SOURCE_URL: sourceUrl,
    DBOPS_STORAGE_URL: storageUrl,
    DBOPS_AGE_RECIPIENTS: join(keysDir, 'age.pub'),
    DBOPS_AGE_IDENTITY_FILE: join(keysDir, 'age.key'),
    DBOPS_SIGNING_KEY_FILE: join(keysDir, 'signing.key'),
    DBOPS_LOG_JSON: '1',
    ...extraEnv,
  };
  await dbops(['init'], env);
  return { keysDir, storageUrl, env };
}

/** The mariadb-dump process dbops started, if sampling saw it. */
function seenDumpArgs(processes: ProcessInfo[]): string[] | null {
  // Not the `--version` probe dbops runs for the manifest, nor a process sampled as it exited
  // (a zombie's /proc cmdline is empty): the run warned about those as "different flags".
  // The largest tables have dumps of their own (parallel-dump.ts): the main dump is the one
  // with --databases, and its --ignore-table flags name those tables.
  const p = processes.find((x) => /^(mariadb-dump|mysqldump)$/.test(x.name) && x.argv.includes('--databases'));
  return p ? p.argv.slice(1).filter((a) => !a.startsWith('--defaults-extra-file=') && !a.startsWith('--ignore-table=')) : null;
}

export async function runBackupBench(ctx: BackupBenchContext): Promise<BackupBenchResult> {
  const info = await withConnection(ctx.dataset.conn, (db) => readServerInfo(db));
  const tools = resolveTools(flavorProfile(info));
  const flags = dumpFlags(info);
  const cli = cliCommand(ctx.root);
  const keysDir = join(ctx.workDir, 'keys');
  const logFile = join(ctx.workDir, 'commands.log');
  const timeFile = join(ctx.workDir, 'time.out');
  const env = baseEnv();
  const watchPids: Record<string, number> = { mariadbd: ctx.dataset.serverPid };

  const dbops = dbopsRunner(cli, env);
  await dbops(['keys', 'generate', '--out', keysDir], {});
  const recipient = (await readFile(join(keysDir, 'age.pub'), 'utf8')).split('\n').find((l) => l.startsWith('age1'));
  if (!recipient) throw new Error(`no age1… recipient in ${keysDir}/age.pub`);
  const dbopsEnv = {
    DBOPS_SOURCE_URL: ctx.dataset.url,
    DBOPS_AGE_RECIPIENTS: join(keysDir, 'age.pub'),
    DBOPS_SIGNING_KEY_FILE: join(keysDir, 'signing.key'),
    DBOPS_LOG_JSON: '1',
  };

  const cases: CaseResult[] = [];
  const repeatCase = async (id: string, label: string, once: (run: number) => Promise<Measurement>): Promise<CaseResult> => {
    const runs: Measurement[] = [];
    for (let i = 1; i <= ctx.repeat; i++) {
      ctx.log(`  ${label}${ctx.repeat > 1 ? ` (run ${i}/${ctx.repeat})` : ''} …`);
      const m = await once(i);
      if (m.exitCode !== 0) throw new Error(`${label} failed with exit ${m.exitCode}; see ${logFile}`);
      ctx.log(`    ${m.wallSeconds.toFixed(2)} s`);
      runs.push(m);
    }
    const result: CaseResult = { id, label, runs, wallSeconds: median(runs.map((r) => r.wallSeconds)) };
    cases.push(result);
    return result;
  };

  // (1)–(3): shell pipelines with the dump flags dbops uses; credentials in a 0600 file.
  await withDefaultsFile(ctx.dataset.conn, tools.dump, async (defaultsFile) => {
    const dump = [tools.dump, defaultsFileArg(defaultsFile), ...flags].map(shellQuote).join(' ');
    const pipelines: Array<[string, string, string]> = [
      ['dump', 'mariadb-dump > /dev/null', `${dump} > /dev/null`],
      ['dump-zstd', '… | zstd -3 -T0', `${dump} | zstd -3 -T0 -q -c > /dev/null`],
      ['dump-zstd-age', '… | zstd -3 -T0 | age', `${dump} | zstd -3 -T0 -q -c | age -r ${recipient} > /dev/null`],
    ];
    for (const [id, label, script] of pipelines) {
      await repeatCase(id, label, () =>
        measureCommand({ file: 'bash', args: ['-c', `set -o pipefail; ${script}`], env, logFile, watchPids }, timeFile),
      );
    }
  });

  // (4)–(5): the real CLI; its own peak RSS comes from the preloaded probe.
  const probe = join(ctx.root, 'scripts/bench/rss-probe.mjs');
  let dbopsDumpArgs: string[] | null = null;
  const backupCase = async (id: string, label: string, storageUrl: string, extraEnv: Record<string, string>, watch: Record<string, number>): Promise<void> => {
    await dbops(['init'], { ...dbopsEnv, ...extraEnv, DBOPS_STORAGE_URL: storageUrl });
    const result = await repeatCase(id, label, async (run) => {
      const prof = ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${ctx.resultsDir}`, `--cpu-prof-name=cpu-${id}-${Date.now()}-run${run}.cpuprofile`] : [];
      return measureCommand(
        {
          file: process.execPath,
          args: [...prof, '--import', probe, ...cli.argv, 'backup', '--databases', DATABASE, '--json'],
          env: { ...env, ...cli.env, ...dbopsEnv, ...extraEnv, DBOPS_STORAGE_URL: storageUrl },
          logFile,
          probeFile: join(ctx.workDir, 'probe.json'),
          watchPids: watch,
        },
        timeFile,
      );
    });
    const last = result.runs[result.runs.length - 1]!;
    const summary = JSON.parse(last.stdout) as { id: string; parts: number; totals: { rawBytes: number; storedBytes: number } };
    result.backup = { id: summary.id, parts: summary.parts, rawBytes: summary.totals.rawBytes, storedBytes: summary.totals.storedBytes };
    dbopsDumpArgs ??= seenDumpArgs(last.processes);
  };

  const fileRepo = join(ctx.workDir, 'repo');
  await mkdir(fileRepo, { recursive: true });
  await backupCase('dbops-file', 'dbops backup → file://', `file://${fileRepo}`, {}, watchPids);
  // The file repository is no longer needed: free the disk before the next case.
  if (!ctx.skipS3 && !ctx.keepFileRepo) await rm(join(fileRepo, 'backups'), { recursive: true, force: true });

  if (!ctx.skipS3) {
    ctx.log('  starting the S3 protocol server (s3rver, child process)');
    const s3: S3TestServer = await startS3Server({ bucket: 'dbops-bench' });
    ctx.onCleanup(() => s3.cleanup());
    const s3Pid = findS3ServerPid();
    await backupCase('dbops-s3', 'dbops backup → S3 (s3rver)', s3.url('bench'), s3TestEnv, { ...watchPids, ...(s3Pid ? { s3rver: s3Pid } : {}) });
    await s3.cleanup();
  }

  const seen = dbopsDumpArgs as string[] | null;
  if (seen && seen.join(' ') !== flags.join(' ')) {
    ctx.log(`  WARNING: dbops ran the dump with different flags than the baselines:\n    dbops:     ${seen.join(' ')}\n    baselines: ${flags.join(' ')}`);
  }
  const fileBackupId = cases.find((c) => c.id === 'dbops-file')?.backup?.id;
  const kept = fileBackupId && (ctx.skipS3 || ctx.keepFileRepo) ? { fileRepo: { storageUrl: `file://${fileRepo}`, backupId: fileBackupId, keysDir } } : {};
  return { cases, dumpArgs: flags, dbopsDumpArgs: seen, cli: cli.label, ...kept };
}

/** The s3rver child: our own child process started with --openssl-legacy-provider. */
function findS3ServerPid(): number | undefined {
  return findChildProcess(process.pid, (argv) => argv.includes('--openssl-legacy-provider'));
}
