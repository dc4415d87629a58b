// A daemon with a bad setup must refuse to start with every problem listed at once
// (exit 2), not fail at 02:00 on the first one.
import { describe, it, expect } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runCli } from '../helpers/cli.js';
import { dueSince, scheduleIntervalMs } from '../../src/daemon/schedule.js';

describe('dbops daemon configuration', () => {
  it('lists an unknown key, a bad cron expression, a bad duration and the missing storage URL, exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbops-daemon-cfg-'));
    const file = join(dir, 'dbops.yaml');
    await writeFile(file, ['schedule:', "  bakup: '0 2 * * *'", "  prune: 'every day'", 'retention:', "  pitrWindow: '7 days'", 'source:', '  url: mysql://u:p@127.0.0.1:3307', ''].join('\n'));
    const r = await runCli(['daemon', '--config', file]);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/unknown config key schedule\.bakup/);
    expect(r.stderr).toMatch(/config key schedule\.prune .*not a cron expression/);
    expect(r.stderr).toMatch(/config key retention\.pitrWindow .*not a duration/);
    expect(r.stderr).toMatch(/missing storage\.url/);
    expect(r.stderr.match(/^\s+- /gm)?.length).toBe(4);
  });

  it('knows schedule periods and runs that came due while down', () => {
    expect(scheduleIntervalMs('0 2 * * *')).toBe(86_400_000);
    expect(scheduleIntervalMs('*/5 * * * * *')).toBe(5000);
    const at = (s: string): Date => new Date(s);
    expect(dueSince('0 2 * * *', at('2026-03-01T01:00:00'), at('2026-03-01T03:00:00'))).toBe(true);
    expect(dueSince('0 2 * * *', at('2026-03-01T02:00:05'), at('2026-03-02T01:59:00'))).toBe(false);
    expect(dueSince('0 4 * * 0', at('2026-03-02T00:00:00'), at('2026-03-09T00:00:00'))).toBe(true);
  });
});
