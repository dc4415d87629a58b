// One restore-test report as a self-contained page: verdict first, then what was restored
// and to which point, durations, and every check.
import type { RestoreReport } from './report-schema.js';
import { esc, fmtValue, page, seconds } from './html.js';

export function renderReportHtml(r: RestoreReport): string {
  const failed = r.checks.filter((c) => !c.ok);
  const reached = r.target.reached;
  const point = reached ? `${reached.binlogFile ?? ''}${reached.binlogPosition !== null ? `:${reached.binlogPosition}` : ''}${reached.gtidSet ? ` (GTID ${reached.gtidSet})` : ''}${reached.time ? ` at ${reached.time}` : ''}` : 'not reached';
  const phases = Object.entries(r.phases)
    .map(([name, s]) => `<tr><td>${esc(name)}</td><td class="num">${seconds(s)}</td></tr>`)
    .join('');
  const checks = r.checks
    .map(
      (c) =>
        `<tr class="${c.ok ? 'ok' : 'bad'}"><td>${c.ok ? '✔' : '✘'}</td><td>${esc(c.name)}</td><td>${esc(c.depth)}</td><td><code>${esc(c.object ?? '')}</code></td><td><code>${esc(fmtValue(c.expected))}</code></td><td><code>${esc(fmtValue(c.actual))}</code></td><td>${esc(c.detail ?? '')}</td></tr>`,
    )
    .join('\n');
  const body = `
<p class="muted">horizn-dbops restore test · report <code>${esc(r.id)}</code></p>
<h1><span class="verdict ${esc(r.verdict)}" id="verdict">${esc(r.verdict.toUpperCase())}</span></h1>
<p id="summary">${r.verdict === 'pass' ? `All ${r.checks.length} checks passed at depth <b>${esc(r.depth)}</b>.` : r.verdict === 'fail' ? `${failed.length} of ${r.checks.length} checks failed at depth <b>${esc(r.depth)}</b>.` : `The test could not complete: ${esc(r.error ?? '')}`}</p>
<dl>
<dt>Tested at</dt><dd>${esc(r.createdAt)}</dd>
<dt>Backup</dt><dd><code>${esc(r.backup.id)}</code> (completed ${esc(r.backup.completedAt)}, manifest sha256 <code>${esc(r.backup.manifestSha256.slice(0, 16))}…</code>)</dd>
<dt>Source</dt><dd>${esc(r.source.flavor)} ${esc(r.source.version)}, server <code>${esc(r.source.serverUuid)}</code></dd>
<dt>Restored</dt><dd>${esc(r.backup.selection)}</dd>
<dt>Target point</dt><dd>requested <code>${esc(r.target.requested)}</code>, reached <code id="reached">${esc(point)}</code></dd>
<dt>Sandbox</dt><dd>${esc(r.sandbox.driver)}${r.sandbox.engine ? ` (${esc(r.sandbox.engine)})` : ''}${r.sandbox.image ? `, image <code>${esc(r.sandbox.image)}</code>` : ''}${r.sandbox.imageId ? ` <code>${esc(r.sandbox.imageId.slice(0, 19))}</code>` : ''}, server ${esc(r.sandbox.serverVersion ?? '')}</dd>
<dt>RTO</dt><dd id="rto">${seconds(r.rtoSeconds)}</dd>
<dt>RPO at test time</dt><dd id="rpo">${seconds(r.rpoSeconds)}</dd>
<dt>Tool</dt><dd>${esc(r.tool.name)} ${esc(r.tool.version)}</dd>
</dl>
<h2>Durations</h2>
<table id="phases"><tr><th>phase</th><th>wall time</th></tr>${phases}</table>
<h2>Checks</h2>
<table id="checks"><tr><th></th><th>check</th><th>depth</th><th>object</th><th>expected</th><th>actual</th><th>detail</th></tr>
${checks}
</table>
<p class="muted">This page is a rendering. The evidence is <code>${esc(r.id)}.json</code>, signed with Ed25519 key <code>${esc(r.signature.keyId)}</code>: check it offline with <code>dbops report verify FILE --public-key signing.pub</code>.</p>`;
  return page(`Restore test ${r.verdict.toUpperCase()} — ${r.backup.id}`, body);
}
