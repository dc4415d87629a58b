// What only the process driver has (the shared behaviour of both drivers is in
// test/sandbox/conformance.test.ts): binlogs in its dir, restart on the same datadir,
// cleanup when the owner throws or exits, and a clear failure.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startSandboxServer } from '../../src/sandbox/process-server.js';
import { liveCount } from '../../src/sandbox/cleanup-registry.js';
import { withConnection } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { ToolError } from '../../src/errors.js';

/** Our child processes are reaped by execa, so a gone server has no /proc entry (or is a zombie). */
function processGone(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*?\)/, ''));
  } catch {
    return true;
  }
}

describe('process server', () => {
  // Start, restore, replay, two at once and SIGTERM teardown are in test/sandbox/conformance.test.ts (both drivers).
  it('logs binlogs in its own dir, keeps account setup out of them, takes socket logins, and removes its dir on stop', async () => {
    const a = await startSandboxServer();
    try {
      expect(a.conn.password).toMatch(/^[0-9a-f]{36}$/);
      expect(await withConnection(parseConnectionUrl(a.url), async (db) => (await db.query<{ v: number }>('SELECT @@log_bin AS v'))[0]!.v)).toBe(1);
      // The socket login needs the password too (root has one everywhere now).
      await expect(withConnection({ ...a.conn, socket: a.socket }, (db) => db.query('SELECT 1'))).resolves.toHaveLength(1);
      // Account setup stayed out of the binlog.
      const binlog = readFileSync(join(a.binlogDir, 'binlog.000001'));
      expect(binlog.includes('ALTER USER')).toBe(false);
      expect(existsSync(a.datadir)).toBe(true);
    } finally {
      await a.stop();
    }
    expect(existsSync(a.baseDir)).toBe(false);
    expect(processGone(a.pid)).toBe(true);
    expect(liveCount()).toBe(0);
  });

  it('fails with the error log tail and cleans up when the server cannot start', async () => {
    const err = await startSandboxServer({ extraArgs: ['--no-such-option-dbops=1'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toMatch(/exited during startup/);
    expect((err as Error).message).toMatch(/no-such-option-dbops/);
    expect((err as Error).message).not.toContain('\n');
    expect(liveCount()).toBe(0);
  });

  it('restarts on the same datadir, port and password, after a clean shutdown or a crash, and still cleans up', async () => {
    const s = await startSandboxServer();
    const pids = [s.pid];
    const count = (): Promise<number> => withConnection(s.conn, async (db) => (await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM r.t'))[0]!.n);
    const logs = (): Promise<string[]> => withConnection(s.conn, async (db) => (await db.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((x) => x.Log_name));
    try {
      await withConnection(s.conn, async (db) => {
        await db.exec('CREATE DATABASE r');
        await db.exec('CREATE TABLE r.t (id INT PRIMARY KEY) ENGINE=InnoDB');
        await db.exec('INSERT INTO r.t VALUES (1)');
      });
      expect(await logs()).toEqual(['binlog.000001']);
      let sawDown = false;
      await s.restart({
        whileDown: async () => {
          expect(processGone(pids[0]!)).toBe(true);
          await expect(withConnection(s.conn, (db) => db.query('SELECT 1'))).rejects.toThrow();
          sawDown = true;
        },
      });
      expect(sawDown).toBe(true);
      pids.push(s.pid);
      expect(processGone(pids[0]!)).toBe(true);
      expect(s.pid).not.toBe(pids[0]);
      // Same data, same URL; the server opened the next binlog file.
      expect(await count()).toBe(1);
      expect(await logs()).toEqual(['binlog.000001', 'binlog.000002']);

      await withConnection(s.conn, (db) => db.exec('INSERT INTO r.t VALUES (2)'));
      await s.restart({ mode: 'crash' });
      pids.push(s.pid);
      expect(processGone(pids[1]!)).toBe(true);
      // The committed row survived the SIGKILL through crash recovery.
      expect(await count()).toBe(2);
      expect(await logs()).toEqual(['binlog.000001', 'binlog.000002', 'binlog.000003']);
      expect(readFileSync(s.errorLog, 'utf8')).toMatch(/crash recovery/i);

      // A failing whileDown still gets the server back, then rethrows.
      await expect(s.restart({ whileDown: () => Promise.reject(new Error('boom')) })).rejects.toThrow('boom');
      pids.push(s.pid);
      expect(await count()).toBe(2);
    } finally {
      await s.stop();
    }
    expect(existsSync(s.baseDir)).toBe(false);
    for (const pid of pids) expect(processGone(pid)).toBe(true);
    expect(liveCount()).toBe(0);
    await expect(s.restart()).rejects.toThrow(/after stop/);
  });

  it.each(['throw', 'exit', 'restart-exit'])('kills the server and removes its dir when the owning process ends (%s)', async (how) => {
    const child = join(import.meta.dirname, 'helpers', 'sandbox-child.ts');
    const r = await execa('node', ['--import', 'tsx', child, how], { reject: false, timeout: 30_000 });
    expect(r.timedOut, 'child hung instead of exiting').toBe(false);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, r.stderr).toBeDefined();
    const { pid, baseDir } = JSON.parse(line!) as { pid: number; baseDir: string };
    if (how === 'throw') expect(r.exitCode).toBe(1);
    else expect(r.exitCode).toBe(0);
    expect(existsSync(baseDir)).toBe(false);
    // The orphaned server was SIGKILLed (reaped by init, so no /proc entry soon after).
    await expect.poll(() => processGone(pid), { timeout: 5000 }).toBe(true);
  });
});
