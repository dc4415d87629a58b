// Turns the restore group's measurements into its printed table and its part of the
// JSON record. Goal (issue): `dbops restore` ≥ 2.2× faster than `mariadb < dump.sql`.
import { measurementJson, pad } from './report.js';
import type { Measurement } from './measure-command.js';
import { HISTORY_DONE } from './quiescent.js';
import { GOAL_SPEEDUP, lastRestoreSummary, type RestoreBenchResult } from './restore-cases.js';

const MB = 1e6;
const mbOfKb = (kb: number | null | undefined): string => (kb == null ? '–' : `${((kb * 1024) / MB).toFixed(0)} MB`);

function avg(xs: Array<number | null | undefined>): string {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1) : '–';
}


export function formatRestoreTable(result: RestoreBenchResult): string {
  const plain = result.cases.find((c) => c.id === 'plain')?.wallSeconds;
  const header = ['measurement', 'wall s', 'MB/s', '× plain', 'CPU s', 'mariadbd', 'others', 'dbops RSS', 'children RSS', 'settled s'];
  const row = (label: string, id: string, wall: number, runs: Measurement[], settled: string): string[] =>
    [
      label,
      wall.toFixed(2),
      result.dumpBytes ? (result.dumpBytes / MB / wall).toFixed(1) : '–',
      plain ? `${(wall / plain).toFixed(2)}×` : '–',
      avg(runs.map((r) => r.treeCpuSeconds)),
      avg(runs.map((r) => r.watchedCpuSeconds.mariadbd)),
      avg(runs.map((r) => r.otherCpuSeconds)),
      id.startsWith('dbops') ? mbOfKb(Math.max(...runs.map((r) => r.probe?.maxRssKb ?? 0))) : '',
      mbOfKb(Math.max(...runs.map((r) => r.peakDescendantsRssKb))),
      settled,
    ].map(String);
  // Every load in the order it ran, then each side's median.
  const runRows = result.sequence.map((s) => {
    const c = result.cases.find((x) => x.id === s.id)!;
    return row(`${c.label} #${s.run}`, s.id, s.wallSeconds, [c.runs[s.run - 1]!], s.settle.seconds.toFixed(1));
  });
  const medianRows = result.cases.map((c) => row(`${c.label} (median)`, c.id, c.wallSeconds, c.runs, ''));
  const widths = header.map((h, i) => Math.max(h.length, ...[...runRows, ...medianRows].map((r) => r[i]!.length)));
  const own = lastRestoreSummary(result);
  const verdict = result.speedup === null ? 'not measured' : result.speedup >= GOAL_SPEEDUP ? 'met' : 'MISSED';
  const pairs = pairRatios(result);
  return [
    '',
    `restore benchmark: ${(result.dumpBytes / MB).toFixed(0)} MB plain dump (made in ${result.dumpSeconds.toFixed(1)} s) vs backup ${result.backupId}` +
      `${result.reusedBackup ? ' (from the backup group)' : ''}${own ? ` in ${own.parts} parts` : ''}; target MariaDB ${result.targetVersion}, no binlog, tuned for a bulk load (restoreTuningArgs)`,
    `dbops CLI: ${result.cli}; ${result.cases[0]?.runs.length ?? 0} run(s) per side, alternating; each load on a quiescent target (database dropped, no dirty pages, purge history ≤ ${HISTORY_DONE}); ` +
      `${result.checkedTable.name} row count (${result.checkedTable.rows}) checked after every load`,
    '',
    pad(header, widths),
    pad(widths.map((w) => '-'.repeat(w)), widths),
    ...runRows.map((r) => pad(r, widths)),
    pad(widths.map((w) => '-'.repeat(w)), widths),
    ...medianRows.map((r) => pad(r, widths)),
    '',
    'MB/s = plain dump size / wall; mariadbd = target server CPU during the load; others = CPU the rest of the machine used meanwhile;',
    'settled s = the wait before the load for the target to flush its dirty pages and finish purge (not timed).',
    `speed-up plain/dbops (medians): ${result.speedup === null ? '–' : `${result.speedup.toFixed(2)}×`}; goal ≥ ${GOAL_SPEEDUP}×: ${verdict}` +
      `${pairs.length > 1 ? `; per pair: ${pairs.map((p) => `${p.toFixed(2)}×`).join(', ')}` : ''}` +
      `${own ? ` (dbops' own timer: ${own.seconds.toFixed(1)} s; the rest of the wall is CLI start-up and exit)` : ''}`,
    '',
  ].join('\n');
}

/** plain wall / dbops wall of each run pair (run i of both sides). */
function pairRatios(result: RestoreBenchResult): number[] {
  const plain = result.cases.find((c) => c.id === 'plain')?.runs ?? [];
  const ours = result.cases.find((c) => c.id === 'dbops-restore')?.runs ?? [];
  return plain.flatMap((p, i) => (ours[i] ? [p.wallSeconds / ours[i].wallSeconds] : []));
}

/** The JSON record of the group: every run's raw numbers, without process argv. */
export function restoreJson(result: RestoreBenchResult): unknown {
  return {
    goal: { speedup: GOAL_SPEEDUP, met: result.speedup === null ? null : result.speedup >= GOAL_SPEEDUP },
    speedup: result.speedup,
    pairSpeedups: pairRatios(result),
    method: 'alternating plain/dbops; before each load: DROP DATABASE, then wait for 0 dirty pages and purge history ≤ ' + HISTORY_DONE,
    sequence: result.sequence,
    cli: result.cli,
    backupId: result.backupId,
    reusedBackup: result.reusedBackup,
    dumpBytes: result.dumpBytes,
    dumpSeconds: result.dumpSeconds,
    checkedTable: result.checkedTable,
    targetVersion: result.targetVersion,
    dbopsSummary: lastRestoreSummary(result),
    cases: result.cases.map((c) => ({
      id: c.id,
      label: c.label,
      wallSeconds: c.wallSeconds,
      runs: c.runs.map(measurementJson),
    })),
  };
}
