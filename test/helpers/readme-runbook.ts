// The README's by-hand runbook, cut out as the shell text it is, for tests to run with bash.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './fixtures.js';

const MARKER = '<!-- runbook: the fenced block below is executed by test/docs/runbook.test.ts -->';

/** The runbook's shell text, exactly as the README has it. */
export async function readmeRunbook(): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md lost its runbook marker: ${MARKER}`);
  const m = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(at));
  if (!m) throw new Error('no ```sh block after the runbook marker');
  return m[1]!;
}
