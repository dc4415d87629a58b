// The README's generated tables (scripts/docs.ts) must match the code they come from: the
// configuration table the schema (every key, its env name, default and .describe()), and
// "What we test" the cases vitest collects from test/faults/. `npm run docs` rewrites them;
// this test is what fails in CI when someone changes one side only.
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { configLeaves, configTable, currentBlock, faultCases, faultsTable } from '../../scripts/docs.js';
import { SETTABLE_KEYS, envNameFor } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/temp-dirs.js';

const readme = (): Promise<string> => readFile(join(REPO_ROOT, 'README.md'), 'utf8');

describe('README configuration table', () => {
  it('is the one generated from src/config/schema.ts (run npm run docs after changing the schema)', async () => {
    expect(currentBlock(await readme(), 'config')).toBe(configTable());
  });

  it('lists every key env and flags can set, with its env name and a meaning', () => {
    const leaves = new Map(configLeaves().map((l) => [l.key, l]));
    for (const key of Object.keys(SETTABLE_KEYS)) {
      expect(leaves.get(key)?.env, key).toBe(envNameFor(key));
      expect(leaves.get(key)?.description.length, key).toBeGreaterThan(10);
    }
  });

  it('refuses to generate a row for a key without .describe(), naming it', () => {
    const schema = z.strictObject({ a: z.strictObject({ ok: z.string().describe('described'), bare: z.number().default(3) }) });
    expect(() => configLeaves(schema)).toThrow(/a\.bare has no \.describe\(\): add one/);
  });
});

describe('README "What we test" table', () => {
  it('counts the cases of test/faults/ as vitest collects them', async () => {
    const cases = await faultCases();
    expect(cases.length).toBeGreaterThan(50);
    expect(currentBlock(await readme(), 'faults')).toBe(faultsTable(cases));
  });
});

describe('npm run docs -- --check', () => {
  it('exits 1 naming the block when the README differs from the code, and 0 once regenerated', async () => {
    const dir = await tempDir('dbops-docs-');
    const copy = join(dir, 'README.md');
    await cp(join(REPO_ROOT, 'README.md'), copy);
    const text = await readFile(copy, 'utf8');
    await writeFile(copy, text.replace('| `restore.parallel` | `DBOPS_RESTORE_PARALLEL` | `2` |', '| `restore.parallel` | `DBOPS_RESTORE_PARALLEL` | `4` |'));
    const docs = (...args: string[]) => execa(process.execPath, ['--import', 'tsx', 'scripts/docs.ts', '--readme', copy, '--only', 'config', ...args], { cwd: REPO_ROOT, reject: false });
    const stale = await docs('--check');
    expect(stale.exitCode).toBe(1);
    expect(String(stale.stderr)).toMatch(/out of date \(<!-- generated:config \(npm run docs\) -->\): run npm run docs/);
    expect((await docs()).exitCode).toBe(0);
    expect((await docs('--check')).exitCode).toBe(0);
    expect(await readFile(copy, 'utf8')).toBe(text);
  });
});
