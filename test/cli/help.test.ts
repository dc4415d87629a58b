// Every command's --help shows the options that work on every command: --json and the log
// options (-v, -q, --log-level), so nobody has to know they exist from the top-level help.
import { describe, it, expect } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

function leaves(cmd: Command, path: string[] = []): Array<{ path: string; cmd: Command }> {
  return cmd.commands.flatMap((c) => [{ path: [...path, c.name()].join(' '), cmd: c }, ...leaves(c, [...path, c.name()])]);
}

describe('help', () => {
  it('lists --json, -v, -q and --log-level in every command', async () => {
    const program = await buildProgram(['node', 'dbops']);
    const all = leaves(program);
    expect(all.length).toBeGreaterThan(20);
    const missing = all.filter(({ cmd }) => {
      const help = cmd.helpInformation();
      return !['--json', '-v, --verbose', '-q, --quiet', '--log-level <level>'].every((o) => help.includes(o));
    });
    expect(missing.map((m) => m.path)).toEqual([]);
  });

  it('refuses a bad log level, and -v with -q, as usage errors (exit 2)', async () => {
    for (const [args, env, msg] of [
      [['list', '--log-level', 'loud'], {}, /argument 'loud' is invalid/],
      [['list', '-v', '-q'], {}, /contradict/],
      [['list'], { DBOPS_LOG_LEVEL: 'loud' }, /DBOPS_LOG_LEVEL "loud" is not a log level/],
    ] as const) {
      const r = await runCli([...args], { ...env, DBOPS_STORAGE_URL: 'file:///nonexistent-dbops-help-test' });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
