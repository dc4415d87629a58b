// One restore-test report as a self-contained page, in the order an auditor reads it: the
// verdict; how to check the signature and where the report sits in the evidence log; what
// failed, with what was expected and what was found; what was tested; RTO and RPO with
// their definitions; then every passing check, grouped by type (expandable).
import { DEFINITIONS, VERDICT_MEANING, type Check, type RestoreReport } from './report-schema.js';
import { esc, fmtValue, page, seconds, utc } from './html.js';
import { reportKey, idTime } from '../storage/layout.js';

export interface ReportPageContext {
  /** Sequence number of the report's evidence log entry, when known (it is appended after the report is stored). */
  evidenceSequence?: number | null;
}

function summary(r: RestoreReport, failed: Check[]): string {
  switch (r.verdict) {
    case 'pass':
      return `All ${r.checks.length} checks passed at depth <b>${esc(r.depth)}</b>.`;
    case 'fail':
      return `${failed.length} of ${r.checks.length} checks failed at depth <b>${esc(r.depth)}</b>.`;
    case 'interrupted':
      return `The test stopped before it finished: ${esc(r.error ?? 'interrupted by a signal')}. It proves nothing either way and does not count as a failure.`;
    default:
      return `The test could not run to the end: ${esc(r.error ?? '')}. It proves nothing either way.`;
  }
}

function signatureBlock(r: RestoreReport, ctx: ReportPageContext): string {
  const file = `${r.id}.json`;
  const seq = ctx.evidenceSequence;
  const entry =
    seq !== undefined && seq !== null
      ? `entry <b id="evidence-seq">#${seq}</b> (action <code>restore-test</code>, subject <code>${esc(r.id)}</code>), which pins the sha256 of the JSON`
      : `<span id="evidence-seq">see the evidence log</span>: <code>dbops evidence list</code> shows the <code>restore-test</code> entry whose subject is <code>${esc(r.id)}</code> (the entry is written after the report, so this page may not know its number)`;
  return `<section id="signature" class="box">
<h2>Signature and evidence</h2>
<dl>
<dt>Signed by</dt><dd>Ed25519 key <code id="key-id">${esc(r.signature.keyId)}</code> <span class="muted">(key id: the first 16 hex digits of the SHA-256 of the public key in DER form; compare it with the key you were given)</span></dd>
<dt>Evidence</dt><dd><code>${esc(reportKey(r.id, idTime(r.id), 'json'))}</code>, the signed JSON; this page is a rendering of it</dd>
<dt>Evidence log</dt><dd>${entry}</dd>
<dt>How to verify</dt><dd><code>dbops report verify ${esc(file)} --public-key signing.pub</code> checks this report offline (exit 3 on any change); <code>dbops evidence verify --public-key signing.pub</code> checks the whole chain, including that this report is still there unchanged.</dd>
</dl>
</section>`;
}

function failures(r: RestoreReport, failed: Check[]): string {
  if (failed.length === 0) return '';
  const stopped = r.error ? `<p id="stopped"><b>Then the test stopped:</b> ${esc(r.error)}</p>` : '';
  const rows = failed
    .map((c) => `<tr class="bad"><td><code>${esc(c.name)}</code><br><span class="muted kw">${esc(c.depth)}</span></td><td><code>${esc(c.object ?? '')}</code></td><td><code>${esc(fmtValue(c.expected))}</code></td><td><code>${esc(fmtValue(c.actual))}</code></td><td>${esc(c.detail ?? '')}</td></tr>`)
    .join('\n');
  return `<section id="failures"><h2>Failures (${failed.length})</h2>${stopped}
<table><colgroup><col style="width:14%"><col style="width:20%"><col style="width:18%"><col style="width:18%"><col></colgroup>
<tr><th>check</th><th>object</th><th>expected</th><th>found</th><th>why</th></tr>
${rows}
</table></section>`;
}

function point(p: { binlogFile: string | null; binlogPosition: number | null; gtidSet: string | null; time?: string | null } | null): string {
  if (!p) return 'not reached';
  const pos = p.binlogFile ? `${p.binlogFile}${p.binlogPosition !== null ? `:${p.binlogPosition}` : ''}` : '';
  return [pos, p.gtidSet ? `GTID ${p.gtidSet}` : '', p.time ? `at ${utc(p.time)}` : ''].filter(Boolean).join(', ') || 'unknown';
}

function tested(r: RestoreReport): string {
  const s = r.sandbox;
  const sandbox = s.driver === 'none' ? 'none (not started)' : `${esc(s.driver)}${s.engine ? ` (${esc(s.engine)})` : ''}${s.image ? `, image <code>${esc(s.image)}</code>` : ''}${s.imageId ? ` id <code>${esc(s.imageId.slice(0, 19))}</code>` : ''}${s.serverVersion ? `, server ${esc(s.serverVersion)}` : ''}`;
  return `<section id="tested"><h2>What was tested</h2>
<dl>
<dt>Backup</dt><dd><code id="backup-id">${esc(r.backup.id)}</code>, completed ${esc(utc(r.backup.completedAt))}; manifest sha256 <code>${esc(r.backup.manifestSha256)}</code></dd>
<dt>Consistent point</dt><dd><code>${esc(point(r.backup.consistentPoint))}</code></dd>
<dt>Restored</dt><dd>${esc(r.backup.selection)}</dd>
<dt>Source</dt><dd>${esc(r.source.flavor)} ${esc(r.source.version)}, server <code>${esc(r.source.serverUuid)}</code></dd>
<dt>Point</dt><dd>requested <code>${esc(r.target.requested)}</code>; reached <code id="reached">${esc(point(r.target.reached))}</code></dd>
<dt>Sandbox</dt><dd id="sandbox">${sandbox}</dd>
<dt>Depth</dt><dd>${esc(r.depth)}</dd>
<dt>Ran</dt><dd>${esc(utc(r.createdAt))} to ${esc(utc(r.finishedAt))}, ${esc(r.tool.name)} ${esc(r.tool.version)}</dd>
</dl></section>`;
}

function numbers(r: RestoreReport): string {
  const phases = Object.entries(r.phases)
    .map(([name, s]) => `<tr><td>${esc(name)}</td><td class="num">${seconds(s)}</td><td>${r.rtoPhases.includes(name) ? 'yes' : 'no (test step)'}</td></tr>`)
    .join('');
  const basis = r.rpo
    ? `measured from <code>${esc(utc(r.rpo.newestOffsiteEvent))}</code> (${{ 'binlog-event': 'the newest shipped binlog event', 'shipper-heartbeat': 'the shipper heartbeat: everything before it was shipped', 'backup-start': 'the start of the newest backup: no binlogs shipped' }[r.rpo.basis]}) to ${esc(utc(r.finishedAt))}`
    : r.version === 1
      ? 'not measured: a format-1 report (its "RPO" was the backup age, shown below)'
      : 'not measured (no source known)';
  return `<section id="numbers"><h2>RTO and RPO</h2>
<dl>
<dt>RTO</dt><dd><b id="rto">${seconds(r.rtoSeconds)}</b>${r.rtoSeconds === null ? ` <span class="muted">(${r.depth === 'integrity' ? 'an integrity test restores nothing' : 'data never became usable'})</span>` : ` <span class="muted">(${r.rtoPhases.map(esc).join(' + ')})</span>`}<p class="def">${esc(DEFINITIONS.rto)}</p></dd>
<dt>RPO at report time</dt><dd><b id="rpo">${seconds(r.rpoSeconds)}</b> <span class="muted">${basis}</span><p class="def">${esc(DEFINITIONS.rpo)}</p></dd>
<dt>Backup age</dt><dd><b id="backup-age">${seconds(r.backupAgeSeconds)}</b><p class="def">${esc(DEFINITIONS.backupAge)}</p></dd>
</dl>
<table id="phases" class="narrow"><tr><th>phase</th><th class="num">wall time</th><th>part of RTO</th></tr>${phases}</table>
</section>`;
}

function passing(r: RestoreReport): string {
  const groups = new Map<string, Check[]>();
  for (const c of r.checks.filter((x) => x.ok)) groups.set(c.name, [...(groups.get(c.name) ?? []), c]);
  if (groups.size === 0) return '';
  const total = [...groups.values()].reduce((n, g) => n + g.length, 0);
  const blocks = [...groups.entries()]
    .map(([name, cs]) => {
      const rows = cs.map((c) => `<tr><td><code>${esc(c.object ?? '')}</code></td><td><code>${esc(fmtValue(c.expected))}</code></td><td><code>${esc(fmtValue(c.actual))}</code></td><td>${esc(c.detail ?? '')}</td></tr>`).join('');
      return `<details class="check-group" data-check="${esc(name)}"><summary><code>${esc(name)}</code> (${esc(cs[0]!.depth)}): <b>${cs.length}</b> passed</summary>
<table><colgroup><col style="width:30%"><col style="width:25%"><col style="width:25%"><col></colgroup><tr><th>object</th><th>expected</th><th>found</th><th>note</th></tr>${rows}</table></details>`;
    })
    .join('\n');
  return `<section id="passed"><h2>Passing checks (${total})</h2>\n${blocks}\n</section>`;
}

export function renderReportHtml(r: RestoreReport, ctx: ReportPageContext = {}): string {
  const failed = r.checks.filter((c) => !c.ok);
  const body = `
<p class="muted">horizn-dbops restore test · report <code>${esc(r.id)}</code></p>
<h1><span class="verdict ${esc(r.verdict)}" id="verdict">${esc(r.verdict.toUpperCase())}</span><span>backup <code>${esc(r.backup.id)}</code>, depth ${esc(r.depth)}</span></h1>
<p id="summary">${summary(r, failed)}</p>
<p class="muted" id="verdict-meaning">${esc(r.verdict.toUpperCase())}: ${esc(VERDICT_MEANING[r.verdict])}.</p>
${signatureBlock(r, ctx)}
${failures(r, failed)}
${tested(r)}
${numbers(r)}
${passing(r)}`;
  return page(`Restore test ${r.verdict.toUpperCase()} — ${r.backup.id}`, body);
}
