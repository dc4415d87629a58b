// Reports as an auditor reads them, rendered by headless Chromium at 1280 px: the verdict
// first, the signature block near the top, failures with expected and found, passing checks
// grouped with counts, what was tested, RTO and RPO with their definitions; the index with
// the evidence-chain banner, a dated time axis, one series per depth with a legend, failed
// and interrupted runs marked, and coverage per backup. Nothing wider than the window.
// Screenshots go to test-artifacts/ (CI keeps them).
import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { renderReportHtml } from '../../src/report/report-html.js';
import { renderReportIndexHtml } from '../../src/report/report-index-html.js';
import { DEFINITIONS, decodeReport, reportDoc, type Check, type RestoreReport } from '../../src/report/report-schema.js';
import { documentBytes } from '../../src/repo/signed-document.js';
import { keyIdOf, signDocument } from '../../src/crypto/signing.js';
import { chromium, renderAt1280 } from '../helpers/chromium.js';

const LONG_TOKEN = `/var/lib/dbops/spool/${'x'.repeat(180)}/binlog.000042`;
const LONG_GTID = Array.from({ length: 12 }, (_, i) => `${i}-${1000 + i}-${123456789 + i * 7}`).join(',');

function report(over: Partial<RestoreReport> = {}): RestoreReport {
  const passing: Check[] = [
    ...Array.from({ length: 30 }, (_, i): Check => ({ name: 'row-count', depth: 'restore', object: `horizn.table_with_a_rather_long_name_${i}`, expected: 1000 + i, actual: 1000 + i, ok: true })),
    ...Array.from({ length: 12 }, (_, i): Check => ({ name: 'content-checksum', depth: 'content', object: `horizn.t${i}`, expected: { rows: 10, checksum: 'f'.repeat(40) }, actual: { rows: 10, checksum: 'f'.repeat(40) }, ok: true })),
    { name: 'part-integrity', depth: 'integrity', object: `backups/20261126T020000Z-zzzaaa/parts/${'0'.repeat(80)}.sql.zst.age`, ok: true },
  ];
  return {
    format: 'horizn-dbops/restore-report',
    version: 2,
    id: '20261127T020000Z-abcdef',
    createdAt: '2026-11-27T02:00:00.000Z',
    finishedAt: '2026-11-27T02:01:10.000Z',
    tool: { name: 'horizn-dbops', version: '0.1.0' },
    repositoryId: 'r',
    source: { flavor: 'mariadb', version: '10.11.19', serverUuid: 'mariadb-1-abc' },
    backup: { id: '20261126T020000Z-zzzaaa', manifestSha256: 'a'.repeat(64), completedAt: '2026-11-26T02:01:00.000Z', consistentPoint: { binlogFile: 'binlog.000042', binlogPosition: 1234, gtidSet: LONG_GTID }, selection: 'all databases: horizn' },
    target: { requested: 'checksums 20261127T015900Z-cs0001 (binlog.000043:5678)', reached: { binlogFile: 'binlog.000043', binlogPosition: 5678, gtidSet: LONG_GTID, time: '2026-11-27T01:59:00Z' } },
    sandbox: { driver: 'container', engine: 'podman 4.3.1', image: 'localhost/dbops-sandbox-mariadb:10.11', imageId: '5c4a3e91bac9'.padEnd(64, '0'), serverVersion: '10.11.19-MariaDB' },
    depth: 'content',
    checks: [
      ...passing,
      { name: 'content-checksum', depth: 'content', object: 'horizn.pageviews', expected: { rows: 72234, checksum: 'ab'.repeat(20) }, actual: { rows: 72233, checksum: 'cd'.repeat(20) }, ok: false, detail: 'content differs: 72233 rows vs 72234 on the source' },
      { name: 'row-count', depth: 'restore', object: 'horizn.sessions', expected: 500, actual: 499, ok: false, detail: 'horizn.sessions has 499 rows, the backup recorded 500' },
      { name: 'binlog-replay', depth: 'content', expected: 'binlog.000043:5678', ok: false, detail: `cannot read ${LONG_TOKEN}` },
    ],
    phases: { integrity: 3.2, sandbox: 4.1, restore: 41.5, verify: 4, replay: 7.25 },
    rtoSeconds: 48.75,
    rtoPhases: ['restore', 'replay'],
    rpoSeconds: 1.4,
    rpo: { newestOffsiteEvent: '2026-11-27T02:01:08.600Z', basis: 'shipper-heartbeat' },
    backupAgeSeconds: 86410,
    verdict: 'fail',
    signature: { alg: 'ed25519', keyId: '0123456789abcdef', value: 'v' },
    ...over,
  };
}

describe('report schema', () => {
  it('reads format-1 reports (signed before format 2): their "RPO" is shown as the backup age it was, RPO unmeasured', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const { format: _f, version: _v, signature: _s, finishedAt: _fa, rtoPhases: _rp, rpo: _r, backupAgeSeconds: _b, ...v1body } = report({ verdict: 'pass', checks: [] });
    const v1 = signDocument({ format: 'horizn-dbops/restore-report', version: 1, ...v1body, rpoSeconds: 86400 }, { privateKey, publicKey, keyId: keyIdOf(publicKey) });
    const read = decodeReport(documentBytes(v1), publicKey, 'old.json');
    expect(read.version).toBe(1);
    expect(read.rpoSeconds).toBeNull();
    expect(read.backupAgeSeconds).toBe(86400);
    expect(read.verdict).toBe('pass');
    expect(renderReportHtml(read)).toContain('format-1 report');
    // Still tamper-evident.
    expect(() => decodeReport(documentBytes({ ...v1, rpoSeconds: 1 }), publicKey, 'old.json')).toThrow(/signature does not verify/);
  });

  it('carries the RTO, RPO and backup-age definitions in its JSON schema', () => {
    const json = JSON.stringify(z.toJSONSchema(reportDoc.schema, { unrepresentable: 'any' }));
    for (const d of Object.values(DEFINITIONS)) expect(json).toContain(JSON.stringify(d).slice(1, -1));
    expect(json).toContain('interrupted');
  });
});

describe.skipIf(!chromium && !process.env.CI)('report HTML in headless Chromium at 1280 px', () => {
  it('a FAIL report: verdict, then signature, then failures with expected and found, what was tested, RTO/RPO defined, passing checks grouped', async () => {
    const r = await renderAt1280(renderReportHtml(report(), { evidenceSequence: 17 }), 'report-fail');
    expect(r.innerWidth).toBe(1280);
    expect(r.wide).toEqual([]);
    expect(r.scrollWidth).toBeLessThanOrEqual(1280);
    const t = r.text;
    const at = (s: string): number => {
      const i = t.indexOf(s);
      expect(i, s).toBeGreaterThanOrEqual(0);
      return i;
    };
    // Order: verdict → signature → failures → tested → numbers → passing.
    expect(at('FAIL')).toBeLessThan(at('Signature and evidence'));
    expect(at('Signature and evidence')).toBeLessThan(at('Failures (3)'));
    expect(at('Failures (3)')).toBeLessThan(at('What was tested'));
    expect(at('What was tested')).toBeLessThan(at('RTO and RPO'));
    expect(at('RTO and RPO')).toBeLessThan(at('Passing checks (43)'));
    expect(t).toContain('3 of 46 checks failed at depth content');
    // Signature block: key, evidence entry, how to verify.
    expect(t).toContain('Ed25519 key 0123456789abcdef');
    expect(t).toContain('entry #17');
    expect(t).toContain('dbops report verify 20261127T020000Z-abcdef.json --public-key signing.pub');
    expect(t).toContain('dbops evidence verify --public-key signing.pub');
    // Failures: expected vs found.
    expect(t).toMatch(/horizn\.pageviews \{"rows":72234,"checksum":"abab[^}]*\} \{"rows":72233,"checksum":"cdcd[^}]*\} content differs: 72233 rows vs 72234 on the source/);
    expect(t).toContain('horizn.sessions 500 499 horizn.sessions has 499 rows, the backup recorded 500');
    // What was tested.
    expect(t).toContain('20261126T020000Z-zzzaaa');
    expect(t).toContain('binlog.000043:5678');
    expect(t).toContain('image localhost/dbops-sandbox-mariadb:10.11');
    expect(t).toContain('server 10.11.19-MariaDB');
    // Numbers with their definitions; backup age apart.
    expect(t).toMatch(/RTO 48\.8 s \(restore \+ replay\)/);
    expect(t).toMatch(/RPO at report time 1\.4 s measured from 2026-11-27 02:01:08 UTC/);
    expect(t).toContain('Backup age 24 h 0 min');
    for (const d of Object.values(DEFINITIONS)) expect(t).toContain(d);
    expect(t).toMatch(/sandbox 4\.1 s no \(test step\)/);
    // Passing checks grouped by type with counts.
    expect(t).toContain('row-count (restore): 30 passed');
    expect(t).toContain('content-checksum (content): 12 passed');
    expect(t).toContain('part-integrity (integrity): 1 passed');
    expect((r.dom.match(/<details/g) ?? []).length).toBe(3);
  });

  it('an INTERRUPTED report says it proves nothing and is not a failure; without an entry number it points at the evidence log', async () => {
    const checks = report().checks.filter((c) => c.ok && c.name === 'part-integrity');
    const r = await renderAt1280(
      renderReportHtml(report({ verdict: 'interrupted', checks, rtoSeconds: null, rtoPhases: ['restore'], error: `interrupted by SIGTERM during the restore phase; the sandbox was removed (${LONG_TOKEN})` })),
      'report-interrupted',
    );
    expect(r.wide).toEqual([]);
    expect(r.scrollWidth).toBeLessThanOrEqual(1280);
    expect(r.text).toMatch(/INTERRUPTED .*The test stopped before it finished: interrupted by SIGTERM during the restore phase/);
    expect(r.text).toContain('does not count as a failure');
    expect(r.text).toContain('see the evidence log');
    expect(r.text).toContain('RTO – (data never became usable)');
    expect(r.text).not.toContain('Failures (');
  });

  it('the index: chain banner, dated time axis, a series per depth with legend, failed/interrupted marked, coverage', async () => {
    const verdicts = ['pass', 'pass', 'fail', 'interrupted', 'pass', 'error', 'pass', 'pass'] as const;
    const depths = ['integrity', 'restore', 'content'] as const;
    const reports = verdicts.map((verdict, i) =>
      report({
        id: `2026112${i}T0${i}1500Z-abcde${'abcdefgh'[i]}`,
        createdAt: `2026-11-2${i}T0${i}:15:00.000Z`,
        verdict,
        depth: depths[i % 3]!,
        backup: { ...report().backup, id: `2026112${i % 4}T000000Z-bakaa${'abcd'[i % 4]}` },
        rtoSeconds: depths[i % 3] === 'integrity' || verdict === 'interrupted' ? null : 40 + i * 5,
      }),
    );
    const backups = [0, 1, 2, 3, 4].map((i) => ({ id: `2026112${i}T000000Z-bakaa${'abcde'[i]}`, completedAt: `2026-11-2${i}T00:10:00.000Z` }));
    const html = renderReportIndexHtml({ reports, problems: [{ id: 'reports/2026/20261124T020000Z-badaaa.json', problem: 'reports/2026/20261124T020000Z-badaaa.json, recorded by evidence entry 9 (restore-test), is missing' }], backups, chain: { lastSequence: 42, problems: [] }, generatedAt: '2026-11-28T12:00:00.000Z' });
    expect(html).not.toMatch(/<(script|link)\b|src="http/);
    const ok = await renderAt1280(html, 'report-index');
    expect(ok.innerWidth).toBe(1280);
    expect(ok.wide).toEqual([]);
    expect(ok.scrollWidth).toBeLessThanOrEqual(1280);
    const t = ok.text;
    expect(t).toContain('Evidence chain verifies: entries 1…42');
    expect(t).toContain('5 passed, 1 failed, 1 interrupted, 1 could not run (8 reports)');
    expect(t).toContain('NOT VERIFIED: reports/2026/20261124T020000Z-badaaa.json, recorded by evidence entry 9 (restore-test), is missing');
    // Time axis: dates and times.
    expect(ok.dom).toMatch(/class="tick">2026-11-2\d<\/text>/);
    expect(ok.dom).toMatch(/class="tick">\d\d:\d\d<\/text>/);
    // One series per depth, with a legend naming each depth and the markers.
    for (const d of depths) expect(ok.dom).toContain(`<g class="series" data-depth="${d}">`);
    expect(t).toMatch(/integrity\s*restore\s*content\s*pass\s*fail\s*interrupted\s*error \(could not run\)/);
    // Failed and interrupted runs marked (runs chart + RTO chart + legends).
    expect((ok.dom.match(/class="run fail"/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect((ok.dom.match(/class="run interrupted"/g) ?? []).length).toBeGreaterThanOrEqual(2);
    // Coverage: each backup with its newest test; one never tested.
    expect(t).toMatch(/20261124T000000Z-bakaae 2026-11-24 00:10:00 UTC never tested/);
    expect(t).toMatch(/20261122T000000Z-bakaac 2026-11-22 00:10:00 UTC 2026-11-26 06:15:00 UTC integrity PASS never/);
    expect(t).toMatch(/20261121T000000Z-bakaab 2026-11-21 00:10:00 UTC 2026-11-25 05:15:00 UTC content ERROR never/);
    expect(t).toMatch(/20261120T000000Z-bakaaa 2026-11-20 00:10:00 UTC 2026-11-24 04:15:00 UTC restore PASS never/);

    const bad = await renderAt1280(
      renderReportIndexHtml({ reports, problems: [], backups, chain: { lastSequence: 42, problems: [`evidence/00000000000000000009.json does not link to entry 8 ${LONG_TOKEN}`] }, generatedAt: '2026-11-28T12:00:00.000Z' }),
      'report-index-chain-broken',
    );
    expect(bad.text).toContain('Evidence chain does NOT verify: 1 problem(s)');
    expect(bad.text).toContain('does not link to entry 8');
    expect(bad.wide).toEqual([]);
    expect(bad.scrollWidth).toBeLessThanOrEqual(1280);
  });
  it('the index counts a restore test of a physical incremental for each backup of its chain', async () => {
    const backups = [
      { id: '20261120T000000Z-fullaa', completedAt: '2026-11-20T00:10:00.000Z', parent: null },
      { id: '20261121T000000Z-incraa', completedAt: '2026-11-21T00:10:00.000Z', parent: '20261120T000000Z-fullaa' },
      { id: '20261122T000000Z-logiaa', completedAt: '2026-11-22T00:10:00.000Z' },
    ];
    const reports = [report({ id: '20261123T031500Z-abcdea', createdAt: '2026-11-23T03:15:00.000Z', verdict: 'pass', depth: 'content', backup: { ...report().backup, id: '20261121T000000Z-incraa' } })];
    const html = renderReportIndexHtml({ reports, problems: [], backups, chain: { lastSequence: 3, problems: [] }, generatedAt: '2026-11-28T12:00:00.000Z' });
    const { text } = await renderAt1280(html, 'report-index-physical-chain');
    expect(text).toMatch(/20261120T000000Z-fullaa 2026-11-20 00:10:00 UTC 2026-11-23 03:15:00 UTC content PASS 2026-11-23 03:15:00 UTC/);
    expect(text).toMatch(/20261121T000000Z-incraa 2026-11-21 00:10:00 UTC 2026-11-23 03:15:00 UTC content PASS 2026-11-23 03:15:00 UTC/);
    expect(text).toMatch(/20261122T000000Z-logiaa 2026-11-22 00:10:00 UTC never tested/);
  });
});
