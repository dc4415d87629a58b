// Pages as people see them: Debian's headless Chromium at a 1280 px wide window. A probe
// script (added to a copy of the page only) opens every <details>, then records the page's
// scroll width and any element reaching past the window, so tests can assert that nothing
// overflows; a screenshot of the page as shipped goes to test-artifacts/ for CI to keep.
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from '../../src/mysql/find-tool.js';
import { REPO_ROOT } from './fixtures.js';

export const chromium = findTool('chromium') ?? findTool('chromium-browser');
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

export interface Rendered {
  /** The DOM after load (every <details> open). */
  dom: string;
  /** The text a reader sees (tags removed, whitespace collapsed). */
  text: string;
  innerWidth: number;
  scrollWidth: number;
  /** Up to 5 elements whose right edge is past the window. */
  wide: string[];
  screenshot: string;
}

const PROBE = `<script>
document.querySelectorAll('details').forEach((d) => (d.open = true));
const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5).slice(0, 5).map((e) => e.tagName + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className ? '.' + e.className : ''));
const probe = document.createElement('pre');
probe.id = 'probe';
probe.textContent = JSON.stringify({ scrollWidth: document.documentElement.scrollWidth, innerWidth, wide });
document.body.appendChild(probe);
</script>`;

function flags(profile: string, height: number): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
    `--window-size=1280,${height}`,
  ];
}

export async function renderAt1280(html: string, name: string, height = 2000): Promise<Rendered> {
  if (!chromium) throw new Error('chromium is not installed (apt-get install chromium)');
  const dir = await mkdtemp(join(tmpdir(), 'dbops-html-'));
  try {
    const page = join(dir, `${name}.html`);
    const probed = join(dir, `${name}.probe.html`);
    await writeFile(page, html);
    await writeFile(probed, html.replace('</body>', `${PROBE}</body>`));
    await mkdir(ARTIFACTS, { recursive: true });
    const screenshot = join(ARTIFACTS, `${name}.png`);
    await execa(chromium, [...flags(join(dir, 'p1'), height), `--screenshot=${screenshot}`, `file://${page}`], { timeout: 90_000, stdin: 'ignore' });
    if ((await stat(screenshot)).size < 5000) throw new Error(`screenshot ${screenshot} is nearly empty`);
    const { stdout: dom } = await execa(chromium, [...flags(join(dir, 'p2'), height), '--dump-dom', `file://${probed}`], { timeout: 90_000, stdin: 'ignore' });
    const m = /<pre id="probe">([^<]*)<\/pre>/.exec(dom);
    if (!m) throw new Error(`the probe did not run in ${name}`);
    const probe = JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as { scrollWidth: number; innerWidth: number; wide: string[] };
    const text = dom
      .replace(/<pre id="probe">[^<]*<\/pre>/, '')
      .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/g, '')
      .replace(/<[^>]+>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&')
      .replace(/\s+/g, ' ');
    return { dom, text, ...probe, screenshot };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
