// Node ≥ 22.1 can keep V8's compiled code between runs; dbops keeps it in the user's own cache
// directory (never a shared temp directory another user could plant compiled code in), and a
// cache it cannot write is no reason for a command to fail.
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dirs.js';

const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const hasCompileCache = major > 22 || (major === 22 && minor >= 1);

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).map((e) => e.name);
}

describe('the compile cache', () => {
  it.skipIf(!hasCompileCache)("is kept in the user's cache directory, not the shared temp directory", async () => {
    const cache = await tempDir('dbops-xdg-cache-');
    const tmp = await tempDir('dbops-tmp-');
    const r = await runCli(['list', '--help'], { XDG_CACHE_HOME: cache, TMPDIR: tmp });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await filesUnder(join(cache, 'dbops', 'compile-cache'))).length).toBeGreaterThan(0);
    expect(await readdir(tmp)).not.toContain('node-compile-cache');
  });

  it('that cannot be written does not fail a command', async () => {
    const notADir = join(await tempDir('dbops-xdg-file-'), 'file');
    await writeFile(notADir, 'not a directory\n');
    const r = await runCli(['list', '--help'], { XDG_CACHE_HOME: notADir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: dbops list');
  });
});
