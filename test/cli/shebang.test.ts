// The CLI's first line is how the installed `dbops` bin and the Docker entrypoint start node:
// it carries the memory settings the benchmark measured (src/cli/main.ts says why). This runs
// a script with exactly that line, so a line the kernel or `env -S` cannot run fails here.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'dbops-shebang-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the CLI shebang', () => {
  it('starts node with the fixed glibc mmap threshold, the small young generation and the slow heap growth', async () => {
    const shebang = readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8').split('\n', 1)[0]!;
    const script = join(dir, 'probe.js');
    writeFileSync(script, `${shebang}\nconsole.log(JSON.stringify({ threshold: process.env.MALLOC_MMAP_THRESHOLD_, execArgv: process.execArgv }));\n`);
    chmodSync(script, 0o755);
    const { stdout } = await execa(script, [], { env: { MALLOC_MMAP_THRESHOLD_: undefined } });
    expect(JSON.parse(stdout)).toEqual({ threshold: '1048576', execArgv: ['--max-semi-space-size=1', '--heap-growing-percent=20'] });
  });
});
