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
import { groupSetup, makeFileRepository, dumpFlags, median, shellQuote, type CaseResult } from './backup-cases.js';
import { measureCommand, type Measurement } from './measure-command.js';
import { DATABASE } from './dataset.js';
import { waitQuiescent, type QuiescentState } from './quiescent.js';
import type { BenchGroupContext } from './context.js';

/** Goal (issue): dbops restore at least this many times faster than `mariadb < dump.sql`. */
export const GOAL_SPEEDUP = 2.2;

export interface RestoreBenchContext extends BenchGroupContext {
  /** The file:// backup the backup group made in this run, if it kept it. */
  existingBackup?: { storageUrl: string; backupId: string; keysDir: string };
  /** Only the dbops side (the physical group's logical reference when this group does not run). */
  dbopsOnly?: boolean;
}

/** One timed load, in the order they ran, with how the target was brought to rest before it. */
export interface RestoreRun {
  id: string;
  run: number;
  wallSeconds: number;
  settle: QuiescentState;
}

export interface RestoreBenchResult {
  cases: CaseResult[];
  /** Every timed load in the order it ran (the sides alternate). */
  sequence: RestoreRun[];
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
  const { cli, env, logFile, timeFile, probe, dbops } = groupSetup(ctx.root, ctx.workDir);

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
  let dumpFile: string | undefined;
  let dumpSeconds = 0;
  let dumpBytes = 0;
  if (!ctx.dbopsOnly) {
    const file = join(ctx.workDir, 'dump.sql');
    const dumpStarted = performance.now();
    await withDefaultsFile(ctx.dataset.conn, tools.dump, async (defaultsFile) => {
      const script = [tools.dump, defaultsFileArg(defaultsFile), ...dumpFlags(info)].map(shellQuote).join(' ');
      const r = await execa('bash', ['-c', `set -o pipefail; ${script} > ${shellQuote(file)}`], { env, extendEnv: false, reject: false, stdin: 'ignore' });
      if (r.exitCode !== 0) throw new Error(`mariadb-dump to ${file} failed (exit ${r.exitCode}): ${String(r.stderr).trim().split('\n').slice(-2).join(' | ')}`);
    });
    dumpSeconds = (performance.now() - dumpStarted) / 1000;
    dumpBytes = (await stat(file)).size;
    dumpFile = file;
    ctx.log(`  plain dump: ${(dumpBytes / 1e6).toFixed(0)} MB in ${dumpSeconds.toFixed(1)} s`);
  }

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

  // The sides take turns (plain, dbops, plain, dbops …), each load on a quiescent target
  // (quiescent.ts): no dirty pages and purge done, so no load pays for the previous one.
  const plainCase: CaseResult = { id: 'plain', label: 'mariadb < dump.sql', runs: [], wallSeconds: 0 };
  const dbopsCase: CaseResult = { id: 'dbops-restore', label: 'dbops restore ← file://', runs: [], wallSeconds: 0 };
  const sequence: RestoreRun[] = [];
  const timed = async (c: CaseResult, run: number, once: () => Promise<Measurement>): Promise<void> => {
    ctx.log(`  ${c.label}${ctx.repeat > 1 ? ` (run ${run}/${ctx.repeat})` : ''} …`);
    await dropDatabase(target.conn);
    const settle = await waitQuiescent(target.conn);
    if (!settle.reached) ctx.log(`    WARNING: the target did not settle in ${settle.seconds.toFixed(0)} s (dirty pages ${settle.after.dirtyPages}, history length ${settle.after.historyLength})`);
    const m = await once();
    if (m.exitCode !== 0) throw new Error(`${c.label} failed with exit ${m.exitCode}; see ${logFile}`);
    const n = await countRows(target.conn, checkedTable.name);
    if (n !== checkedTable.rows) throw new Error(`${c.label}: ${DATABASE}.${checkedTable.name} has ${n} rows after the load, the source ${checkedTable.rows}`);
    ctx.log(`    ${m.wallSeconds.toFixed(2)} s (${checkedTable.name}: ${n} rows, as on the source; settled ${settle.seconds.toFixed(1)} s before: ${settle.before.dirtyPages} dirty pages, history ${settle.before.historyLength})`);
    c.runs.push(m);
    sequence.push({ id: c.id, run, wallSeconds: m.wallSeconds, settle });
  };

  // The real CLI; the target URL goes by env so its password stays off the command line.
  const restoreEnv = {
    ...env,
    DBOPS_STORAGE_URL: backup.storageUrl,
    DBOPS_AGE_IDENTITY_FILE: join(backup.keysDir, 'age.key'),
    DBOPS_RESTORE_TARGET_URL: targetUrl,
    DBOPS_LOG_JSON: '1',
  };
  const backupId = backup.backupId;
  const dbopsOnce = (run: number) => (): Promise<Measurement> => {
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
  };

  // The loads, taking turns; the plain dump (--databases) creates the database itself.
  await withDefaultsFile(target.conn, tools.client, async (defaultsFile) => {
    const script = `${[tools.client, defaultsFileArg(defaultsFile)].map(shellQuote).join(' ')} < ${shellQuote(dumpFile ?? '')}`;
    for (let i = 1; i <= ctx.repeat; i++) {
      if (!ctx.dbopsOnly) await timed(plainCase, i, () => measureCommand({ file: 'bash', args: ['-c', script], env, logFile, watchPids }, timeFile));
      await timed(dbopsCase, i, dbopsOnce(i));
    }
  });
  const cases = ctx.dbopsOnly ? [dbopsCase] : [plainCase, dbopsCase];
  for (const c of cases) c.wallSeconds = median(c.runs.map((r) => r.wallSeconds));

  const plain = cases.find((c) => c.id === 'plain')?.wallSeconds;
  const ours = cases.find((c) => c.id === 'dbops-restore')?.wallSeconds;
  await stopTarget();
  return {
    cases,
    sequence,
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
