// The report index for people: a pass/fail timeline and an RTO trend as inline SVG,
// then one row per report linking to its page. Self-contained, no scripts.
import type { RestoreReport } from './report-schema.js';
import { esc, page, seconds } from './html.js';

const W = 900;
const H = 220;
const PAD = 40;

function timeline(reports: RestoreReport[]): string {
  if (reports.length === 0) return '<p class="muted">No reports yet.</p>';
  const t0 = Date.parse(reports[0]!.createdAt);
  const t1 = Math.max(Date.parse(reports[reports.length - 1]!.createdAt), t0 + 1);
  const x = (r: RestoreReport): number => PAD + ((Date.parse(r.createdAt) - t0) / (t1 - t0)) * (W - 2 * PAD);
  const dots = reports
    .map((r) => `<circle cx="${x(r).toFixed(1)}" cy="40" r="7" fill="${r.verdict === 'pass' ? '#1f7a3a' : r.verdict === 'fail' ? '#b3261e' : '#8a5a00'}"><title>${esc(r.createdAt)} ${esc(r.verdict)}</title></circle>`)
    .join('');
  return `<svg id="timeline" role="img" aria-label="pass/fail timeline" width="${W}" height="80" viewBox="0 0 ${W} 80" xmlns="http://www.w3.org/2000/svg">
<line x1="${PAD}" y1="40" x2="${W - PAD}" y2="40" stroke="#c8ced8"/>${dots}
<text x="${PAD}" y="72" font-size="12" fill="#5b6474">${esc(reports[0]!.createdAt.slice(0, 10))}</text>
<text x="${W - PAD}" y="72" font-size="12" fill="#5b6474" text-anchor="end">${esc(reports[reports.length - 1]!.createdAt.slice(0, 10))}</text></svg>`;
}

function rtoTrend(reports: RestoreReport[]): string {
  const points = reports.filter((r) => r.rtoSeconds !== null);
  if (points.length === 0) return '<p class="muted">No RTO measured yet.</p>';
  const max = Math.max(...points.map((r) => r.rtoSeconds!), 1);
  const step = points.length > 1 ? (W - 2 * PAD) / (points.length - 1) : 0;
  const xy = points.map((r, i) => [PAD + i * step, H - PAD - (r.rtoSeconds! / max) * (H - 2 * PAD)] as const);
  const path = xy.map(([px, py], i) => `${i ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join(' ');
  const dots = xy.map(([px, py], i) => `<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="4" fill="#2a5bd7"><title>${esc(points[i]!.createdAt)}: ${seconds(points[i]!.rtoSeconds)}</title></circle>`).join('');
  return `<svg id="rto-trend" role="img" aria-label="RTO trend" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">
<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#c8ced8"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#c8ced8"/>
<text x="${PAD - 6}" y="${PAD + 4}" font-size="12" fill="#5b6474" text-anchor="end">${esc(seconds(max))}</text>
<text x="${PAD - 6}" y="${H - PAD + 4}" font-size="12" fill="#5b6474" text-anchor="end">0</text>
<path d="${path}" fill="none" stroke="#2a5bd7" stroke-width="2"/>${dots}</svg>`;
}

export function renderReportIndexHtml(reports: RestoreReport[], problems: Array<{ id: string; problem: string }>): string {
  const sorted = [...reports].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const passed = sorted.filter((r) => r.verdict === 'pass').length;
  const rows = [...sorted]
    .reverse()
    .map(
      (r) =>
        `<tr class="${r.verdict === 'pass' ? '' : 'bad'}"><td><a href="${esc(r.id)}.html">${esc(r.id)}</a></td><td>${esc(r.createdAt)}</td><td>${esc(r.verdict)}</td><td>${esc(r.depth)}</td><td><code>${esc(r.backup.id)}</code></td><td class="num">${seconds(r.rtoSeconds)}</td><td class="num">${seconds(r.rpoSeconds)}</td></tr>`,
    )
    .join('\n');
  const bad = problems.map((p) => `<tr class="bad"><td>${esc(p.id)}</td><td colspan="6">NOT VERIFIED: ${esc(p.problem)}</td></tr>`).join('\n');
  const body = `<h1>Restore tests</h1>
<p id="tally">${passed} of ${sorted.length} passed${problems.length ? `; <b>${problems.length} report(s) failed signature verification</b>` : ''}.</p>
<h2>Pass/fail timeline</h2>${timeline(sorted)}
<h2>RTO trend</h2>${rtoTrend(sorted)}
<h2>Reports</h2>
<table id="reports"><tr><th>report</th><th>tested at</th><th>verdict</th><th>depth</th><th>backup</th><th>RTO</th><th>RPO</th></tr>
${bad}
${rows}
</table>`;
  return page('horizn-dbops restore tests', body);
}
