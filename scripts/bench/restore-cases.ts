// The "restore" benchmark group: the same database loaded into one throwaway target
// server two ways in one run — the plain `mariadb < dump.sql` anyone would script, and
// the real `dbops restore` from a file:// backup — so the speed-up is taken under the
// same conditions (absolute times drift between runs on a shared 2-core machine).
import { execa } from 'execa';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { withConnection } from '../../src/mysql/client.js';
import { readServerInfo } from '../../src/mysql/server-info.js';
import { flavorProfile, resolveTools } from '../../src/mysql/flavor.js';
import { withDefaultsFile, defaultsFileArg } from './defaults-file.js';
import { formatConnectionUrl, type MysqlConn } from '../../src/mysql/connection-url.js';
import { startSandboxServer } from '../../src/sandbox/process-server.js';
import { localRestoreTuningArgs } from '../../src/sandbox/restore-tuning.js';
import { baseEnv, cliCommand, dbopsRunner, makeFileRepository, dumpFlags, median, shellQuote, type CaseResult } from './backup-cases.js';
import { measureCommand, type Measurement } from './measure-command.js';
import { DATABASE } from './dataset.js';
import type { BenchGroupContext } from './context.js';

/** Goal (issue): dbops restore at least this many times faster than `mariadb < dump.sql`. */
export const GOAL_SPEEDUP = 2.2;

export interface RestoreBenchContext extends BenchGroupContext {
  /** The file:// backup the backup group made in this run, if it kept it. */
  existingBackup?: { storageUrl: string; backupId: string; keysDir: string };
}

export interface RestoreBenchResult {
  cases: CaseResult[];
  cli: string;
  backupId: string;
  /** True when the backup group's backup was reused, false when made here. */
  reusedBackup: boolean;
  dumpBytes: number;
  dumpSeconds: number;
  /** The table with the most rows, checked after every load. */
  checkedTable: { name: string; rows: number };
  targetVersion: string;
  /** plain wall / dbops wall (medians). */
  speedup: number | null;
}

async function countRows(conn: MysqlConn, table: string): Promise<number> {
  return withConnection(conn, async (db) => {
    const rows = await db.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM \`${DATABASE}\`.\`${table}\``);
    return Number(rows[0]?.n);
  });
}

async function dropDatabase(conn: MysqlConn): Promise<void> {
  await withConnection(conn, (db) => db.exec(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
}

export async function runRestoreBench(ctx: RestoreBenchContext): Promise<RestoreBenchResult> {
  const cli = cliCommand(ctx.root);
  const env = baseEnv();
  const logFile = join(ctx.workDir, 'commands.log');
  const timeFile = join(ctx.workDir, 'time.out');
  const probe = join(ctx.root, 'scripts/bench/rss-probe.mjs');
  const dbops = dbopsRunner(cli, env);

  // The biggest table by rows (seed numbers); its count on the source is the reference.
  const biggest = Object.entries(ctx.dataset.rows).sort((a, b) => b[1] - a[1])[0];
  if (!biggest) throw new Error('the dataset records no tables');
  const checkedTable = { name: biggest[0], rows: await countRows(ctx.dataset.conn, biggest[0]) };

  // 1. The backup: the backup group's, else one made here.
  let backup = ctx.existingBackup;
  const reusedBackup = Boolean(backup);
  if (backup) {
    ctx.log(`  reusing this run's file:// backup ${backup.backupId}`);
  } else {
    const { env: backupEnv, keysDir, storageUrl } = await makeFileRepository(dbops, ctx.workDir, 'restore', ctx.dataset.url);
    ctx.log('  dbops backup → file:// (to restore from) …');
    const summary = JSON.parse(await dbops(['backup', '--databases', DATABASE, '--json'], backupEnv)) as { id: string };
    backup = { storageUrl, backupId: summary.id, keysDir };
  }

  // 1b. The plain dump, with the flags dbops uses.
  const info = await withConnection(ctx.dataset.conn, (db) => readServerInfo(db));
  const tools = resolveTools(flavorProfile(info));
  const dumpFile = join(ctx.workDir, 'dump.sql');
  const dumpStarted = performance.now();
  await withDefaultsFile(ctx.dataset.conn, tools.dump, async (defaultsFile) => {
    const script = [tools.dump, defaultsFileArg(defaultsFile), ...dumpFlags(info)].map(shellQuote).join(' ');
    const r = await execa('bash', ['-c', `set -o pipefail; ${script} > ${shellQuote(dumpFile)}`], { env, extendEnv: false, reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new Error(`mariadb-dump to ${dumpFile} failed (exit ${r.exitCode}): ${String(r.stderr).trim().split('\n').slice(-2).join(' | ')}`);
  });
  const dumpSeconds = (performance.now() - dumpStarted) / 1000;
  const dumpBytes = (await stat(dumpFile)).size;
  ctx.log(`  plain dump: ${(dumpBytes / 1e6).toFixed(0)} MB in ${dumpSeconds.toFixed(1)} s`);

  // 2. One throwaway target for both, no binlog (neither side would write one on a real
  // restore target), tuned for a bulk load as restore-test's sandbox is (restoreTuningArgs).
  ctx.log('  starting the target server …');
  const target = await startSandboxServer({ binlog: false, extraArgs: await localRestoreTuningArgs() });
  let stopped = false;
  const stopTarget = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await target.stop();
  };
  ctx.onCleanup(stopTarget);
  const targetUrl = formatConnectionUrl(target.conn);
  const watchPids = { mariadbd: target.pid };

  const cases: CaseResult[] = [];
  const repeatCase = async (id: string, label: string, once: (run: number) => Promise<Measurement>): Promise<CaseResult> => {
    const runs: Measurement[] = [];
    for (let i = 1; i <= ctx.repeat; i++) {
      ctx.log(`  ${label}${ctx.repeat > 1 ? ` (run ${i}/${ctx.repeat})` : ''} …`);
      await dropDatabase(target.conn);
      const m = await once(i);
      if (m.exitCode !== 0) throw new Error(`${label} failed with exit ${m.exitCode}; see ${logFile}`);
      const n = await countRows(target.conn, checkedTable.name);
      if (n !== checkedTable.rows) throw new Error(`${label}: ${DATABASE}.${checkedTable.name} has ${n} rows after the load, the source ${checkedTable.rows}`);
      ctx.log(`    ${m.wallSeconds.toFixed(2)} s (${checkedTable.name}: ${n} rows, as on the source)`);
      runs.push(m);
    }
    const result: CaseResult = { id, label, runs, wallSeconds: median(runs.map((r) => r.wallSeconds)) };
    cases.push(result);
    return result;
  };

  // (a) the plain load; the dump (--databases) creates the database itself.
  await withDefaultsFile(target.conn, tools.client, async (defaultsFile) => {
    const script = `${[tools.client, defaultsFileArg(defaultsFile)].map(shellQuote).join(' ')} < ${shellQuote(dumpFile)}`;
    await repeatCase('plain', 'mariadb < dump.sql', () => measureCommand({ file: 'bash', args: ['-c', script], env, logFile, watchPids }, timeFile));
  });

  // (b) the real CLI; the target URL goes by env so its password stays off the command line.
  const restoreEnv = {
    ...env,
    DBOPS_STORAGE_URL: backup.storageUrl,
    DBOPS_AGE_IDENTITY_FILE: join(backup.keysDir, 'age.key'),
    DBOPS_RESTORE_TARGET_URL: targetUrl,
    DBOPS_LOG_JSON: '1',
  };
  const backupId = backup.backupId;
  await repeatCase('dbops-restore', 'dbops restore ← file://', (run) => {
    const prof = ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${ctx.resultsDir}`, `--cpu-prof-name=cpu-restore-${Date.now()}-run${run}.cpuprofile`] : [];
    return measureCommand(
      {
        file: process.execPath,
        args: [...prof, '--import', probe, ...cli.argv, 'restore', backupId, '--force', '--json'],
        env: { ...restoreEnv, ...cli.env },
        logFile,
        probeFile: join(ctx.workDir, 'probe.json'),
        watchPids,
      },
      timeFile,
    );
  });

  const plain = cases.find((c) => c.id === 'plain')?.wallSeconds;
  const ours = cases.find((c) => c.id === 'dbops-restore')?.wallSeconds;
  await stopTarget();
  return {
    cases,
    cli: cli.label,
    backupId,
    reusedBackup,
    dumpBytes,
    dumpSeconds,
    checkedTable,
    targetVersion: target.version,
    speedup: plain && ours ? plain / ours : null,
  };
}

/** Reads the restore's own summary (--json) of the last dbops run, if it parsed. */
export function lastRestoreSummary(result: RestoreBenchResult): { seconds: number; parts: number; partSeconds: Record<string, number> } | null {
  const c = result.cases.find((x) => x.id === 'dbops-restore');
  const out = c?.runs[c.runs.length - 1]?.stdout;
  try {
    const s = JSON.parse(out ?? '') as { seconds: number; parts: Array<{ what: string; seconds: number }> };
    // Per part: where the time goes (parts of one stage run in parallel, so they overlap).
    const partSeconds = Object.fromEntries(s.parts.map((p) => [/\[(.+)\]$/.exec(p.what)?.[1] ?? p.what, Math.round(p.seconds * 100) / 100]));
    return { seconds: s.seconds, parts: s.parts.length, partSeconds };
  } catch {
    return null;
  }
}
