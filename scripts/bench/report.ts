// Turns measurements into the printed table and the JSON record in bench-results/.
// Goals (issue): dbops backup ≤ 1.10× the `dump | zstd -3 -T0` pipeline in wall time,
// and the dbops process's own peak RSS ≤ 150 MB, at every dataset size.
import type { BackupBenchResult, CaseResult } from './backup-cases.js';
import type { Dataset } from './dataset.js';
import type { Measurement } from './measure-command.js';

export const GOAL_RATIO = 1.1;
export const GOAL_RSS_MB = 150;

const MB = 1e6;
const mbOfKb = (kb: number | null | undefined): string => (kb == null ? '–' : `${((kb * 1024) / MB).toFixed(0)} MB`);

export function processCounts(c: CaseResult): string {
  const run = c.runs[c.runs.length - 1]!;
  const counts = new Map<string, number>();
  for (const p of run.processes) if (!['time', 'bash', 'node', 'MainThread'].includes(p.name)) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
  return [...counts].map(([n, k]) => `${n}×${k}`).join(' ');
}

/** One table row: the first cell left-aligned, the numbers right-aligned (all groups' tables). */
export function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

export interface Summary {
  rawBytes: number | null;
  ratios: Record<string, number>;
  goals: { ratioFile: boolean | null; rssFile: boolean | null; rssS3: boolean | null };
}

export function summarise(result: BackupBenchResult): Summary {
  const byId = new Map(result.cases.map((c) => [c.id, c]));
  const base = byId.get('dump-zstd')?.wallSeconds;
  const rawBytes = byId.get('dbops-file')?.backup?.rawBytes ?? byId.get('dbops-s3')?.backup?.rawBytes ?? null;
  const ratios: Record<string, number> = {};
  for (const c of result.cases) if (base) ratios[c.id] = c.wallSeconds / base;
  const rssOk = (id: string): boolean | null => {
    const kb = byId.get(id)?.runs.map((r) => r.probe?.maxRssKb ?? 0);
    return kb ? Math.max(...kb) * 1024 <= GOAL_RSS_MB * MB : null;
  };
  return {
    rawBytes,
    ratios,
    goals: { ratioFile: ratios['dbops-file'] !== undefined ? ratios['dbops-file'] <= GOAL_RATIO : null, rssFile: rssOk('dbops-file'), rssS3: rssOk('dbops-s3') },
  };
}

export function formatTable(dataset: Dataset, result: BackupBenchResult, summary: Summary): string {
  const header = ['measurement', 'wall s', 'MB/s', '× zstd', 'CPU s', 'mariadbd', 's3rver', 'others', 'dbops RSS', 'children RSS', 'processes'];
  const rows = result.cases.map((c) => {
    const cpu = (k: string): string => {
      const v = c.runs.map((r) => r.watchedCpuSeconds[k]).filter((x): x is number => x !== undefined);
      return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1) : '–';
    };
    const tree = c.runs.map((r) => r.treeCpuSeconds).filter((x): x is number => x !== null);
    const avg = (xs: Array<number | null>): string => {
      const v = xs.filter((x): x is number => x !== null);
      return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1) : '–';
    };
    return [
      c.label,
      c.wallSeconds.toFixed(2),
      summary.rawBytes ? (summary.rawBytes / MB / c.wallSeconds).toFixed(1) : '–',
      summary.ratios[c.id] !== undefined ? `${summary.ratios[c.id]!.toFixed(2)}×` : '–',
      tree.length ? (tree.reduce((a, b) => a + b, 0) / tree.length).toFixed(1) : '–',
      cpu('mariadbd'),
      cpu('s3rver'),
      avg(c.runs.map((r) => r.otherCpuSeconds)),
      c.id.startsWith('dbops') ? mbOfKb(Math.max(...c.runs.map((r) => r.probe?.maxRssKb ?? 0))) : '',
      mbOfKb(Math.max(...c.runs.map((r) => r.peakDescendantsRssKb))),
      c.id.startsWith('dbops') ? processCounts(c) : '',
    ].map(String);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const verdict = (ok: boolean | null): string => (ok === null ? 'not measured' : ok ? 'met' : 'MISSED');
  const file = result.cases.find((c) => c.id === 'dbops-file');
  const lines = [
    '',
    `backup benchmark: ${(dataset.sizeBytes / MB).toFixed(0)} MB seed target → ${(dataset.dataBytes / MB).toFixed(0)} MB table data, ` +
      `${summary.rawBytes ? (summary.rawBytes / MB).toFixed(0) : '?'} MB raw dump${file?.backup ? ` → ${(file.backup.storedBytes / MB).toFixed(0)} MB stored in ${file.backup.parts} parts` : ''}; MariaDB ${dataset.version}`,
    `dbops CLI: ${result.cli}; median of ${result.cases[0]?.runs.length ?? 0} run(s)`,
    '',
    pad(header, widths),
    pad(widths.map((w) => '-'.repeat(w)), widths),
    ...rows.map((r) => pad(r, widths)),
    '',
    'CPU s = user+system of the command and all its processes (GNU time); mariadbd/s3rver = server CPU during the run;',
    'others = CPU everything else on the machine used meanwhile (on 2 cores, anything above ~0 slows the run);',
    'dbops RSS = the dbops node process alone (peak); children RSS = peak of the summed RSS of everything it spawned (sampled).',
    `goals: wall ≤ ${GOAL_RATIO.toFixed(2)}× zstd pipeline (file://): ${verdict(summary.goals.ratioFile)}; ` +
      `dbops RSS ≤ ${GOAL_RSS_MB} MB: file:// ${verdict(summary.goals.rssFile)}, S3 ${verdict(summary.goals.rssS3)}`,
    '',
  ];
  return lines.join('\n');
}

/** The JSON record: every run's raw numbers, without process argv (it holds temp paths only). */
export function toJson(dataset: Dataset, result: BackupBenchResult, summary: Summary, meta: Record<string, unknown>): unknown {
  return {
    ...meta,
    dataset: {
      sizeBytes: dataset.sizeBytes,
      dataBytes: dataset.dataBytes,
      indexBytes: dataset.indexBytes,
      rows: dataset.rows,
      seedSeconds: dataset.seedSeconds,
      reused: dataset.reused,
      serverVersion: dataset.version,
      rawDumpBytes: summary.rawBytes,
    },
    cli: result.cli,
    dumpArgs: result.dumpArgs,
    dbopsDumpArgs: result.dbopsDumpArgs,
    goals: { ratio: GOAL_RATIO, rssMB: GOAL_RSS_MB, met: summary.goals },
    ratiosVsZstd: summary.ratios,
    cases: result.cases.map((c) => ({
      id: c.id,
      label: c.label,
      wallSeconds: c.wallSeconds,
      mbPerSecond: summary.rawBytes ? summary.rawBytes / MB / c.wallSeconds : null,
      backup: c.backup ?? null,
      runs: c.runs.map(measurementJson),
    })),
  };
}

/** One measured run as the JSON record keeps it (every group). */
export function measurementJson(r: Measurement): unknown {
  return {
    wallSeconds: r.wallSeconds,
    treeCpuSeconds: r.treeCpuSeconds,
    treeMaxRssKb: r.treeMaxRssKb,
    watchedCpuSeconds: r.watchedCpuSeconds,
    otherCpuSeconds: r.otherCpuSeconds,
    dbopsProcess: r.probe,
    peakDescendantsRssKb: r.peakDescendantsRssKb,
    warmMemorySeconds: r.warmMemorySeconds,
    processes: r.processes.map((p) => ({ pid: p.pid, ppid: p.ppid, name: p.name, hwmKb: p.hwmKb })),
  };
}
