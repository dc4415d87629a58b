// Turns the restore group's measurements into its printed table and its part of the
// JSON record. Goal (issue): `dbops restore` ≥ 2.2× faster than `mariadb < dump.sql`.
import { measurementJson, pad } from './report.js';
import { GOAL_SPEEDUP, lastRestoreSummary, type RestoreBenchResult } from './restore-cases.js';

const MB = 1e6;
const mbOfKb = (kb: number | null | undefined): string => (kb == null ? '–' : `${((kb * 1024) / MB).toFixed(0)} MB`);

function avg(xs: Array<number | null | undefined>): string {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1) : '–';
}


export function formatRestoreTable(result: RestoreBenchResult): string {
  const plain = result.cases.find((c) => c.id === 'plain')?.wallSeconds;
  const header = ['measurement', 'wall s', 'MB/s', '× plain', 'CPU s', 'mariadbd', 'others', 'dbops RSS', 'children RSS'];
  const rows = result.cases.map((c) =>
    [
      c.label,
      c.wallSeconds.toFixed(2),
      (result.dumpBytes / MB / c.wallSeconds).toFixed(1),
      plain ? `${(c.wallSeconds / plain).toFixed(2)}×` : '–',
      avg(c.runs.map((r) => r.treeCpuSeconds)),
      avg(c.runs.map((r) => r.watchedCpuSeconds.mariadbd)),
      avg(c.runs.map((r) => r.otherCpuSeconds)),
      c.id.startsWith('dbops') ? mbOfKb(Math.max(...c.runs.map((r) => r.probe?.maxRssKb ?? 0))) : '',
      mbOfKb(Math.max(...c.runs.map((r) => r.peakDescendantsRssKb))),
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const own = lastRestoreSummary(result);
  const verdict = result.speedup === null ? 'not measured' : result.speedup >= GOAL_SPEEDUP ? 'met' : 'MISSED';
  return [
    '',
    `restore benchmark: ${(result.dumpBytes / MB).toFixed(0)} MB plain dump (made in ${result.dumpSeconds.toFixed(1)} s) vs backup ${result.backupId}` +
      `${result.reusedBackup ? ' (from the backup group)' : ''}${own ? ` in ${own.parts} parts` : ''}; target MariaDB ${result.targetVersion}, no binlog, tuned for a bulk load (restoreTuningArgs)`,
    `dbops CLI: ${result.cli}; median of ${result.cases[0]?.runs.length ?? 0} run(s); ${result.checkedTable.name} row count (${result.checkedTable.rows}) checked after every load`,
    '',
    pad(header, widths),
    pad(widths.map((w) => '-'.repeat(w)), widths),
    ...rows.map((r) => pad(r, widths)),
    '',
    'MB/s = plain dump size / wall; mariadbd = target server CPU during the load; others = CPU the rest of the machine used meanwhile.',
    `speed-up plain/dbops: ${result.speedup === null ? '–' : `${result.speedup.toFixed(2)}×`}; goal ≥ ${GOAL_SPEEDUP}×: ${verdict}` +
      `${own ? ` (dbops' own timer: ${own.seconds.toFixed(1)} s; the rest of the wall is CLI start-up and exit)` : ''}`,
    '',
  ].join('\n');
}

/** The JSON record of the group: every run's raw numbers, without process argv. */
export function restoreJson(result: RestoreBenchResult): unknown {
  return {
    goal: { speedup: GOAL_SPEEDUP, met: result.speedup === null ? null : result.speedup >= GOAL_SPEEDUP },
    speedup: result.speedup,
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
