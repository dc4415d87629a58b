// The "physical" benchmark group: `dbops backup --kind physical` against the pipeline a cron
// script would run (`mariadb-backup --backup --stream=xbstream | zstd -3 -T0`, the same flags),
// against the logical backup of the same data, an incremental after 5% of the big tables'
// rows changed against the full, and a physical restore to a usable server against the
// logical `dbops restore` — all in one run on the dataset server, whose datadir is local, so
// mariadb-backup reads it as dbops' own physical backups do on a database host.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withConnection } from '../../src/mysql/client.js';
import { readServerInfo } from '../../src/mysql/server-info.js';
import { backupArgs, extractArgs, physicalToolFor, prepareArgs, resolvePhysicalTools } from '../../src/physical/tools.js';
import { execa } from 'execa';
import { startSandboxServer } from '../../src/sandbox/process-server.js';
import { localRestoreTuningArgs } from '../../src/sandbox/restore-tuning.js';
import { withDefaultsFile, defaultsFileArg } from './defaults-file.js';
import { groupSetup, makeFileRepository, median, shellQuote, type CaseResult } from './backup-cases.js';
import { runRestoreBench } from './restore-cases.js';
import { measureCommand, type Measurement } from './measure-command.js';
import { waitQuiescent } from './quiescent.js';
import { DATABASE } from './dataset.js';
import type { BenchGroupContext } from './context.js';
import type { ProcessInfo } from './process-tree.js';

/** Goals (issue #19). */
export const GOALS = { vsPipeline: 1.1, vsLogicalBackup: 0.5, incremental: 0.25, restoreSpeedup: 5, rssMB: 150 } as const;

/** Share of the big tables' rows the incremental's UPDATEs change. */
export const CHANGED_SHARE = 0.05;

/**
 * The big tables and an UPDATE that changes a row without changing its size or any index
 * (so the pages change, the table does not grow, and running it again changes them back).
 */
const CHANGES: Array<{ table: string; set: string }> = [
  { table: 'pageviews', set: 'is_entry = 1 - is_entry' },
  { table: 'events', set: 'page_path = REVERSE(page_path)' },
];

export interface PhysicalBenchContext extends BenchGroupContext {
  /** The backup group's `dbops backup → file://` of this run, if it ran. */
  logicalBackup?: CaseResult;
  /** The restore group's `dbops restore` of this run, if it ran. */
  logicalRestore?: CaseResult;
}

export interface PhysicalRestoreRun {
  /** The `dbops restore --datadir` command. */
  measurement: Measurement;
  /** Seconds: restore's own phases (fetch = fetch, check, decrypt, decompress, extract), the server start and first query, and the whole. */
  fetch: number;
  prepare: number;
  start: number;
  /** Seconds the row count took after that (not part of the restore's time). */
  count: number;
  total: number;
}

export interface PhysicalBenchResult {
  cli: string;
  datadir: string;
  /** The flags the pipeline gave mariadb-backup (scratch paths as names), and what dbops gave it (from /proc). */
  pipelineArgs: string[];
  dbopsArgs: string[] | null;
  cases: CaseResult[];
  /** Where the logical references come from. */
  logicalBackupFrom: 'backup group' | 'here';
  logicalRestoreFrom: 'restore group' | 'here';
  logicalBackup: CaseResult;
  logicalRestore: CaseResult;
  restoreRuns: PhysicalRestoreRun[];
  restore: { fetch: number; prepare: number; start: number; count: number; total: number; rawBytes: number | null };
  checkedTable: { name: string; rows: number };
  changed: Array<{ table: string; rows: number; of: number }>;
  ratios: {
    vsPipeline: number | null;
    vsLogicalBackup: number | null;
    incrementalWall: number | null;
    incrementalBytes: number | null;
    restoreSpeedup: number | null;
    /** The restore command (fetch + prepare + CLI, no server start) / the same by hand; no goal. */
    restoreCommandVsPlain: number | null;
    /** The full backup / the same backup by hand (encrypted, written, synced); no goal. */
    fullVsByHand: number | null;
  };
}

/** mariadb-backup's flags with its credentials file left out and scratch paths reduced to their flag. */
function normaliseArgs(argv: string[]): string[] {
  return argv
    .filter((a) => !a.startsWith('--defaults-extra-file=') && !a.startsWith('--defaults-file='))
    .map((a) => a.replace(/^(--target-dir|--extra-lsndir)=.*$/, '$1=…').replace(/^(--incremental-lsn)=.*$/, '$1=…'));
}

function seenBackupArgs(processes: ProcessInfo[]): string[] | null {
  const p = processes.find((x) => /^(mariadb-backup|mariabackup|xtrabackup)$/.test(x.name) && x.argv.includes('--backup'));
  return p ? normaliseArgs(p.argv.slice(1)) : null;
}

async function firstRow(conn: Parameters<typeof withConnection>[0], table: string): Promise<void> {
  await withConnection(conn, (db) => db.query(`SELECT * FROM \`${DATABASE}\`.\`${table}\` LIMIT 1`));
}

async function countRows(conn: Parameters<typeof withConnection>[0], table: string): Promise<number> {
  return withConnection(conn, async (db) => Number((await db.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM \`${DATABASE}\`.\`${table}\``))[0]?.n));
}

export async function runPhysicalBench(ctx: PhysicalBenchContext): Promise<PhysicalBenchResult> {
  const { cli, env, logFile, timeFile, probe, dbops } = groupSetup(ctx.root, ctx.workDir);
  const watchPids = { mariadbd: ctx.dataset.serverPid };

  const { info, datadir } = await withConnection(ctx.dataset.conn, async (db) => {
    const [row] = await db.query<{ d: string }>('SELECT @@GLOBAL.datadir AS d');
    return { info: await readServerInfo(db), datadir: row!.d };
  });
  const programs = resolvePhysicalTools(physicalToolFor(info.flavor));
  const biggest = Object.entries(ctx.dataset.rows).sort((a, b) => b[1] - a[1])[0];
  if (!biggest) throw new Error('the dataset records no tables');
  const checkedTable = { name: biggest[0], rows: await countRows(ctx.dataset.conn, biggest[0]) };

  // One file:// repository holds both kinds, as a user's would.
  const repo = await makeFileRepository(dbops, ctx.workDir, 'physical', ctx.dataset.url);
  const cases: CaseResult[] = [];
  const caseOf = (id: string, label: string): CaseResult => {
    const c: CaseResult = { id, label, runs: [], wallSeconds: 0 };
    cases.push(c);
    return c;
  };
  // Every timed run starts with the source at rest (no dirty pages, purge done): a backup
  // right after the UPDATEs, or after another backup, should not pay for their flushing.
  const timed = async (c: CaseResult, run: number, once: () => Promise<Measurement>): Promise<Measurement> => {
    await waitQuiescent(ctx.dataset.conn);
    // And the disk at rest: the run before wrote (or deleted) up to a datadir's worth of files,
    // whose writeback would otherwise fall on whichever run comes next.
    await execa('sync');
    ctx.log(`  ${c.label}${ctx.repeat > 1 ? ` (run ${run}/${ctx.repeat})` : ''} …`);
    const m = await once();
    if (m.exitCode !== 0) throw new Error(`${c.label} failed with exit ${m.exitCode}; see ${logFile}`);
    ctx.log(`    ${m.wallSeconds.toFixed(2)} s`);
    c.runs.push(m);
    return m;
  };
  const dbopsCommand = (name: string, args: string[], extraEnv: Record<string, string> = {}) => (): Promise<Measurement> => {
    const prof = ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${ctx.resultsDir}`, `--cpu-prof-name=cpu-${name}-${Date.now()}.cpuprofile`] : [];
    return measureCommand(
      { file: process.execPath, args: [...prof, '--import', probe, ...cli.argv, ...args], env: { ...env, ...cli.env, ...repo.env, ...extraEnv }, logFile, probeFile: join(ctx.workDir, 'probe.json'), watchPids },
      timeFile,
    );
  };
  const backupOf = (c: CaseResult, m: Measurement): void => {
    const s = JSON.parse(m.stdout) as { id: string; parts: number; totals: { rawBytes: number; storedBytes: number } };
    c.backup = { id: s.id, parts: s.parts, rawBytes: s.totals.rawBytes, storedBytes: s.totals.storedBytes };
  };

  // 1. The pipeline and dbops' full physical backup, taking turns; the pipeline with the
  // flags dbops passes (backupArgs), its scratch directories fresh each run as dbops' are.
  const pipeline = caseOf('pipeline', `${programs.tool} --stream=xbstream | zstd -3 -T0`);
  // The same work by hand as dbops does it, for reference (no goal): encrypted to the
  // repository's key, written to a file on the repository's disk, and synced.
  const byHand = caseOf('plain-backup', `${programs.tool} … | zstd -3 -T0 | age > file; sync`);
  const full = caseOf('dbops-physical', 'dbops backup --kind physical → file://');
  let pipelineArgs: string[] = [];
  let dbopsArgs: string[] | null = null;
  await withDefaultsFile(ctx.dataset.conn, programs.backup, async (defaultsFile) => {
    for (let i = 1; i <= ctx.repeat; i++) {
      const scratch = await mkdtemp(join(ctx.workDir, 'mbackup-'));
      await Promise.all([mkdir(join(scratch, 'target')), mkdir(join(scratch, 'lsn'))]);
      const args = backupArgs({ targetDir: join(scratch, 'target'), extraLsnDir: join(scratch, 'lsn'), datadir });
      pipelineArgs = normaliseArgs(args);
      const script = `${[programs.backup, defaultsFileArg(defaultsFile), ...args].map(shellQuote).join(' ')} | zstd -3 -T0 -q -c > /dev/null`;
      await timed(pipeline, i, () => measureCommand({ file: 'bash', args: ['-c', `set -o pipefail; ${script}`], env, logFile, watchPids }, timeFile));
      await rm(scratch, { recursive: true, force: true });
      await mkdir(scratch);
      await Promise.all([mkdir(join(scratch, 'target')), mkdir(join(scratch, 'lsn'))]);
      const out = join(ctx.workDir, 'by-hand.xbstream.zst.age');
      const byHandScript =
        `${[programs.backup, defaultsFileArg(defaultsFile), ...args].map(shellQuote).join(' ')} | zstd -3 -T0 -q -c | age -R ${shellQuote(join(repo.keysDir, 'age.pub'))} > ${shellQuote(out)} && sync ${shellQuote(out)}`;
      await timed(byHand, i, () => measureCommand({ file: 'bash', args: ['-c', `set -o pipefail; ${byHandScript}`], env, logFile, watchPids }, timeFile));
      await rm(scratch, { recursive: true, force: true });
      await rm(out, { force: true });
      const m = await timed(full, i, dbopsCommand(`physical-full-run${i}`, ['backup', '--kind', 'physical', '--json']));
      backupOf(full, m);
      dbopsArgs ??= seenBackupArgs(m.processes);
    }
  });
  if (dbopsArgs && (dbopsArgs as string[]).join(' ') !== pipelineArgs.join(' ')) {
    ctx.log(`  WARNING: dbops ran ${programs.tool} with different flags than the pipeline:\n    dbops:    ${(dbopsArgs as string[]).join(' ')}\n    pipeline: ${pipelineArgs.join(' ')}`);
  }
  const fullId = full.backup!.id;

  // 2. The logical backup of the same data: the backup group's, else measured here (into
  // the same repository; the restore below needs one either way when its group did not run).
  let logicalBackup = ctx.logicalBackup;
  let logicalId: string | undefined;
  if (!logicalBackup || !ctx.logicalRestore) {
    const c = caseOf('dbops-logical', 'dbops backup (logical) → file://');
    for (let i = 1; i <= (logicalBackup ? 1 : ctx.repeat); i++) {
      const m = await timed(c, i, dbopsCommand(`logical-run${i}`, ['backup', '--databases', DATABASE, '--json']));
      backupOf(c, m);
    }
    logicalId = c.backup!.id;
    if (logicalBackup) cases.pop(); // only made to restore from: the backup group's measurement stands
    else logicalBackup = c;
  }

  // 3. Physical restore to a usable server: dbops restore --datadir (fetch/extract, prepare),
  // then a server started on the directory (tuned as restore-test's sandbox and the logical
  // target) and the first query answered.
  const restoreCase = caseOf('dbops-physical-restore', 'dbops restore --datadir + start + query');
  const restoreRuns: PhysicalRestoreRun[] = [];
  // The same work by hand (3b): age -d | zstd -d | mbstream -x, then mariadb-backup --prepare.
  const objectDir = join(repo.storageUrl.replace(/^file:\/\//, ''), 'backups', fullId, 'parts');
  const [object] = await readdir(objectDir);
  if (!object) throw new Error(`no part in ${objectDir}`);
  const plainRestoreScript = (dir: string): string =>
    `age -d -i ${shellQuote(join(repo.keysDir, 'age.key'))} < ${shellQuote(join(objectDir, object))} | zstd -d -q -c | ${[programs.stream, ...extractArgs(dir)].map(shellQuote).join(' ')}` +
    ` && ${[programs.backup, ...prepareArgs(programs.tool, dir, undefined, false)].map(shellQuote).join(' ')}`;
  let rawBytes: number | null = null;
  const tuning = await localRestoreTuningArgs();
  for (let i = 1; i <= ctx.repeat; i++) {
    const dir = join(await mkdtemp(join(ctx.workDir, 'phys-restore-')), 'datadir');
    const m = await timed(restoreCase, i, dbopsCommand(`physical-restore-run${i}`, ['restore', fullId, '--datadir', dir, '--json']));
    const out = JSON.parse(m.stdout) as { rawBytes: number; phases: { fetch: number; prepare: number } };
    rawBytes = out.rawBytes;
    const t0 = performance.now();
    const server = await startSandboxServer({ binlog: false, datadir: dir, extraArgs: tuning });
    try {
      // Usable = the server answers a query on the restored data. The row count that proves the
      // data whole comes after, untimed: a full scan through a cold buffer pool is not what an
      // application waits for (it is listed, as `count`).
      await firstRow(server.conn, checkedTable.name);
      const start = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const n = await countRows(server.conn, checkedTable.name);
      const count = (performance.now() - t1) / 1000;
      if (n !== checkedTable.rows) throw new Error(`physical restore: ${DATABASE}.${checkedTable.name} has ${n} rows on the restored server, the source ${checkedTable.rows}`);
      const total = m.wallSeconds + start;
      ctx.log(`    + server start and first query ${start.toFixed(2)} s = ${total.toFixed(2)} s (fetch ${out.phases.fetch.toFixed(1)} s, prepare ${out.phases.prepare.toFixed(1)} s; then ${checkedTable.name}: ${n} rows, as on the source, counted in ${count.toFixed(2)} s)`);
      restoreRuns.push({ measurement: m, fetch: out.phases.fetch, prepare: out.phases.prepare, start, count, total });
    } finally {
      await server.stop();
      await rm(join(dir, '..'), { recursive: true, force: true });
    }
  }
  restoreCase.wallSeconds = median(restoreRuns.map((r) => r.total));

  // 3b. For reference, what the restore command's fetch and prepare do, by hand on the same
  // object (no server start).
  const plainRestore = caseOf('plain-restore', `age -d | zstd -d | ${programs.tool === 'mariadb-backup' ? 'mbstream' : 'xbstream'} -x; --prepare`);
  for (let i = 1; i <= ctx.repeat; i++) {
    const dir = join(await mkdtemp(join(ctx.workDir, 'plain-restore-')), 'datadir');
    await mkdir(dir);
    await timed(plainRestore, i, () => measureCommand({ file: 'bash', args: ['-c', `set -o pipefail; ${plainRestoreScript(dir)}`], env, logFile, watchPids }, timeFile));
    await rm(join(dir, '..'), { recursive: true, force: true });
  }

  // 4. The logical restore of the same data: the restore group's, else its dbops side here.
  let logicalRestore = ctx.logicalRestore;
  if (!logicalRestore) {
    ctx.log('  the logical reference: dbops restore of the logical backup, as the restore group runs it');
    const r = await runRestoreBench({ ...ctx, existingBackup: { storageUrl: repo.storageUrl, backupId: logicalId!, keysDir: repo.keysDir }, dbopsOnly: true });
    logicalRestore = r.cases.find((c) => c.id === 'dbops-restore')!;
  }

  // 5. Incrementals: each run changes 5% of the big tables' rows (the newest, as analytics
  // data changes: recent sessions' pages filled in), then backs up what changed since the
  // newest physical backup. Not in the binlog: the binlog group replays its own load only.
  const incremental = caseOf('dbops-incremental', `dbops backup --kind physical --incremental (${CHANGED_SHARE * 100}% of rows changed)`);
  const changed: PhysicalBenchResult['changed'] = [];
  for (let i = 1; i <= ctx.repeat; i++) {
    const done = await withConnection(ctx.dataset.conn, async (db) => {
      await db.exec('SET SESSION sql_log_bin = 0');
      const out: PhysicalBenchResult['changed'] = [];
      for (const { table, set } of CHANGES) {
        const [r] = await db.query<{ lo: number | string | null; hi: number | string | null; n: number | string }>(`SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM \`${DATABASE}\`.\`${table}\``);
        const lo = Number(r?.lo ?? 0);
        const hi = Number(r?.hi ?? 0);
        const from = Math.floor(hi - (hi - lo + 1) * CHANGED_SHARE) + 1;
        const rows = await db.exec(`UPDATE \`${DATABASE}\`.\`${table}\` SET ${set} WHERE id >= ?`, [from]);
        out.push({ table, rows, of: Number(r?.n ?? 0) });
      }
      return out;
    });
    if (i === 1) changed.push(...done);
    ctx.log(`  changed ${done.map((d) => `${d.rows} of ${d.of} ${d.table}`).join(', ')}`);
    const m = await timed(incremental, i, dbopsCommand(`physical-incremental-run${i}`, ['backup', '--kind', 'physical', '--incremental', '--json']));
    backupOf(incremental, m);
  }

  for (const c of cases) if (c.id !== 'dbops-physical-restore') c.wallSeconds = median(c.runs.map((r) => r.wallSeconds));
  const ratio = (a: number | undefined, b: number | undefined): number | null => (a && b ? a / b : null);
  const med = (f: (r: PhysicalRestoreRun) => number): number => median(restoreRuns.map(f));
  return {
    cli: cli.label,
    datadir,
    pipelineArgs,
    dbopsArgs,
    cases,
    logicalBackupFrom: ctx.logicalBackup ? 'backup group' : 'here',
    logicalRestoreFrom: ctx.logicalRestore ? 'restore group' : 'here',
    logicalBackup: logicalBackup!,
    logicalRestore,
    restoreRuns,
    restore: { fetch: med((r) => r.fetch), prepare: med((r) => r.prepare), start: med((r) => r.start), count: med((r) => r.count), total: restoreCase.wallSeconds, rawBytes },
    checkedTable,
    changed,
    ratios: {
      vsPipeline: ratio(full.wallSeconds, pipeline.wallSeconds),
      vsLogicalBackup: ratio(full.wallSeconds, logicalBackup?.wallSeconds),
      incrementalWall: ratio(incremental.wallSeconds, full.wallSeconds),
      incrementalBytes: ratio(incremental.backup?.storedBytes, full.backup?.storedBytes),
      restoreSpeedup: ratio(logicalRestore.wallSeconds, restoreCase.wallSeconds),
      restoreCommandVsPlain: ratio(median(restoreRuns.map((r) => r.measurement.wallSeconds)), plainRestore.wallSeconds),
      fullVsByHand: ratio(full.wallSeconds, byHand.wallSeconds),
    },
  };
}
