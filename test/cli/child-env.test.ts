// The shebang's glibc setting (MALLOC_MMAP_THRESHOLD_) is for node's own upload buffers. The
// programs dbops starts must not inherit it: with a fixed 1 MiB threshold every large
// allocation of mariadb-backup, zstd or a sandbox mariadbd becomes an mmap/munmap pair, which
// slows them down (measured in scripts/bench/README.md).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { fakeBin, withPath } from '../helpers/fake-tools.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { tempDir } from '../helpers/temp-dirs.js';

describe('programs dbops starts', () => {
  it('do not inherit the malloc setting the CLI shebang gives node', async () => {
    const real = findTool('age-keygen');
    if (!real) throw new Error('age-keygen not installed');
    const seen = join(await tempDir('dbops-child-env-'), 'seen');
    // Passes through to the real age-keygen, noting what it was given first.
    const bin = await fakeBin('age-keygen', `#!/bin/sh\necho "threshold=\${MALLOC_MMAP_THRESHOLD_-unset}" >> "${seen}"\nexec "${real}" "$@"\n`);
    const out = await tempDir('dbops-child-env-keys-');
    const r = await runCli(['keys', 'generate', '--out', join(out, 'k')], { PATH: withPath(bin), MALLOC_MMAP_THRESHOLD_: '1048576' });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = (await readFile(seen, 'utf8')).trim().split('\n');
    expect(new Set(lines)).toEqual(new Set(['threshold=unset']));
  });
});
