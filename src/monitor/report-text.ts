// `dbops db report` as text: alerts first, then each section in the order a DBA reads them.
// Unavailable sections say why, in one line.
import type { DbReport, Section } from './report-types.js';
import { seconds } from '../report/html.js';

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${n < 0 ? '-' : ''}${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Latency with a unit that keeps 3 significant digits readable (µs, ms, s). */
export function fmtLatency(s: number | null | undefined): string {
  if (s === null || s === undefined) return '–';
  if (s < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
  return `${s.toFixed(2)} s`;
}

export function fmtCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US');
}

function table(rows: string[][]): string[] {
  if (rows.length <= 1) return ['  (none)'];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}`);
}

function unavailable(s: Section<unknown>): string[] {
  return s.available ? [] : [`  not available: ${s.reason}`];
}

const short = (text: string, n = 90): string => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

export function renderDbReportText(r: DbReport): string {
  const out: string[] = [];
  const s = r.source;
  out.push(`database report ${r.takenAt}: ${s.flavor} ${s.version} (${s.hostname ?? s.serverUuid}), up ${seconds(s.uptimeSeconds)}, performance_schema ${s.performanceSchema ? 'on' : 'off'}, as ${s.account}`);
  out.push(`databases: ${r.databases.join(', ') || '(none)'}`);
  out.push('', r.alerts.length ? `ALERTS (${r.alerts.length})` : 'alerts: none');
  for (const a of r.alerts) out.push(`  ! ${a.message}`);

  out.push('', 'SLOW STATEMENTS (by total time)');
  if (r.statements.available) {
    out.push(`  source ${r.statements.source}; p95: ${r.statements.p95}`);
    out.push(...table([['TOTAL', 'CALLS', 'MEAN', 'P95', 'ROWS EXAM.', 'ROWS SENT', 'SCHEMA', 'STATEMENT'], ...r.statements.statements.map((x) => [fmtLatency(x.totalSeconds), fmtCount(x.calls), fmtLatency(x.meanSeconds), fmtLatency(x.p95Seconds), fmtCount(x.rowsExamined), fmtCount(x.rowsSent), x.schema ?? '', short(x.text)])]));
  } else out.push(...unavailable(r.statements));

  out.push('', 'INDEX USAGE');
  const u = r.indexes.unused;
  if (u.available) {
    out.push(`  unused since ${u.since} (source ${u.source}):`);
    out.push(...table([['TABLE', 'INDEX', 'COLUMNS', 'UNIQUE'], ...u.indexes.map((i) => [`${i.schema}.${i.table}`, i.index, i.columns.join(', '), i.unique ? 'yes' : ''])]));
  } else out.push(`  unused: not available: ${u.reason}`);
  out.push('  redundant (another index covers them):');
  out.push(...table([['TABLE', 'INDEX', 'COLUMNS', 'COVERED BY'], ...r.indexes.redundant.map((i) => [`${i.schema}.${i.table}`, i.index, i.columns.join(', '), `${i.coveredBy} (${i.coveredByColumns.join(', ')})${i.kind === 'duplicate' ? ', duplicate' : ''}`])]));
  const fs = r.indexes.fullScans;
  if (fs.available) {
    out.push('  tables read by scans without an index:');
    out.push(...table([['TABLE', 'ROWS READ'], ...fs.tables.map((t) => [`${t.schema}.${t.table}`, fmtCount(t.rowsRead)])]));
  } else out.push(`  full scans: not available: ${fs.reason}`);

  out.push('', 'STORAGE');
  if (r.storage.available) {
    const st = r.storage;
    const g = st.growth;
    out.push(`  data + index ${fmtBytes(st.totalBytes)} in ${st.tables.length} tables${st.recorded ? " (kept as today's sample)" : ''}`);
    out.push(`  growth ${g.bytesPerDay === null ? '–' : `${fmtBytes(g.bytesPerDay)}/day`} over ${g.samples} sample(s); in ${g.forecastDays} days ${fmtBytes(g.forecastBytes)}; disk limit ${fmtBytes(g.diskLimitBytes)}${g.daysUntilLimit !== null ? `, reached in ${g.daysUntilLimit.toFixed(1)} days` : ''}`);
    for (const n of g.notes) out.push(`  note: ${n}`);
    out.push(...table([['TABLE', 'ROWS', 'DATA', 'INDEX', 'FREE', 'PARTS'], ...[...st.tables].sort((a, b) => b.dataBytes + b.indexBytes - (a.dataBytes + a.indexBytes)).map((t) => [`${t.schema}.${t.table}`, fmtCount(t.rows), fmtBytes(t.dataBytes), fmtBytes(t.indexBytes), fmtBytes(t.freeBytes), String(t.partitions || '')])]));
    if (st.datePartitioned.length) {
      out.push('  daily-partitioned tables:');
      out.push(...table([['TABLE', 'DAILY', 'COVERED THROUGH', 'DAYS AHEAD', 'CATCH-ALL', 'ROWS IN IT'], ...st.datePartitioned.map((t) => [`${t.schema}.${t.table}`, String(t.dailyPartitions), t.coveredThrough ?? '–', t.daysAhead === null ? '–' : String(t.daysAhead), t.catchAll?.partition ?? '–', t.catchAll ? fmtCount(t.catchAll.rows) : '–'])]));
    }
    if (st.partitions.length) {
      out.push(`  partitions (${st.partitions.length}; --json lists them all), newest 5 per table:`);
      const per = new Map<string, typeof st.partitions>();
      for (const p of st.partitions) per.set(`${p.schema}.${p.table}`, [...(per.get(`${p.schema}.${p.table}`) ?? []), p]);
      const rows = [['TABLE', 'PARTITION', 'BOUND', 'ROWS', 'DATA', 'INDEX']];
      for (const [name, ps] of per) for (const p of ps.slice(-5)) rows.push([name, p.partition, p.bound ?? '', fmtCount(p.rows), fmtBytes(p.dataBytes), fmtBytes(p.indexBytes)]);
      out.push(...table(rows));
    }
  } else out.push(...unavailable(r.storage));

  out.push('', 'CONNECTIONS');
  if (r.connections.available) {
    const c = r.connections;
    out.push(`  now ${c.current} of ${c.max} (${c.currentPercent}%), ${c.running} running; peak ${c.maxUsed} (${c.peakPercent}%)${c.maxUsedAt ? ` at ${c.maxUsedAt}` : ''}`);
    out.push(`  aborted clients ${fmtCount(c.abortedClients)}, aborted connects ${fmtCount(c.abortedConnects)}, connection attempts ${fmtCount(c.attempts)} since start`);
    if (c.byUser.available) {
      if (c.byUser.note) out.push(`  note: ${c.byUser.note}`);
      out.push(...table([['USER', 'NOW', 'SINCE START'], ...c.byUser.users.map((x) => [x.user, String(x.current), x.total === null ? '–' : fmtCount(x.total)])]));
    } else out.push(`  by user: not available: ${c.byUser.reason}`);
  } else out.push(...unavailable(r.connections));

  out.push('', 'ERROR LOG');
  if (r.errors.available) {
    const e = r.errors;
    out.push(`  ${e.source}${e.file ? ` ${e.file}` : ''}; ${e.since ? `new since the daemon's look at ${e.since.lookedAt}` : e.firstLook ? 'first look' : 'no earlier look recorded'}: ${e.counts.error} error(s), ${e.counts.warning} warning(s), ${e.counts.note + e.counts.system} note(s)`);
    for (const n of e.notes) out.push(`  note: ${n}`);
    for (const x of e.entries.filter((y) => y.level === 'error' || y.level === 'warning').slice(-15)) out.push(`  ${x.at} [${x.level.toUpperCase()}] ${short(x.message, 140)}`);
  } else out.push(...unavailable(r.errors));
  return out.join('\n');
}
