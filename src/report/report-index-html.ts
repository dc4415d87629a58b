// The report index for people: whether the evidence chain verifies (first, as a banner),
// the runs over time (one lane per depth, failed and interrupted runs marked), the RTO per
// depth over time, which backup was last tested how (coverage), and one row per report
// linking to its page. Self-contained, no scripts.
import { DEFINITIONS, type RestoreReport, type Verdict } from './report-schema.js';
import { DEPTH_COLOR, esc, page, seconds, utc } from './html.js';
import { legendLine, legendMarker, marker, timeAxis, timeScale } from './time-chart.js';
import { byRestoredBackup } from '../physical/chain.js';

const DEPTHS = ['integrity', 'restore', 'content'] as const;
type Depth = (typeof DEPTHS)[number];

export interface ReportIndexInput {
  reports: RestoreReport[];
  /** Reports that do not verify, or that the evidence log pins but are gone or changed. */
  problems: Array<{ id: string; problem: string }>;
  /** Backups in the repository (a manifest that does not verify has a problem); `parent`: what a physical incremental applies on. */
  backups: Array<{ id: string; completedAt: string | null; parent?: string | null; problem?: string }>;
  /** The evidence chain as `repo.evidence.verify()` found it; null when it was not checked. */
  chain: { lastSequence: number | null; problems: string[] } | null;
  generatedAt: string;
}

const W = 1100;
const LEFT = 110;
const RIGHT = W - 30;

function banner(chain: ReportIndexInput['chain'], generatedAt: string): string {
  if (!chain) return `<div id="chain" class="banner unknown">Evidence chain not checked: run <code>dbops evidence verify</code>.</div>`;
  if (chain.problems.length === 0) {
    const what = chain.lastSequence === null ? 'no entries yet' : `entries 1…${chain.lastSequence}`;
    return `<div id="chain" class="banner ok">Evidence chain verifies: ${what}, every signature, link and pinned report checked at ${esc(utc(generatedAt))}.</div>`;
  }
  const shown = chain.problems.slice(0, 5).map((p) => `<li>${esc(p)}</li>`).join('');
  return `<div id="chain" class="banner bad">Evidence chain does NOT verify: ${chain.problems.length} problem(s), checked at ${esc(utc(generatedAt))}. Reports or entries were removed, edited or reordered; run <code>dbops evidence verify</code>.<ul>${shown}</ul></div>`;
}

function legend(withDepths: readonly Depth[]): string {
  const depths = withDepths.map((d) => `<li>${legendLine(DEPTH_COLOR[d])}${d}</li>`).join('');
  const verdicts = (['pass', 'fail', 'interrupted', 'error'] as Verdict[]).map((v) => `<li>${legendMarker(v, '#8a93a3')}${v === 'error' ? 'error (could not run)' : v}</li>`).join('');
  return `<ul class="legend">${depths}${verdicts}</ul>`;
}

function title(r: RestoreReport): string {
  return `${utc(r.createdAt)} ${r.depth} ${r.verdict.toUpperCase()} (backup ${r.backup.id}, RTO ${seconds(r.rtoSeconds)})`;
}

/** One lane per depth; every run a marker by verdict. */
function runsChart(reports: RestoreReport[]): string {
  const lane = 44;
  const top = 16;
  const axisY = top + lane * DEPTHS.length;
  const H = axisY + 44;
  const scale = timeScale(reports.map((r) => Date.parse(r.createdAt)), LEFT, RIGHT);
  const lanes = DEPTHS.map((d, i) => {
    const y = top + lane * i + lane / 2;
    const runs = reports.filter((r) => r.depth === d).map((r) => marker(r.verdict, scale.x(Date.parse(r.createdAt)), y, DEPTH_COLOR[d], title(r), `${r.id}.html`));
    return `<g class="series" data-depth="${d}"><text x="${LEFT - 12}" y="${y + 4}" font-size="13" fill="${DEPTH_COLOR[d]}" text-anchor="end" font-weight="600">${d}</text><line x1="${LEFT}" y1="${y}" x2="${RIGHT}" y2="${y}" stroke="${DEPTH_COLOR[d]}" stroke-width="2" opacity=".35"/>${runs.join('')}</g>`;
  }).join('\n');
  return `<svg id="runs-chart" role="img" aria-label="restore test runs over time, one lane per depth" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">
${timeAxis(scale, axisY, top)}
<line x1="${LEFT}" y1="${axisY}" x2="${RIGHT}" y2="${axisY}" stroke="#8a93a3"/>
${lanes}
</svg>${legend(DEPTHS)}`;
}

/** RTO over time, one line per depth that restores (integrity tests restore nothing). */
function rtoChart(reports: RestoreReport[]): string {
  const measured = reports.filter((r) => r.rtoSeconds !== null);
  if (measured.length === 0) return '<p class="muted">No RTO measured yet (only restore and content tests restore data).</p>';
  const top = 30;
  const axisY = 250;
  const H = axisY + 44;
  const max = Math.max(...measured.map((r) => r.rtoSeconds!), 1);
  const y = (s: number): number => axisY - (s / max) * (axisY - top - 8);
  const scale = timeScale(reports.map((r) => Date.parse(r.createdAt)), LEFT, RIGHT);
  const yTicks = [0, max / 2, max].map((s) => `<line x1="${LEFT}" y1="${y(s).toFixed(1)}" x2="${RIGHT}" y2="${y(s).toFixed(1)}" stroke="#eceff3"/><text x="${LEFT - 10}" y="${(y(s) + 4).toFixed(1)}" font-size="12" fill="#5b6474" text-anchor="end">${esc(seconds(s))}</text>`).join('');
  const depths = DEPTHS.filter((d) => measured.some((r) => r.depth === d));
  const series = depths
    .map((d) => {
      const pts = measured.filter((r) => r.depth === d);
      const path = pts.map((r, i) => `${i ? 'L' : 'M'}${scale.x(Date.parse(r.createdAt)).toFixed(1)},${y(r.rtoSeconds!).toFixed(1)}`).join(' ');
      const marks = pts.map((r) => marker(r.verdict, scale.x(Date.parse(r.createdAt)), y(r.rtoSeconds!), DEPTH_COLOR[d], title(r), `${r.id}.html`)).join('');
      return `<g class="series" data-depth="${d}"><path d="${path}" fill="none" stroke="${DEPTH_COLOR[d]}" stroke-width="2"/>${marks}</g>`;
    })
    .join('\n');
  return `<svg id="rto-chart" role="img" aria-label="RTO over time, one line per depth" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">
${timeAxis(scale, axisY, top)}${yTicks}
<line x1="${LEFT}" y1="${axisY}" x2="${RIGHT}" y2="${axisY}" stroke="#8a93a3"/><line x1="${LEFT}" y1="${top}" x2="${LEFT}" y2="${axisY}" stroke="#8a93a3"/>
<text x="${LEFT}" y="${top - 14}" font-size="12" fill="#5b6474" text-anchor="middle">RTO</text>
${series}
</svg>${legend(depths)}
<p class="def">${esc(DEFINITIONS.rto)}</p>`;
}

/**
 * Per backup: its newest test, and its newest passing content test (the proof that it restores
 * with the source's data); a test of a physical incremental counts for its whole chain, as in
 * `dbops status` (daemon/test-health.ts).
 */
function coverage(input: ReportIndexInput, sorted: RestoreReport[]): string {
  if (input.backups.length === 0) return '<p class="muted">No backups in the repository.</p>';
  const testsOf = byRestoredBackup(sorted, (r) => r.backup.id, input.backups.map((b) => ({ id: b.id, physical: { parent: b.parent ?? null } })));
  const rows = [...input.backups]
    .reverse()
    .map((b) => {
      const tests = testsOf.get(b.id) ?? [];
      const newest = tests.at(-1);
      const content = tests.filter((r) => r.depth === 'content' && r.verdict === 'pass').at(-1);
      const cls = b.problem || newest?.verdict === 'fail' ? 'bad' : !content ? 'warn' : '';
      const test = newest ? `<a href="${esc(newest.id)}.html">${esc(utc(newest.createdAt))}</a>` : 'never tested';
      return `<tr class="${cls}"><td><code>${esc(b.id)}</code>${b.problem ? `<br><b>manifest does not verify:</b> ${esc(b.problem)}` : ''}</td><td>${esc(utc(b.completedAt))}</td><td>${test}</td><td class="kw">${esc(newest?.depth ?? '–')}</td><td class="kw">${newest ? `<b>${esc(newest.verdict.toUpperCase())}</b>` : '–'}</td><td>${content ? esc(utc(content.createdAt)) : 'never'}</td></tr>`;
    })
    .join('\n');
  return `<table id="coverage"><tr><th>backup</th><th>completed</th><th>newest test</th><th>depth</th><th>verdict</th><th>newest content pass</th></tr>
${rows}
</table>`;
}

export function renderReportIndexHtml(input: ReportIndexInput): string {
  const sorted = [...input.reports].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const count = (v: Verdict): number => sorted.filter((r) => r.verdict === v).length;
  const rows = [...sorted]
    .reverse()
    .map(
      (r) =>
        `<tr class="${r.verdict === 'fail' ? 'bad' : r.verdict === 'pass' ? '' : 'warn'}"><td><a href="${esc(r.id)}.html">${esc(r.id)}</a></td><td>${esc(utc(r.createdAt))}</td><td class="kw"><b>${esc(r.verdict.toUpperCase())}</b></td><td class="kw">${esc(r.depth)}</td><td><code>${esc(r.backup.id)}</code></td><td class="num">${seconds(r.rtoSeconds)}</td><td class="num">${seconds(r.rpoSeconds)}</td><td class="num">${seconds(r.backupAgeSeconds)}</td></tr>`,
    )
    .join('\n');
  const bad = input.problems.map((p) => `<tr class="bad"><td><code>${esc(p.id)}</code></td><td colspan="7">NOT VERIFIED: ${esc(p.problem)}</td></tr>`).join('\n');
  const charts = sorted.length === 0 ? '<p class="muted">No reports yet.</p>' : `<h2>Runs over time</h2>${runsChart(sorted)}<h2>RTO over time</h2>${rtoChart(sorted)}`;
  const body = `<h1>Restore tests</h1>
${banner(input.chain, input.generatedAt)}
<p id="tally">${count('pass')} passed, ${count('fail')} failed, ${count('interrupted')} interrupted, ${count('error')} could not run (${sorted.length} reports)${input.problems.length ? `; <b>${input.problems.length} report(s) missing or failing verification</b>` : ''}.</p>
${charts}
<h2>Coverage</h2>
${coverage(input, sorted)}
<h2>Reports</h2>
<table id="reports"><tr><th>report</th><th>tested at</th><th>verdict</th><th>depth</th><th>backup</th><th class="num">RTO</th><th class="num">RPO</th><th class="num">backup age</th></tr>
${bad}
${rows}
</table>
<p class="def">${esc(DEFINITIONS.rpo)} ${esc(DEFINITIONS.backupAge)}</p>
<p class="muted">Generated ${esc(utc(input.generatedAt))}. Each page is a rendering; the signed JSON reports are the evidence (<code>dbops report verify FILE --public-key signing.pub</code>).</p>`;
  return page('horizn-dbops restore tests', body);
}
