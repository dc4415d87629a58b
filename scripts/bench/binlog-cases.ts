// The "binlog" benchmark group (issue #3): (1) binlog replay rate of `dbops pitr` against
// the raw `mariadb-binlog … | mariadb` anyone would type, on the same files from the same
// start position, into one throwaway target in the same run, on two loads: many writers at
// once (horizn's ingest, the goal's) and one writer whose every transaction depends on the
// one before (the worst case for a parallel applier); (2) shipping lag of the continuous
// `dbops binlog ship` under a steady write load (binlog-lag.ts).
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { withConnection } from '../../src/mysql/client.js';
import { readServerInfo, type Flavor } from '../../src/mysql/server-info.js';
import { flavorProfile, resolveTools } from '../../src/mysql/flavor.js';
import { withDefaultsFile, defaultsFileArg } from './defaults-file.js';
import { formatConnectionUrl, type MysqlConn } from '../../src/mysql/connection-url.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { localRestoreTuningArgs } from '../../src/sandbox/restore-tuning.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository } from '../../src/repo/repository.js';
import { binlogTool } from '../../src/pitr/binlog-find.js';
import { groupSetup, makeFileRepository, median, shellQuote } from './backup-cases.js';
import { measureCommand, type Measurement } from './measure-command.js';
import { DATABASE } from './dataset.js';
import type { BenchGroupContext } from './context.js';
import { loadCheck, loadMarks, removeLoad, writeBinlogVolume, type LoadCheck, type LoadMarks } from './binlog-load.js';
import { runLagBench, type LagResult } from './binlog-lag.js';
import { WindowSampler, type WindowCpu } from './window-sampler.js';
import { findChildProcess } from './process-tree.js';

/** Goals (issue #19): replay at least this multiple of the plain pipeline's rate; lag p99 at most this. */
export const GOAL_REPLAY_RATIO = 2;
export const GOAL_LAG_P99_SECONDS = 5;
/** Issue #19: the lag budget kept with at most this many forced rotations a minute. */
export const GOAL_ROTATIONS_PER_MINUTE = 1;

export interface BinlogBenchContext extends BenchGroupContext {
  /** Writer connections of the concurrent load (the replay goal's load). */
  loadWriters: number;
  /** Shipping-lag run: writer duration, rows per second, binlog.maxLagSeconds. */
  lagSeconds: number;
  lagRate: number;
  maxLagSeconds: number;
  /** binlog.partialSegments for the shipper (on by default, as in dbops). */
  partialSegments: boolean;
  /** True once Ctrl-C was pressed: the lag measurement stops early. */
  interrupted: () => boolean;
}

export interface PitrSummary {
  phases: Record<string, number>;
  replay: { sqlBytes: number; binlogBytes: number; seconds: number; bytesPerSecond: number; applier: Record<string, unknown> };
}

export interface ReplayCase {
  id: 'plain' | 'dbops-pitr';
  label: string;
  runs: Measurement[];
  /** Seconds of binlog replay per run: the plain pipeline's wall; pitr's own `replay.seconds`. */
  replaySeconds: number[];
  /** Median of replaySeconds. */
  seconds: number;
  /** pitr --json of every run (dbops only). */
  pitr?: PitrSummary[];
  /** The untimed `dbops restore` before each plain run (dbops' own seconds). */
  restoreSeconds?: number[];
  /** dbops only: CPU during the replay phase alone (sampled; see window-sampler.ts). */
  replayCpu?: Array<WindowCpu | null>;
}

/** Replay of one load: its base, its chain, both sides' runs. */
export interface ReplayResult {
  /** Writer connections of the load (1: every transaction depends on the one before). */
  writers: number;
  backupId: string;
  load: { binlogBytes: number; transactions: number; rows: number; seconds: number };
  chain: { files: string[]; startPosition: number; bytes: number };
  /** The chain's transactions, and how many of them the source committed in groups (MariaDB's `cid=`). */
  commitGroups: CommitGroups;
  cases: ReplayCase[];
  /** binlog bytes replayed / replay seconds (medians), and dbops/plain. */
  plainBytesPerSecond: number | null;
  dbopsBytesPerSecond: number | null;
  ratio: number | null;
  /** dbops/plain rate of each run's pair (plain seconds / dbops seconds). */
  pairedRatios: number[];
  /** The source after the load; every replay's target had to match it. */
  check: LoadCheck;
}

export interface BinlogBenchResult {
  cli: string;
  /** The concurrent load's replay first (the goal is judged on it), then the single writer's. */
  replays: ReplayResult[];
  targetVersion: string;
  lag: LagResult;
}

interface PlanJson {
  plan: { base: { id: string }; flavor: Flavor; chain: Array<{ file: string; from: number; to: number; rawBytes: number }> };
}

export async function runBinlogBench(ctx: BinlogBenchContext): Promise<BinlogBenchResult> {
  const setup = groupSetup(ctx.root, ctx.workDir);
  const { cli, env, dbops } = setup;

  // A repository of its own: the backup's coordinates must lie in the binlogs shipped here.
  const { env: repoEnv, storageUrl: repoUrl } = await makeFileRepository(dbops, ctx.workDir, 'binlog', ctx.dataset.url, {
    DBOPS_BINLOG_SPOOL_DIR: join(ctx.workDir, 'binlog-spool'),
  });

  // The seed numbers rows 1…N, so the load starts above that. Rows there now are left by a
  // run stopped with Ctrl-C (the cleanup registry stops the server before `finally` below
  // can remove them): removed first, unlogged. Old binlogs would only slow the first ship.
  const marks = { firstPageviewId: (ctx.dataset.rows.pageviews ?? 0) + 1, firstEventId: (ctx.dataset.rows.events ?? 0) + 1 };
  await removeLoad(ctx.dataset.conn, marks);
  const found = await loadMarks(ctx.dataset.conn);
  if (found.firstPageviewId !== marks.firstPageviewId || found.firstEventId !== marks.firstEventId) {
    throw new Error(`the dataset's pageviews/events ids do not run 1…${marks.firstPageviewId - 1}/${marks.firstEventId - 1} as seeded; reseed it`);
  }
  try {
    // One throwaway target for every replay, like the restore group's: no binlog, tuned as restore-test's sandbox.
    ctx.log('  starting the target server …');
    const target = await startSandboxServer({ binlog: false, extraArgs: await localRestoreTuningArgs() });
    let stopped = false;
    const stopTarget = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      await target.stop();
    };
    ctx.onCleanup(stopTarget);

    // Each load gets a base of its own (taken after the loads before it), so each chain holds one load.
    const replays: ReplayResult[] = [];
    let next = marks;
    for (const writers of [ctx.loadWriters, 1]) {
      ctx.log(`  load: ${writers === 1 ? 'one writer, each transaction updating the rows of the one before (the worst case)' : `${writers} writers at once (the goal's load)`}`);
      const r = await measureReplay({ ctx, setup, repoEnv, repoUrl, target, checkMarks: marks, marks: next, writers });
      replays.push(r.result);
      next = r.marks;
    }
    await stopTarget();

    ctx.log(`▶ binlog: shipping lag, continuous dbops binlog ship with binlog.maxLagSeconds=${ctx.maxLagSeconds}${ctx.partialSegments ? ' and binlog.partialSegments' : ''}, ${ctx.lagRate} rows/s for ${ctx.lagSeconds} s`);
    const lag = await runLagBench({
      cli,
      env: { ...env, ...repoEnv },
      dataset: ctx.dataset,
      repoUrl: repoUrl,
      marks: next,
      seconds: ctx.lagSeconds,
      rowsPerSecond: ctx.lagRate,
      maxLagSeconds: ctx.maxLagSeconds,
      partialSegments: ctx.partialSegments,
      sourcePid: ctx.dataset.serverPid,
      logFile: join(ctx.workDir, 'shipper.log'),
      log: ctx.log,
      interrupted: ctx.interrupted,
      onCleanup: ctx.onCleanup,
    });
    return { cli: cli.label, replays, targetVersion: target.version, lag };
  } finally {
    // Leave a --reuse dataset as seeded: the load's rows out (not binlogged), its binlogs purged.
    ctx.log('  removing the load from the source …');
    await removeLoad(ctx.dataset.conn, marks).catch((err: Error) => ctx.log(`  removing the load: ${err.message}`));
  }
}

interface ReplayOptions {
  ctx: BinlogBenchContext;
  setup: ReturnType<typeof groupSetup>;
  repoEnv: Record<string, string>;
  repoUrl: string;
  target: SandboxServer;
  /** The first load's marks: the check covers every load's rows so far. */
  checkMarks: LoadMarks;
  /** Where this load's ids start. */
  marks: LoadMarks;
  writers: number;
}

/** Base backup, load, ship, then both sides' timed replays of its chain; returns the marks above the load's ids. */
async function measureReplay({ ctx, setup, repoEnv, repoUrl, target, checkMarks, marks, writers }: ReplayOptions): Promise<{ result: ReplayResult; marks: LoadMarks }> {
  const { cli, env, logFile, timeFile, probe, dbops } = setup;
  ctx.log('  dbops backup → file:// (the base) …');
  const backupId = (JSON.parse(await dbops(['backup', '--databases', DATABASE, '--json'], repoEnv)) as { id: string }).id;

  // The load: ~20% of the dataset size in binlog, at least 20 MB.
  const want = Math.max(20e6, Math.round(ctx.dataset.sizeBytes * 0.2));
  ctx.log(`  writing ~${(want / 1e6).toFixed(0)} MB of binlog on ${writers} connection(s) (transactions of 40 pageviews + 10 events + UPDATE of the writer's previous 40) …`);
  let lastSay = 0;
  const load = await writeBinlogVolume(ctx.dataset.conn, marks, want, writers, (n) => {
    if (performance.now() - lastSay < 5000) return;
    lastSay = performance.now();
    ctx.log(`    ${(n / 1e6).toFixed(0)} MB`);
  });
  ctx.log(`    ${(load.binlogBytes / 1e6).toFixed(1)} MB, ${load.transactions} transactions, ${load.rows} rows in ${load.seconds.toFixed(1)} s`);
  ctx.log('  dbops binlog ship --once …');
  const shipped = JSON.parse(await dbops(['binlog', 'ship', '--once', '--json'], repoEnv)) as { shipped: string[]; gaps: unknown[] };
  if (shipped.gaps.length) throw new Error(`binlog ship --once recorded gaps: ${JSON.stringify(shipped.gaps)}`);
  const check = await loadCheck(ctx.dataset.conn, checkMarks);

  // What pitr will replay: its own plan. The plain pipeline gets the same files and start position.
  const plan = (JSON.parse(await dbops(['pitr', '--to', 'latest', '--dry-run', '--json'], repoEnv)) as PlanJson).plan;
  if (plan.base.id !== backupId) throw new Error(`pitr would start from backup ${plan.base.id}, not ${backupId}`);
  const chain = plan.chain;
  if (chain.length === 0) throw new Error('pitr plans no binlog to replay');
  if (chain.at(-1)!.to !== chain.at(-1)!.rawBytes) throw new Error('pitr --to latest stops inside the last file: the plain pipeline would need --stop-position');
  const chainBytes = chain.reduce((n, c) => n + (c.to - c.from), 0);
  const plainDir = join(ctx.workDir, `plain-binlogs-${writers}`);
  const files = await copyChain(ctx.dataset.binlogDir, plainDir, repoUrl, chain.map((c) => c.file));
  ctx.log(`  chain: ${chain[0]!.file}:${chain[0]!.from} → ${chain.at(-1)!.file} (${chain.length} files, ${(chainBytes / 1e6).toFixed(1)} MB to replay; copies checked against the segment manifests)`);

  const decoder = binlogTool(plan.flavor); // the binlogs' flavour, as pitr picks it
  const groups = await commitGroups(decoder, files, chain[0]!.from);
  ctx.log(`  commit groups in the chain: ${groups.grouped} of ${groups.transactions} transactions in ${groups.groups} groups`);

  const targetEnv = { ...env, ...repoEnv, DBOPS_RESTORE_TARGET_URL: formatConnectionUrl(target.conn) };
  const watchPids = { mariadbd: target.pid };
  const info = await withConnection(target.conn, (db) => readServerInfo(db));
  const client = resolveTools(flavorProfile(info)).client;

  const verify = async (label: string): Promise<void> => {
    const got = await loadCheck(target.conn, checkMarks);
    if (JSON.stringify(got) !== JSON.stringify(check)) throw new Error(`${label}: the target has ${JSON.stringify(got)} after the replay, the source ${JSON.stringify(check)}`);
    ctx.log(`    target matches the source (pageviews ${got.pageviews}, events ${got.events}, load's time_on_page_ms sum ${got.loadTimeOnPage})`);
  };
  const plain: ReplayCase = { id: 'plain', label: 'mariadb-binlog | mariadb', runs: [], replaySeconds: [], seconds: 0, restoreSeconds: [] };
  const ours: ReplayCase = { id: 'dbops-pitr', label: 'dbops pitr --to latest (replay phase)', runs: [], replaySeconds: [], seconds: 0, pitr: [], replayCpu: [] };
  // (a) plain: restore the base untimed with dbops, then the timed pipeline.
  const runPlain = async (of: string): Promise<void> => {
    ctx.log(`  dbops restore ${backupId} (untimed, the base for the plain replay)${of} …`);
    await dropDatabase(target.conn);
    const restored = JSON.parse(await dbops(['restore', backupId, '--force', '--json'], targetEnv)) as { seconds: number };
    plain.restoreSeconds!.push(restored.seconds);
    ctx.log(`  ${plain.label}${of} …`);
    const m = await withDefaultsFile(target.conn, client, (defaultsFile) => {
      const script = `set -o pipefail; ${[decoder, '--no-defaults', `--start-position=${chain[0]!.from}`, ...files].map(shellQuote).join(' ')} | ${[client, defaultsFileArg(defaultsFile)].map(shellQuote).join(' ')}`;
      return measureCommand({ file: 'bash', args: ['-c', script], env, logFile, watchPids }, timeFile);
    });
    if (m.exitCode !== 0) throw new Error(`${plain.label} failed with exit ${m.exitCode}; see ${logFile}`);
    plain.runs.push(m);
    plain.replaySeconds.push(m.wallSeconds);
    ctx.log(`    ${m.wallSeconds.toFixed(2)} s`);
    await verify(plain.label);
  };
  // (b) dbops pitr: restores the same base itself, then replays; its --json times each phase.
  const runPitr = async (of: string, run: number): Promise<void> => {
    ctx.log(`  dbops pitr --to latest${of} …`);
    await dropDatabase(target.conn);
    const prof = ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${ctx.resultsDir}`, `--cpu-prof-name=cpu-pitr-${Date.now()}-run${run}.cpuprofile`] : [];
    const sampler = new WindowSampler(target.pid, () => findChildProcess(process.pid, (argv) => argv.includes('pitr'))).start();
    let p: Measurement;
    try {
      p = await measureCommand(
        { file: process.execPath, args: [...prof, '--import', probe, ...cli.argv, 'pitr', '--to', 'latest', '--json'], env: { ...targetEnv, ...cli.env }, logFile, probeFile: join(ctx.workDir, 'probe.json'), watchPids },
        timeFile,
      );
    } finally {
      sampler.stop();
    }
    if (p.exitCode !== 0) throw new Error(`dbops pitr failed with exit ${p.exitCode}; see ${logFile}`);
    const summary = JSON.parse(p.stdout) as PitrSummary & { plan: { base: { id: string } } };
    if (summary.plan.base.id !== backupId || summary.replay.binlogBytes !== chainBytes) {
      throw new Error(`dbops pitr replayed ${summary.replay.binlogBytes} bytes from ${summary.plan.base.id}, planned ${chainBytes} from ${backupId}`);
    }
    ours.runs.push(p);
    ours.pitr!.push({ phases: summary.phases, replay: summary.replay });
    ours.replaySeconds.push(summary.replay.seconds);
    // The replay phase ends just before pitr logs "pitr finished" (its log time, epoch ms).
    const finished = await lastLogTime(logFile, 'pitr finished');
    ours.replayCpu!.push(finished === null ? null : sampler.window(finished - summary.replay.seconds * 1000, finished));
    ctx.log(`    replay ${summary.replay.seconds.toFixed(2)} s (${Object.entries(summary.phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}; whole command ${p.wallSeconds.toFixed(1)} s)`);
    await verify('dbops pitr');
  };
  // Alternate which side goes first, so neither always follows the other's DROP DATABASE.
  for (let run = 1; run <= ctx.repeat; run++) {
    const of = ctx.repeat > 1 ? ` (run ${run}/${ctx.repeat})` : '';
    if (run % 2 === 1) {
      await runPlain(of);
      await runPitr(of, run);
    } else {
      await runPitr(of, run);
      await runPlain(of);
    }
  }
  plain.seconds = median(plain.replaySeconds);
  ours.seconds = median(ours.replaySeconds);

  const rate = (c: ReplayCase): number | null => (c.seconds > 0 ? chainBytes / c.seconds : null);
  const plainRate = rate(plain);
  const ourRate = rate(ours);
  const result: ReplayResult = {
    writers,
    backupId,
    load: { binlogBytes: load.binlogBytes, transactions: load.transactions, rows: load.rows, seconds: load.seconds },
    chain: { files: chain.map((c) => c.file), startPosition: chain[0]!.from, bytes: chainBytes },
    commitGroups: groups,
    cases: [plain, ours],
    plainBytesPerSecond: plainRate,
    dbopsBytesPerSecond: ourRate,
    ratio: plainRate && ourRate ? ourRate / plainRate : null,
    pairedRatios: plain.replaySeconds.map((sec, i) => sec / ours.replaySeconds[i]!),
    check,
  };
  return { result, marks: load.marks };
}

async function lastLogTime(logFile: string, msg: string): Promise<number | null> {
  const lines = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes(`"msg":"${msg}"`));
  try {
    // Log times are ISO strings (src/util/logger.ts); callers want epoch milliseconds.
    const t = Date.parse((JSON.parse(lines.at(-1) ?? '') as { time: string }).time);
    return Number.isNaN(t) ? null : t;
  } catch {
    return null;
  }
}

export interface CommitGroups {
  transactions: number;
  /** Transactions whose GTID event carries a commit id, and how many distinct ids. */
  grouped: number;
  groups: number;
}

/**
 * Counts the source's commit groups in the chain: transactions committed in one binlog group
 * commit share a `cid=` on their GTID event, and only those the target's conservative
 * parallel replication applies at once. Untimed; row events are left undecoded.
 */
async function commitGroups(decoder: string, files: string[], from: number): Promise<CommitGroups> {
  const proc = execa(decoder, ['--no-defaults', '--base64-output=decode-rows', `--start-position=${from}`, ...files], { stdin: 'ignore', buffer: false });
  const cids = new Set<string>();
  const out: CommitGroups = { transactions: 0, grouped: 0, groups: 0 };
  for await (const line of createInterface({ input: proc.stdout, crlfDelay: Infinity })) {
    const m = /\tGTID \d+-\d+-\d+(?: cid=(\d+))?/.exec(line);
    if (!m) continue;
    out.transactions++;
    if (m[1]) {
      out.grouped++;
      cids.add(m[1]);
    }
  }
  await proc;
  out.groups = cids.size;
  return out;
}

async function dropDatabase(conn: MysqlConn): Promise<void> {
  await withConnection(conn, (db) => db.exec(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
}

/**
 * The plain side's copies of the chain, taken from the source's binlog directory and
 * checked byte for byte (sha256) against the signed segment manifests pitr replays from.
 */
async function copyChain(binlogDir: string, into: string, repoUrl: string, files: string[]): Promise<string[]> {
  await mkdir(into, { recursive: true });
  const repo = await openRepository(await openStorage(repoUrl));
  const sources = await repo.binlogs.sources();
  if (sources.length !== 1) throw new Error(`expected one binlog source in ${repoUrl}, found ${sources.length}`);
  const { segments } = await repo.binlogs.segments(sources[0]!);
  const out: string[] = [];
  for (const file of files) {
    const seg = segments.find((s) => s.file === file);
    if (!seg) throw new Error(`${file} is not in the repository`);
    const path = join(into, file);
    await copyFile(join(binlogDir, file), path);
    const sha = createHash('sha256').update(await readFile(path)).digest('hex');
    if (sha !== seg.rawSha256) throw new Error(`${binlogDir}/${file} differs from the shipped segment (sha256 ${sha} vs ${seg.rawSha256})`);
    out.push(path);
  }
  return out;
}
