// Turns the physical group's measurements into its printed table and its part of the JSON
// record. Goals (issue #19): full ≤ 1.10× the mariadb-backup | zstd pipeline and ≤ 0.5× the
// logical backup; an incremental after 5% changed ≤ 0.25× the full in wall and bytes; restore
// to a usable server ≥ 5× faster than the logical restore; dbops' own RSS ≤ 150 MB throughout.
import { measurementJson, pad, processCounts } from './report.js';
import type { CaseResult } from './backup-cases.js';
import { CHANGED_SHARE, GOALS, type PhysicalBenchResult } from './physical-cases.js';

const MB = 1e6;
const mbOfKb = (kb: number | null | undefined): string => (kb == null ? '–' : `${((kb * 1024) / MB).toFixed(0)} MB`);

function avg(xs: Array<number | null | undefined>): string {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1) : '–';
}

function peakRssKb(c: CaseResult): number {
  return Math.max(0, ...c.runs.map((r) => r.probe?.maxRssKb ?? 0));
}

/** Every dbops case's peak RSS within the goal (the logical references included). */
function rssMet(result: PhysicalBenchResult): boolean {
  return [...result.cases, result.logicalBackup, result.logicalRestore].filter((c) => c.id.startsWith('dbops')).every((c) => peakRssKb(c) * 1024 <= GOALS.rssMB * MB);
}

export function physicalVerdicts(result: PhysicalBenchResult): Record<string, boolean | null> {
  const r = result.ratios;
  const le = (x: number | null, goal: number): boolean | null => (x === null ? null : x <= goal);
  return {
    vsPipeline: le(r.vsPipeline, GOALS.vsPipeline),
    vsLogicalBackup: le(r.vsLogicalBackup, GOALS.vsLogicalBackup),
    incrementalWall: le(r.incrementalWall, GOALS.incremental),
    incrementalBytes: le(r.incrementalBytes, GOALS.incremental),
    restoreSpeedup: r.restoreSpeedup === null ? null : r.restoreSpeedup >= GOALS.restoreSpeedup,
    rss: rssMet(result),
  };
}

export function formatPhysicalTable(result: PhysicalBenchResult): string {
  const byId = new Map(result.cases.map((c) => [c.id, c]));
  const refOf: Record<string, string | undefined> = {
    pipeline: undefined,
    'dbops-physical': 'pipeline',
    'dbops-logical': undefined,
    'dbops-incremental': 'dbops-physical',
    'dbops-physical-restore': undefined,
  };
  const header = ['measurement', 'wall s', 'stored MB', '× ref', 'CPU s', 'mariadbd', 'others', 'dbops RSS', 'children RSS', 'processes'];
  const line = (c: CaseResult, ref: string, label = c.label): string[] =>
    [
      label,
      c.wallSeconds.toFixed(2),
      c.backup ? (c.backup.storedBytes / MB).toFixed(1) : '',
      ref,
      avg(c.runs.map((r) => r.treeCpuSeconds)),
      avg(c.runs.map((r) => r.watchedCpuSeconds.mariadbd)),
      avg(c.runs.map((r) => r.otherCpuSeconds)),
      c.id.startsWith('dbops') ? mbOfKb(peakRssKb(c)) : '',
      mbOfKb(Math.max(0, ...c.runs.map((r) => r.peakDescendantsRssKb))),
      c.id.startsWith('dbops') ? processCounts(c) : '',
    ].map(String);
  const times = (x: number | null, what: string): string => (x === null ? '–' : `${x.toFixed(2)}× ${what}`);
  const rows = result.cases.map((c) => {
    const ref = refOf[c.id];
    const refCase = ref ? byId.get(ref) : undefined;
    if (c.id === 'plain-restore' || c.id === 'plain-backup') return line(c, '', `${c.label} (reference)`);
    return line(c, refCase ? times(c.wallSeconds / refCase.wallSeconds, ref === 'pipeline' ? 'pipeline' : 'full') : '');
  });
  const logicalBackup = result.logicalBackup;
  if (result.logicalBackupFrom === 'backup group') rows.push(line(logicalBackup, '', `${logicalBackup.label} [backup group]`));
  rows.push(line(result.logicalRestore, '', `dbops restore (logical) ← file://${result.logicalRestoreFrom === 'restore group' ? ' [restore group]' : ''}`));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const v = physicalVerdicts(result);
  const verdict = (ok: boolean | null | undefined): string => (ok == null ? 'not measured' : ok ? 'met' : 'MISSED');
  const r = result.ratios;
  const full = byId.get('dbops-physical');
  const incr = byId.get('dbops-incremental');
  const rest = result.restore;
  const cliOverhead = rest.total - rest.start - rest.fetch - rest.prepare;
  return [
    '',
    `physical benchmark: datadir ${result.datadir}; full backup ${full?.backup ? `${(full.backup.rawBytes / MB).toFixed(0)} MB raw → ${(full.backup.storedBytes / MB).toFixed(0)} MB stored` : '?'}; ` +
      `incremental after changing ${result.changed.map((c) => `${c.rows} of ${c.of} ${c.table}`).join(', ')} (the newest ${100 * CHANGED_SHARE}% by id)`,
    `dbops CLI: ${result.cli}; median of ${full?.runs.length ?? 0} run(s); pipeline and dbops full take turns; each timed run starts with the source at rest (no dirty pages, purge done)`,
    `logical backup: ${result.logicalBackupFrom === 'backup group' ? "the backup group's dbops backup → file:// (same run)" : 'measured here'}; logical restore: ${result.logicalRestoreFrom === 'restore group' ? "the restore group's dbops restore (same run)" : "measured here as the restore group does (quiescent target)"}`,
    '',
    pad(header, widths),
    pad(widths.map((w) => '-'.repeat(w)), widths),
    ...rows.map((row) => pad(row, widths)),
    '',
    `physical restore to a usable server, medians: fetch+check+decrypt+decompress+extract ${rest.fetch.toFixed(1)} s, prepare ${rest.prepare.toFixed(1)} s, ` +
      `server start + first query ${rest.start.toFixed(1)} s, CLI start-up/exit ${cliOverhead.toFixed(1)} s = ${rest.total.toFixed(1)} s` +
      `${rest.rawBytes ? ` (${(rest.rawBytes / MB).toFixed(0)} MB extracted)` : ''}; then ${result.checkedTable.name}'s row count (${result.checkedTable.rows}) checked on the started server, untimed (${rest.count.toFixed(1)} s);`,
    `  the restore command alone (no start) took ${times(r.restoreCommandVsPlain, '')}the same extract and prepare done by hand (the reference row; no goal)`,
    `the full backup took ${times(r.fullVsByHand, '')}the same backup done by hand (encrypted, written and synced, the reference row; no goal)`,
    'CPU s = user+system of the command and all its processes (GNU time; for the restore, the dbops command only); mariadbd = the source server (the restore target is started after);',
    'others = CPU everything else on the machine used meanwhile (on 2 cores, anything above ~0 slows the run).',
    `goals: full ≤ ${GOALS.vsPipeline.toFixed(2)}× pipeline: ${times(r.vsPipeline, '')} ${verdict(v.vsPipeline)}; ` +
      `full ≤ ${GOALS.vsLogicalBackup}× logical backup (${logicalBackup.wallSeconds.toFixed(1)} s): ${times(r.vsLogicalBackup, '')} ${verdict(v.vsLogicalBackup)}`,
    `       incremental ≤ ${GOALS.incremental}× full: wall ${times(r.incrementalWall, '')} ${verdict(v.incrementalWall)}, stored bytes ${times(r.incrementalBytes, '')} ${verdict(v.incrementalBytes)}` +
      `${incr?.backup ? ` (${(incr.backup.storedBytes / MB).toFixed(1)} MB)` : ''}`,
    `       restore ≥ ${GOALS.restoreSpeedup}× faster than the logical restore (${result.logicalRestore.wallSeconds.toFixed(1)} s): ${r.restoreSpeedup === null ? '–' : `${r.restoreSpeedup.toFixed(2)}×`} ${verdict(v.restoreSpeedup)}; ` +
      `dbops RSS ≤ ${GOALS.rssMB} MB in all: ${verdict(v.rss)}`,
    '',
  ].join('\n');
}

/** The JSON record of the group: every run's raw numbers, without process argv. */
export function physicalJson(result: PhysicalBenchResult): unknown {
  const caseJson = (c: CaseResult): unknown => ({ id: c.id, label: c.label, wallSeconds: c.wallSeconds, backup: c.backup ?? null, runs: c.runs.map(measurementJson) });
  return {
    goals: GOALS,
    met: physicalVerdicts(result),
    ratios: result.ratios,
    cli: result.cli,
    pipelineArgs: result.pipelineArgs,
    dbopsArgs: result.dbopsArgs,
    changed: result.changed,
    checkedTable: result.checkedTable,
    restore: { ...result.restore, runs: result.restoreRuns.map((r) => ({ fetch: r.fetch, prepare: r.prepare, start: r.start, count: r.count, total: r.total, command: measurementJson(r.measurement) })) },
    logicalBackupFrom: result.logicalBackupFrom,
    logicalRestoreFrom: result.logicalRestoreFrom,
    logicalBackup: caseJson(result.logicalBackup),
    logicalRestore: caseJson(result.logicalRestore),
    cases: result.cases.map(caseJson),
  };
}
