// `dbops db report --html FILE`: the report as one self-contained page (no external assets, no
// scripts), styled like the restore-test reports: the alerts first, then slow statements, index
// usage, storage (per-partition sizes folded per table), connections and the error log. Long
// statement texts wrap, so nothing widens the page past the window (checked at 1280 px).
import { esc, page, seconds, utc } from '../report/html.js';
import type { DbReport, Section } from './report-types.js';
import { fmtBytes, fmtCount, fmtLatency } from './report-text.js';

const num = (v: string): string => `<td class="num">${esc(v)}</td>`;

function unavailable(s: Section<unknown>): string {
  return s.available ? '' : `<p class="banner unknown">Not available: ${esc(s.reason)}</p>`;
}

function grid(head: string[], rows: string[][], numeric: number[] = [], cls = ''): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  const th = head.map((h, i) => `<th${numeric.includes(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => (numeric.includes(i) ? num(c) : `<td>${c}</td>`)).join('')}</tr>`).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}><tr>${th}</tr>\n${body}</table>`;
}

function alerts(r: DbReport): string {
  if (r.alerts.length === 0) return '<section id="alerts"><p class="banner ok">No alert rule fires.</p></section>';
  return `<section id="alerts"><div class="banner bad">${r.alerts.length} alert${r.alerts.length === 1 ? '' : 's'}<ul>${r.alerts.map((a) => `<li>${esc(a.message)}</li>`).join('')}</ul></div></section>`;
}

function statements(r: DbReport): string {
  const s = r.statements;
  if (!s.available) return `<section id="statements"><h2>Slow statements</h2>${unavailable(s)}</section>`;
  // A statement of many lines (a partition list) would push the rest off the first screen: its start, the rest folded.
  const text = (t: string): string => (t.length <= 300 ? `<code>${esc(t)}</code>` : `<details class="statement"><summary><code>${esc(t.slice(0, 240))}</code> …</summary><code>${esc(t)}</code></details>`);
  const rows = s.statements.map((x) => [fmtLatency(x.totalSeconds), fmtCount(x.calls), fmtLatency(x.meanSeconds), fmtLatency(x.p95Seconds), fmtCount(x.rowsExamined), fmtCount(x.rowsSent), `${text(x.text)}<div class="muted">${esc(x.schema ?? 'no schema')} · digest <code>${esc(x.digest)}</code>${x.noIndexUsed ? ` · ${fmtCount(x.noIndexUsed)} without an index` : ''}</div>`]);
  return `<section id="statements"><h2>Slow statements, by total time</h2>
<p class="def">From ${esc(s.source)}. p95: ${esc(s.p95)}.</p>
${grid(['total', 'calls', 'mean', 'p95', 'rows examined', 'rows sent', 'statement'], rows, [0, 1, 2, 3, 4, 5])}</section>`;
}

function indexes(r: DbReport): string {
  const u = r.indexes.unused;
  const unused = u.available
    ? `<p class="def">No reads since ${esc(u.since)} (source ${esc(u.source)}). A unique index also enforces a constraint.</p>${grid(['table', 'index', 'columns', 'unique'], u.indexes.map((i) => [`<code>${esc(`${i.schema}.${i.table}`)}</code>`, `<code>${esc(i.index)}</code>`, esc(i.columns.join(', ')), i.unique ? 'yes' : '']), [], 'unused')}`
    : unavailable(u);
  const redundant = grid(['table', 'index', 'columns', 'covered by'], r.indexes.redundant.map((i) => [`<code>${esc(`${i.schema}.${i.table}`)}</code>`, `<code>${esc(i.index)}</code>`, esc(i.columns.join(', ')), `<code>${esc(i.coveredBy)}</code> (${esc(i.coveredByColumns.join(', '))})${i.kind === 'duplicate' ? ' — a duplicate' : ''}`]));
  const fs = r.indexes.fullScans;
  const scans = fs.available ? grid(['table', 'rows read without an index'], fs.tables.map((t) => [`<code>${esc(`${t.schema}.${t.table}`)}</code>`, fmtCount(t.rowsRead)]), [1]) : unavailable(fs);
  return `<section id="indexes"><h2>Index usage</h2>
<h3>Unused indexes</h3>${unused}
<h3>Redundant indexes</h3><p class="def">Another index of the table starts with the same columns.</p>${redundant}
<h3>Tables scanned without an index</h3>${scans}</section>`;
}

function storage(r: DbReport): string {
  const st = r.storage;
  if (!st.available) return `<section id="storage"><h2>Storage</h2>${unavailable(st)}</section>`;
  const g = st.growth;
  const growth = `<dl>
<dt>Data + index</dt><dd><b id="total-bytes">${esc(fmtBytes(st.totalBytes))}</b> in ${st.tables.length} tables${st.recorded ? " (kept as today's sample)" : ''}</dd>
<dt>Growth</dt><dd>${g.bytesPerDay === null ? 'no rate yet' : `${esc(fmtBytes(g.bytesPerDay))} a day`} <span class="muted">(least-squares over ${g.samples} sample(s) of the last ${g.windowDays} days)</span></dd>
<dt>In ${g.forecastDays} days</dt><dd>${esc(fmtBytes(g.forecastBytes))}</dd>
<dt>Disk limit</dt><dd>${g.diskLimitBytes === null ? 'not configured (monitor.diskLimit)' : `${esc(fmtBytes(g.diskLimitBytes))}${g.daysUntilLimit !== null ? `, reached in ${g.daysUntilLimit.toFixed(1)} days` : ', not reached at this rate'}`}</dd>
</dl>${g.notes.map((n) => `<p class="muted">${esc(n)}</p>`).join('')}`;
  const tables = grid(
    ['table', 'rows (est.)', 'data', 'index', 'free', 'partitions'],
    [...st.tables].sort((a, b) => b.dataBytes + b.indexBytes - (a.dataBytes + a.indexBytes)).map((t) => [`<code>${esc(`${t.schema}.${t.table}`)}</code>`, fmtCount(t.rows), fmtBytes(t.dataBytes), fmtBytes(t.indexBytes), fmtBytes(t.freeBytes), t.partitions ? String(t.partitions) : '']),
    [1, 2, 3, 4, 5],
  );
  const daily = st.datePartitioned.length
    ? `<h3>Daily partitions</h3>${grid(['table', 'daily partitions', 'covered through', 'days ahead', 'catch-all', 'rows in it (est.)'], st.datePartitioned.map((t) => [`<code>${esc(`${t.schema}.${t.table}`)}</code>`, String(t.dailyPartitions), esc(t.coveredThrough ?? '–'), t.daysAhead === null ? '–' : String(t.daysAhead), `<code>${esc(t.catchAll?.partition ?? '–')}</code>`, t.catchAll ? fmtCount(t.catchAll.rows) : '–']), [1, 3, 5], 'daily')}`
    : '';
  const per = new Map<string, typeof st.partitions>();
  for (const p of st.partitions) per.set(`${p.schema}.${p.table}`, [...(per.get(`${p.schema}.${p.table}`) ?? []), p]);
  const parts = [...per.entries()]
    .map(([name, ps]) => {
      const data = ps.reduce((n, p) => n + p.dataBytes + p.indexBytes, 0);
      return `<details class="partitions" data-table="${esc(name)}"><summary><code>${esc(name)}</code>: ${ps.length} partitions, ${esc(fmtBytes(data))}</summary>${grid(['partition', 'less than', 'rows (est.)', 'data', 'index'], ps.map((p) => [`<code>${esc(p.partition)}</code>`, esc(p.bound ?? ''), fmtCount(p.rows), fmtBytes(p.dataBytes), fmtBytes(p.indexBytes)]), [2, 3, 4])}</details>`;
    })
    .join('\n');
  return `<section id="storage"><h2>Storage</h2>${growth}<h3>Tables</h3>${tables}${daily}${parts ? `<h3>Partitions</h3>${parts}` : ''}</section>`;
}

function connections(r: DbReport): string {
  const c = r.connections;
  if (!c.available) return `<section id="connections"><h2>Connections</h2>${unavailable(c)}</section>`;
  const users = c.byUser.available
    ? `${c.byUser.note ? `<p class="muted">${esc(c.byUser.note)}</p>` : ''}${grid(['user', 'now', 'since start'], c.byUser.users.map((u) => [`<code>${esc(u.user)}</code>`, String(u.current), u.total === null ? '–' : fmtCount(u.total)]), [1, 2], 'narrow')}`
    : unavailable(c.byUser);
  return `<section id="connections"><h2>Connections</h2><dl>
<dt>Now</dt><dd><b id="connections-now">${c.current}</b> of max_connections ${c.max} (${c.currentPercent}%), ${c.running} running</dd>
<dt>Peak</dt><dd>${c.maxUsed} (${c.peakPercent}%)${c.maxUsedAt ? ` at ${esc(c.maxUsedAt)}` : ''}</dd>
<dt>Aborted</dt><dd>${fmtCount(c.abortedClients)} clients, ${fmtCount(c.abortedConnects)} connects since start (of ${fmtCount(c.attempts)} attempts)</dd>
</dl><h3>By user</h3>${users}</section>`;
}

function errors(r: DbReport): string {
  const e = r.errors;
  if (!e.available) return `<section id="errors"><h2>Error log</h2>${unavailable(e)}</section>`;
  const since = e.since ? `new since the daemon's look at ${esc(utc(e.since.lookedAt))}` : e.firstLook ? 'first look: counting starts now' : 'no earlier look recorded';
  const rows = [...e.entries].reverse().map((x) => [esc(x.at), `<span class="kw">${esc(x.level.toUpperCase())}</span>`, `${x.code ? `<code>${esc(x.code)}</code> ` : ''}${esc(x.message)}`]);
  return `<section id="errors"><h2>Error log</h2>
<p>${esc(e.source)}${e.file ? ` <code>${esc(e.file)}</code>` : ''}; ${since}: <b>${e.counts.error}</b> error(s), ${e.counts.warning} warning(s), ${e.counts.note + e.counts.system} note(s).</p>
${e.notes.map((n) => `<p class="muted">${esc(n)}</p>`).join('')}
${grid(['at', 'level', 'message'], rows, [], 'log')}</section>`;
}

export function renderDbReportHtml(r: DbReport): string {
  const s = r.source;
  const body = `
<p class="muted">horizn-dbops database report · ${esc(utc(r.takenAt))}</p>
<h1><span>${esc(s.flavor === 'mariadb' ? 'MariaDB' : 'MySQL')} ${esc(s.version)}</span><span class="muted">${esc(s.hostname ?? s.serverUuid)}</span></h1>
<p id="summary">Up ${esc(seconds(s.uptimeSeconds))}; performance_schema ${s.performanceSchema ? 'on' : 'off'}; read as <code>${esc(s.account)}</code>; databases ${r.databases.map((d) => `<code>${esc(d)}</code>`).join(', ') || 'none'}.</p>
${alerts(r)}
${statements(r)}
${indexes(r)}
${storage(r)}
${connections(r)}
${errors(r)}`;
  return page(`Database report — ${s.hostname ?? s.serverUuid} — ${r.takenAt.slice(0, 10)}`, body);
}
