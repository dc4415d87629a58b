// Turns the binlog group's measurements into its printed table and its part of the JSON
// record. Goals (issue #19): dbops replay ≥ 2× the plain pipeline's rate on the concurrent
// load (the single-writer load is shown beside it as the worst case); shipping lag p99 ≤ 5 s
// under a steady write load with at most one forced rotation a minute.
import { measurementJson, pad } from './report.js';
import { GOAL_LAG_P99_SECONDS, GOAL_REPLAY_RATIO, GOAL_ROTATIONS_PER_MINUTE, type BinlogBenchResult, type ReplayResult } from './binlog-cases.js';
import { median } from './backup-cases.js';

const MB = 1e6;


function avg(xs: Array<number | null | undefined>): string {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1) : '–';
}

function mean(xs: Array<number | null | undefined>): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/**
 * Core-seconds each side spent on the replay (its processes plus the target), averaged: a
 * figure the other helpers' load moves much less than wall, which it stretches more for a
 * three-process pipeline than for the server's own threads.
 */
function replayCpu(r: ReplayResult): { plain: number | null; dbops: number | null } {
  const plain = r.cases.find((c) => c.id === 'plain');
  const ours = r.cases.find((c) => c.id === 'dbops-pitr');
  const sum = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + b);
  return {
    plain: plain ? sum(mean(plain.runs.map((m) => m.treeCpuSeconds)), mean(plain.runs.map((m) => m.watchedCpuSeconds.mariadbd))) : null,
    dbops: ours ? sum(mean((ours.replayCpu ?? []).map((w) => w?.treeCpuSeconds)), mean((ours.replayCpu ?? []).map((w) => w?.watchedCpuSeconds))) : null,
  };
}

function fmt(x: number | null): string {
  return x === null ? '–' : x.toFixed(1);
}

function fmt2(x: number | null): string {
  return x === null ? '–' : x.toFixed(2);
}

function verdict(ok: boolean | null): string {
  return ok === null ? 'not measured' : ok ? 'met' : 'MISSED';
}

/** The load the replay goal is judged on: the concurrent writers' (the first). */
function goalReplay(r: BinlogBenchResult): ReplayResult {
  return r.replays[0]!;
}

function loadName(x: ReplayResult): string {
  return x.writers === 1 ? '1 writer' : `${x.writers} writers`;
}

export function replayMet(r: BinlogBenchResult): boolean | null {
  const ratio = goalReplay(r).ratio;
  return ratio === null ? null : ratio >= GOAL_REPLAY_RATIO;
}

export function lagMet(r: BinlogBenchResult): boolean | null {
  return r.lag.p99 === null ? null : r.lag.p99 <= GOAL_LAG_P99_SECONDS && r.lag.shipperExitCode === 0 && r.lag.drainSeconds !== null;
}

export function rotationsMet(r: BinlogBenchResult): boolean | null {
  return r.lag.rotationsPerMinute === null ? null : r.lag.rotationsPerMinute <= GOAL_ROTATIONS_PER_MINUTE;
}

export function formatBinlogTable(r: BinlogBenchResult): string {
  const header = ['load', 'measurement', 'replay s', 'MB/s', '× plain', 'CPU s', 'mariadbd', 'others', 'whole cmd s'];
  const rows = r.replays.flatMap((x) => {
    const plain = x.cases.find((c) => c.id === 'plain');
    return x.cases.map((c) => {
      const isPlain = c.id === 'plain';
      return [
        loadName(x),
        c.label,
        c.seconds.toFixed(2),
        (x.chain.bytes / MB / c.seconds).toFixed(1),
        plain ? `${(plain.seconds / c.seconds).toFixed(2)}×` : '–',
        // plain: GNU time over the pipeline; pitr: sampled over its replay phase only (~, ±0.1 s at each end).
        isPlain ? avg(c.runs.map((m) => m.treeCpuSeconds)) : `~${avg((c.replayCpu ?? []).map((w) => w?.treeCpuSeconds))}`,
        isPlain ? avg(c.runs.map((m) => m.watchedCpuSeconds.mariadbd)) : `~${avg((c.replayCpu ?? []).map((w) => w?.watchedCpuSeconds))}`,
        isPlain ? avg(c.runs.map((m) => m.otherCpuSeconds)) : `~${avg((c.replayCpu ?? []).map((w) => w?.otherCpuSeconds))}`,
        median(c.runs.map((m) => m.wallSeconds)).toFixed(1),
      ];
    });
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const lag = r.lag;
  const goal = goalReplay(r);
  const perLoad = r.replays.flatMap((x) => {
    const plain = x.cases.find((c) => c.id === 'plain');
    const ours = x.cases.find((c) => c.id === 'dbops-pitr');
    const phases = ours?.pitr?.at(-1)?.phases ?? {};
    const cpu = replayCpu(x);
    const isGoal = x === goal;
    return [
      `${loadName(x)}${isGoal ? " (the goal's load)" : ' (the worst case, no goal)'}: replay rate dbops/plain ${x.ratio === null ? '–' : `${x.ratio.toFixed(2)}×`} (of the medians; per run ${x.pairedRatios.map((y) => y.toFixed(2)).join(', ')}, median ${x.pairedRatios.length ? median(x.pairedRatios).toFixed(2) : '–'})${isGoal ? `; goal ≥ ${GOAL_REPLAY_RATIO}×: ${verdict(replayMet(r))}` : ''}`,
      `  core-seconds per replay (command + target): plain ${fmt(cpu.plain)}, dbops ~${fmt(cpu.dbops)}${cpu.plain && cpu.dbops ? `, plain/dbops ${(cpu.plain / cpu.dbops).toFixed(2)}×` : ''}; the machine's other load moves this ratio less than the wall ratio.`,
      `  pitr applier (last run): ${JSON.stringify(ours?.pitr?.at(-1)?.replay.applier ?? null)}; phases (last run): ${Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}; untimed restore before plain: ${avg(plain?.restoreSeconds ?? [])} s.`,
    ];
  });
  return [
    '',
    `binlog replay, per load: binlog written (transactions of 40 pageviews + 10 events + UPDATE of the same connection's previous 40), then replayed from its own base backup:`,
    ...r.replays.map(
      (x) =>
        `  ${loadName(x)}: ${(x.load.binlogBytes / MB).toFixed(1)} MB (${x.load.transactions} transactions, ${(x.load.binlogBytes / MB / x.load.seconds).toFixed(1)} MB/s) after backup ${x.backupId}; replayed ${x.chain.files[0]}:${x.chain.startPosition} → ${x.chain.files.at(-1)} (${x.chain.files.length} files, ${(x.chain.bytes / MB).toFixed(1)} MB; ${x.commitGroups.grouped} of ${x.commitGroups.transactions} transactions in ${x.commitGroups.groups} commit groups)`,
    ),
    '  (the source syncing binlog and redo log at each commit, as for PITR; a commit group, `cid=` in the binlog, is what conservative parallel replication applies at once)',
    `  into a target MariaDB ${r.targetVersion}, no binlog, tuned for a bulk load (restoreTuningArgs), base restored before each run`,
    `dbops CLI: ${r.cli}; median of ${goal.cases[0]?.runs.length ?? 0} run(s) per side and load; row counts and the load's time_on_page_ms sum checked against the source after every replay`,
    '',
    pad(header, widths),
    pad(widths.map((w) => '-'.repeat(w)), widths),
    ...rows.map((x) => pad(x, widths)),
    '',
    'replay s: plain = wall of the pipeline; dbops = `replay.seconds` from `pitr --json` (the applier it chose, below; after plan, restore and fetch). × plain: against the same load\'s plain row.',
    'CPU s = the command tree, mariadbd = the target, others = the rest of the machine (2 cores: 2 CPU s per wall s); averages. For pitr sampled over its replay phase only (~).',
    'MB/s = binlog bytes replayed / replay s.',
    ...perLoad,
    '',
    `shipping lag: continuous dbops binlog ship, binlog.maxLagSeconds=${lag.maxLagSeconds}, binlog.partialSegments=${lag.partialSegments} (rotates ${lag.rotateAfterSeconds} s after the oldest unshipped transaction),`,
    `  writer ${lag.rowsPerSecond} rows/s (${lag.shape.transactionsPerSecond} transactions/s of ${lag.shape.pageviews} pageviews + ${lag.shape.events} events + UPDATE of the previous ${lag.shape.pageviews}) for ${lag.seconds} s:` +
      ` wrote ${lag.written.rows} rows in ${lag.written.seconds.toFixed(1)} s (${lag.written.rowsPerSecond.toFixed(0)} rows/s, slowest transaction ${lag.written.slowestTxSeconds.toFixed(2)} s)`,
    `  ${lag.samples.length} samples, one a second, of the repository's shipping status (what \`dbops binlog status\` reports; read in-process, ${avg(lag.samples.map((s) => s.statusSeconds * 1000))} ms each)${lag.failedSamples ? `; ${lag.failedSamples} failed` : ''}:`,
    `  lagSeconds (now − newest shipped event, whole seconds) p50 ${lag.p50 ?? '–'} s, p99 ${lag.p99 ?? '–'} s, max ${lag.max ?? '–'} s; goal p99 ≤ ${GOAL_LAG_P99_SECONDS} s: ${verdict(lagMet(r))}`,
    `  unrounded (event times are whole seconds, so up to 1 s high): p50 ${fmt(lag.exact.p50)} s, p99 ${fmt(lag.exact.p99)} s, max ${fmt(lag.exact.max)} s`,
    `  ${lag.shippedFiles} files shipped; the last transaction was in the repository ${lag.drainSeconds === null ? 'NOT within the wait' : `${lag.drainSeconds.toFixed(1)} s`} after the writer stopped; shipper exit on SIGTERM: ${lag.shipperExitCode}${lag.shipperExitCode === 0 ? '' : ' (expected 0)'}`,
    `  forced rotations (FLUSH BINARY LOGS by the shipper): ${lag.forcedRotations ?? '–'}, ${fmt2(lag.rotationsPerMinute)} a minute of the shipper's run; the source gained ${lag.sourceFilesAdded} binlog file(s); partial segments: ${lag.partials ?? '–'}; goal ≤ ${GOAL_ROTATIONS_PER_MINUTE} a minute: ${verdict(rotationsMet(r))}`,
    `  CPU s over the writer's run: shipper tree ${fmt(lag.cpu?.treeCpuSeconds ?? null)}, source mariadbd ${fmt(lag.cpu?.watchedCpuSeconds ?? null)}, others ${fmt(lag.cpu?.otherCpuSeconds ?? null)} (the rest of the machine, 2 cores: 2 CPU s per wall s)`,
    '',
  ].join('\n');
}

/** The JSON record of the group: every run's raw numbers, without process argv. */
export function binlogJson(r: BinlogBenchResult): unknown {
  const replay = (x: ReplayResult): unknown => ({
    writers: x.writers,
    ratio: x.ratio,
    pairedRatios: x.pairedRatios,
    cpuSeconds: replayCpu(x),
    plainBytesPerSecond: x.plainBytesPerSecond,
    dbopsBytesPerSecond: x.dbopsBytesPerSecond,
    dbopsSecondsFrom: 'pitr --json replay.seconds',
    cli: r.cli,
    backupId: x.backupId,
    load: x.load,
    chain: x.chain,
    commitGroups: x.commitGroups,
    check: x.check,
    targetVersion: r.targetVersion,
    cases: x.cases.map((c) => ({
      id: c.id,
      label: c.label,
      seconds: c.seconds,
      replaySeconds: c.replaySeconds,
      restoreSeconds: c.restoreSeconds,
      pitr: c.pitr,
      replayCpu: c.replayCpu,
      runs: c.runs.map(measurementJson),
    })),
  });
  return {
    goal: { replayRatio: GOAL_REPLAY_RATIO, replayMet: replayMet(r), replayLoadWriters: goalReplay(r).writers, lagP99Seconds: GOAL_LAG_P99_SECONDS, lagMet: lagMet(r), rotationsPerMinute: GOAL_ROTATIONS_PER_MINUTE, rotationsMet: rotationsMet(r) },
    // `replay` is the goal's (concurrent) load; `replaySingleWriter` the worst case beside it.
    replay: replay(goalReplay(r)),
    replaySingleWriter: r.replays[1] ? replay(r.replays[1]) : null,
    lag: r.lag,
  };
}
