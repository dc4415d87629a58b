// The daemon's physical incrementals, as an operator schedules them: a real `dbops daemon`,
// a MariaDB whose datadir it reads with the real mariadb-backup, rows committed between runs.
// The first scheduled incremental has nothing to apply on and takes a full one (saying so),
// the next ones apply on it; SIGTERM ends the daemon cleanly; the next restore test of the
// chain takes its newest member.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ResultPromise } from 'execa';
import { startCli, runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { withConnection } from '../../src/mysql/client.js';
import { freePort } from '../../src/sandbox/free-port.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { until } from '../helpers/until.js';

interface LogLine {
  msg: string;
  job?: string;
  outcome?: string;
  summary?: string;
  err?: string;
}

interface Listed {
  id: string;
  kind: string;
  incremental: boolean;
  parent?: string | null;
  chain?: string[];
  warnings: number;
}

let server: SandboxServer;
let env: Record<string, string>;
let daemon: ResultPromise<{ reject: false }> | undefined;

beforeAll(async () => {
  server = await startSandboxServer({ binlog: true });
  await withConnection(server.conn, async (db) => {
    await db.exec('CREATE DATABASE inc');
    await db.exec('CREATE TABLE inc.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))');
    await db.exec("INSERT INTO inc.t (v) VALUES ('a'), ('b'), ('c')");
  });
  const keys = await makeKeys();
  const state = await tempDir('dbops-incremental-daemon-');
  env = {
    ...keys.env,
    DBOPS_LOG_LEVEL: 'info',
    DBOPS_STORAGE_URL: (await tempRepoUrl()).url,
    DBOPS_SOURCE_URL: server.url,
    DBOPS_BACKUP_KIND: 'physical',
    DBOPS_COMPRESSION_LEVEL: '1',
    DBOPS_DAEMON_LISTEN: `127.0.0.1:${await freePort()}`,
    DBOPS_DAEMON_STATE_FILE: join(state, 'state.json'),
    DBOPS_DAEMON_SHIP_BINLOGS: 'false',
    // Only the incremental runs here.
    DBOPS_SCHEDULE_BACKUP: '0 0 1 1 *',
    DBOPS_SCHEDULE_RESTORE_TEST: '0 0 1 1 *',
    DBOPS_SCHEDULE_PRUNE: '0 0 1 1 *',
    DBOPS_SCHEDULE_PARTITIONS: '0 0 1 1 *',
    DBOPS_SCHEDULE_MONITOR: '0 0 1 1 *',
  };
  const init = await runCli(['init'], env);
  expect(init.exitCode, init.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  daemon?.kill('SIGKILL');
  await daemon;
  await server?.stop();
});

describe('dbops daemon with schedule.incremental', () => {
  it('starts the chain with a full one, then applies incrementals on it; SIGTERM exits 0', async () => {
    daemon = startCli(['daemon'], { ...env, DBOPS_SCHEDULE_INCREMENTAL: '*/3 * * * * *' });
    const logs: LogLine[] = [];
    let buf = '';
    daemon.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) logs.push(line.startsWith('{') ? (JSON.parse(line) as LogLine) : { msg: line });
    });
    const finished = (): LogLine[] => logs.filter((l) => l.msg === 'job finished' && l.job === 'incremental');
    // Rows committed all along: each run has pages to copy.
    let writing = true;
    const writer = withConnection(server.conn, async (db) => {
      while (writing) {
        await db.exec("INSERT INTO inc.t (v) VALUES ('more')");
        await delay(100);
      }
    });
    try {
      await until('two scheduled incremental runs', async () => (finished().length >= 2 ? true : undefined), 90_000, () => logs.slice(-6).map((l) => JSON.stringify(l)).join('\n'));
    } finally {
      writing = false;
      await writer;
    }
    daemon.kill('SIGTERM');
    const exit = await daemon;
    expect(exit.exitCode, exit.stderr).toBe(0);

    const [first, second] = finished();
    expect([first!.outcome, second!.outcome], JSON.stringify([first, second])).toEqual(['ok', 'ok']);
    expect(first!.summary).toMatch(/, a full one \(no physical backup of this source in .* to apply an incremental on: took a full physical backup instead\)/);
    const r = await runCli(['list', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const backups = (JSON.parse(r.stdout) as { backups: Listed[] }).backups;
    expect(backups.length).toBeGreaterThanOrEqual(2);
    const [full, incremental] = backups;
    expect([full!.kind, full!.incremental, full!.warnings]).toEqual(['physical', false, 1]);
    expect([incremental!.kind, incremental!.incremental, incremental!.parent]).toEqual(['physical', true, full!.id]);
    expect(second!.summary).toContain(`physical incremental ${incremental!.id} on ${full!.id}`);
    // Nothing is tested yet: the next test of this chain takes its newest member, which restores the others too.
    const test = await runCli(['restore-test', '--backup', 'untested', '--depth', 'integrity', '--json'], env);
    expect(test.exitCode, test.stderr).toBe(0);
    expect((JSON.parse(test.stdout) as { backup: { id: string } }).backup.id).toBe(backups.at(-1)!.id);
  }, 150_000);

  it('refuses schedule.incremental for logical backups at start (exit 2), writing nothing', async () => {
    const state = await tempDir('dbops-incremental-refused-');
    const r = await runCli(['daemon'], { ...env, DBOPS_BACKUP_KIND: 'logical', DBOPS_SCHEDULE_INCREMENTAL: '0 * * * *', DBOPS_DAEMON_STATE_FILE: join(state, 'state.json') });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/schedule\.incremental is set but backup\.kind is logical: incrementals are physical; set backup\.kind: physical/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(state, 'state.json'))).toBe(false);
  });
});
