// The HTML report as people see it: rendered by headless Chromium (Debian's), the verdict
// and the numbers must be on the page; a screenshot is kept in test-artifacts/.
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { mkdir, mkdtemp, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from '../../src/mysql/find-tool.js';
import { renderReportHtml } from '../../src/report/report-html.js';
import { renderReportIndexHtml } from '../../src/report/report-index-html.js';
import type { RestoreReport } from '../../src/report/report-schema.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const chromium = findTool('chromium') ?? findTool('chromium-browser');
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

function report(over: Partial<RestoreReport> = {}): RestoreReport {
  return {
    format: 'horizn-dbops/restore-report',
    version: 1,
    id: '20261127T020000Z-abc123',
    createdAt: '2026-11-27T02:00:00.000Z',
    tool: { name: 'horizn-dbops', version: '0.1.0' },
    repositoryId: 'r',
    source: { flavor: 'mariadb', version: '10.11.19', serverUuid: 'mariadb-1-abc' },
    backup: { id: '20261126T020000Z-zzz999', manifestSha256: 'a'.repeat(64), completedAt: '2026-11-26T02:01:00.000Z', consistentPoint: { binlogFile: 'binlog.000042', binlogPosition: 1234, gtidSet: '0-1-99' }, selection: 'all databases: horizn' },
    target: { requested: 'latest', reached: { binlogFile: 'binlog.000043', binlogPosition: 5678, gtidSet: '0-1-120', time: '2026-11-27T01:59:00Z' } },
    sandbox: { driver: 'container', engine: 'podman', image: 'localhost/dbops-sandbox-mariadb:10.11', imageId: 'sha256:0123456789abcdef0123', serverVersion: '10.11.19' },
    depth: 'content',
    checks: [
      { name: 'part-integrity', depth: 'integrity', object: 'backups/x/parts/00001.sql.zst.age', ok: true },
      { name: 'content-checksum', depth: 'content', object: 'horizn.pageviews', expected: { rows: 72234, checksum: 'ab' }, actual: { rows: 72233, checksum: 'cd' }, ok: false, detail: 'content differs: 72233 rows vs 72234 on the source' },
    ],
    phases: { integrity: 3.2, restore: 41.5, replay: 7.25, verify: 4 },
    rtoSeconds: 48.75,
    rpoSeconds: 61,
    verdict: 'fail',
    signature: { alg: 'ed25519', keyId: 'k', value: 'v' },
    ...over,
  };
}

async function render(html: string, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-html-'));
  const file = join(dir, `${name}.html`);
  await writeFile(file, html);
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`];
  await mkdir(ARTIFACTS, { recursive: true });
  const png = join(ARTIFACTS, `${name}.png`);
  await execa(chromium!, [...flags, `--screenshot=${png}`, '--window-size=1200,1400', `file://${file}`], { timeout: 60_000 });
  expect((await stat(png)).size).toBeGreaterThan(5000);
  const { stdout } = await execa(chromium!, [...flags, '--dump-dom', `file://${file}`], { timeout: 60_000 });
  return stdout;
}

describe.skipIf(!chromium && !process.env.CI)('report HTML in headless Chromium', () => {
  it('shows the verdict first and the numbers of the report', async () => {
    const dom = await render(renderReportHtml(report()), 'report-fail');
    expect(dom).toMatch(/id="verdict">FAIL</);
    expect(dom.indexOf('id="verdict"')).toBeLessThan(dom.indexOf('id="checks"'));
    expect(dom).toContain('1 of 2 checks failed');
    expect(dom).toContain('binlog.000043:5678');
    expect(dom).toMatch(/id="rto">48\.8 s</);
    expect(dom).toContain('horizn.pageviews');
    expect(dom).toContain('content differs: 72233 rows vs 72234 on the source');
  });

  it('index has a timeline and an RTO trend as inline SVG, and no external assets', async () => {
    const reports = [0, 1, 2, 3].map((i) =>
      report({ id: `2026112${i}T020000Z-abc12${i}`, createdAt: `2026-11-2${i}T02:00:00.000Z`, verdict: i === 2 ? 'fail' : 'pass', rtoSeconds: 40 + i * 5 }),
    );
    const html = renderReportIndexHtml(reports, [{ id: '20261124T020000Z-bad000', problem: 'signature does not verify' }]);
    expect(html).not.toMatch(/<(script|link)\b|src="http/);
    const dom = await render(html, 'report-index');
    expect(dom).toContain('3 of 4 passed');
    expect(dom).toMatch(/<svg id="timeline"/);
    expect(dom).toMatch(/<svg id="rto-trend"/);
    expect((dom.match(/<circle/g) ?? []).length).toBe(8);
    expect(dom).toContain('NOT VERIFIED: signature does not verify');
  });
});
