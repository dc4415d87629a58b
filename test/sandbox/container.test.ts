// Container sandboxes on a real engine (podman here): they serve SQL on their
// own loopback port, keep the password out of argv/env, and leave no container
// and no listening port behind after stop/kill, a failed start, or the owning
// process ending. Skipped only off CI when no engine works; in CI they must run
// (.ci/run calls scripts/setup-podman.sh).
import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ToolError } from '../../src/errors.js';
import { withConnection } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { liveCount } from '../../src/sandbox/cleanup-registry.js';
import { containerEngineStatus, findContainerEngine, forceRemove } from '../../src/sandbox/container-engine.js';
import { defaultSandboxImage, localSandboxImage, removeStaleSandboxes, type ContainerSandbox } from '../../src/sandbox/container-server.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { mariadb } from '../helpers/mariadb.js';

const status = await containerEngineStatus();
const skip = !status.usable && !process.env.CI;
const LOCAL_IMAGE = localSandboxImage('mariadb', '10.11');

async function engine(args: string[]): Promise<string> {
  const e = findContainerEngine();
  return (await execa(e.path, args)).stdout.trim();
}

/** Names of containers carrying the sandbox label (running or not). */
async function sandboxContainers(): Promise<string[]> {
  const out = await engine(['ps', '--all', '--filter', 'label=dbops.sandbox=1', '--format', '{{.Names}}']);
  return out.split('\n').filter(Boolean);
}

function portListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe.skipIf(skip)(`container sandbox${skip && !status.usable ? ` (skipped: ${status.reason}; set CI=1 to force)` : ''}`, () => {
  beforeAll(async () => {
    if (!status.usable) throw new Error(`CI is set but no container engine works: ${status.reason}`);
    const r = await execa(status.engine.path, ['image', 'inspect', LOCAL_IMAGE], { reject: false });
    if (r.exitCode !== 0) throw new Error(`${LOCAL_IMAGE} is missing: run scripts/build-sandbox-image.sh (or scripts/setup-podman.sh)`);
    // Leftovers from an earlier crashed run would break the "nothing left" checks.
    await removeStaleSandboxes({ olderThanMinutes: 0 });
  });

  it('runs two at once on their own ports, serves SQL, and leaves nothing behind on stop/kill', async () => {
    const [a, b] = (await Promise.all([
      startSandbox({ driver: 'container', serverId: 42, memory: '512m', cpus: 1 }),
      startSandbox({ driver: 'container', binlog: false }),
    ])) as [ContainerSandbox, ContainerSandbox];
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.containerName).not.toBe(b.containerName);
      for (const s of [a, b]) {
        expect(s.driver).toBe('container');
        expect([3306, mariadb().port]).not.toContain(s.port);
        expect(s.containerName).toMatch(/^dbops-sandbox-[0-9a-f]{12}$/);
        expect(s.url).toBe(`mysql://root:${s.conn.password}@127.0.0.1:${s.port}`);
        expect(s.flavor).toBe('mariadb');
        expect(s.version).toMatch(/^10\.11\.\d+-MariaDB/);
        const d = s.describe();
        expect(d).toMatchObject({ driver: 'container', image: LOCAL_IMAGE, serverVersion: s.version });
        expect(d.engine).toMatch(/^(podman|docker) \d+\.\d+/);
        expect(d.imageId).toMatch(/^[0-9a-f]{64}$/);
      }
      expect((await sandboxContainers()).sort()).toEqual([a.containerName, b.containerName].sort());

      const rows = await withConnection(parseConnectionUrl(a.url), async (db) => {
        await db.exec('CREATE DATABASE shop');
        await db.exec('CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB');
        await db.exec("INSERT INTO shop.items VALUES (1, 'one'), (2, 'two')");
        // Not in one statement: MariaDB 10.11 answers @@log_bin = 0 inside an aggregate over a table.
        return db.query<{ n: number; logBin: number; serverId: number }>(
          'SELECT (SELECT COUNT(*) FROM shop.items) AS n, @@log_bin AS logBin, @@server_id AS serverId',
        );
      });
      expect(rows).toEqual([{ n: 2, logBin: 1, serverId: 42 }]);
      const logBinB = await withConnection(b.conn, async (db) => (await db.query<{ v: number }>('SELECT @@log_bin AS v'))[0]!.v);
      expect(logBinB).toBe(0);
      // The two are separate servers, and a login needs the password.
      await expect(withConnection(b.conn, (db) => db.query('SELECT * FROM shop.items'))).rejects.toThrow(/Unknown database|doesn't exist/);
      await expect(withConnection({ ...a.conn, password: '' }, (db) => db.query('SELECT 1'))).rejects.toThrow(/Access denied/);

      // The password is in neither argv nor env, and its host file is gone once the server is up.
      const inspected = await engine(['inspect', a.containerName]);
      expect(inspected).not.toContain(a.conn.password);
      const [info] = JSON.parse(inspected) as {
        Mounts: { Source: string; Destination: string }[];
        HostConfig: { Memory: number; NanoCpus: number };
      }[];
      const secret = info!.Mounts.find((m) => m.Destination === '/run/secrets/dbops-root-password');
      expect(secret).toBeDefined();
      expect(existsSync(secret!.Source)).toBe(false);
      expect(info!.HostConfig.Memory).toBe(512 * 1024 * 1024);
      expect(info!.HostConfig.NanoCpus).toBe(1e9);
      // The datadir is a tmpfs.
      expect(await engine(['exec', a.containerName, 'sh', '-c', 'grep " /var/lib/mysql " /proc/mounts'])).toMatch(/^tmpfs /);
    } finally {
      await a.stop();
      await b.kill();
    }
    expect(await sandboxContainers()).toEqual([]);
    expect(await portListening(a.port)).toBe(false);
    expect(await portListening(b.port)).toBe(false);
    expect(liveCount()).toBe(0);
    await a.stop(); // idempotent
  });

  it('fails with the container log tail and removes the container when the server cannot start', async () => {
    const err = await startSandbox({ driver: 'container', extraArgs: ['--no-such-option-dbops=1'], startTimeoutMs: 60_000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toMatch(/exited during startup/);
    expect((err as Error).message).toMatch(/no-such-option-dbops/);
    expect((err as Error).message).not.toContain('\n');
    expect(await sandboxContainers()).toEqual([]);
    expect(liveCount()).toBe(0);
  });

  it('removes the container when the owning process is killed by SIGTERM', async () => {
    const child = join(import.meta.dirname, 'helpers', 'container-child.ts');
    const r = await execa('node', ['--import', 'tsx', child, 'SIGTERM'], { reject: false, timeout: 90_000 });
    expect(r.timedOut, 'child hung instead of exiting').toBe(false);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, r.stderr).toBeDefined();
    const { name, port } = JSON.parse(line!) as { name: string; port: number };
    expect(r.signal).toBe('SIGTERM');
    expect(await engine(['ps', '--all', '--filter', `name=${name}`, '--format', '{{.Names}}'])).toBe('');
    expect(await portListening(port)).toBe(false);
  });

  it('removeStaleSandboxes removes only labelled containers older than the cutoff', async () => {
    const run = (name: string, startedMs: number) =>
      engine(['run', '-d', '--name', name, '--label', 'dbops.sandbox=1', '--label', `dbops.sandbox.started=${startedMs}`, LOCAL_IMAGE, 'sleep', '300']);
    const suffix = Date.now().toString(36);
    const [old, fresh, unrelated] = [`dbops-sandbox-old-${suffix}`, `dbops-sandbox-fresh-${suffix}`, `dbops-other-${suffix}`];
    try {
      await run(old, Date.now() - 2 * 3600_000);
      await run(fresh, Date.now());
      await engine(['run', '-d', '--name', unrelated, LOCAL_IMAGE, 'sleep', '300']);
      expect(await removeStaleSandboxes({ olderThanMinutes: 60 })).toEqual([old]);
      expect((await sandboxContainers()).sort()).toEqual([fresh]);
      expect(await engine(['ps', '--all', '--filter', `name=${unrelated}`, '--format', '{{.Names}}'])).toBe(unrelated);
      expect(await removeStaleSandboxes({ olderThanMinutes: 60 })).toEqual([]);
    } finally {
      await forceRemove(findContainerEngine(), [old, fresh, unrelated]);
    }
  });

  it('defaults to the local image for its flavor/version and to the official image otherwise', async () => {
    const e = findContainerEngine();
    expect(localSandboxImage('mysql', '8.4.3')).toBe('localhost/dbops-sandbox-mysql:8.4');
    expect(await defaultSandboxImage(e, 'mariadb', '10.11.6')).toBe(LOCAL_IMAGE);
    expect(await defaultSandboxImage(e, 'mariadb', '11.4.2')).toBe('docker.io/library/mariadb:11.4');
    expect(await defaultSandboxImage(e, 'mysql')).toBe('docker.io/library/mysql:8.4');
  });
});

describe('startSandbox', () => {
  it('dispatches to the process driver with the same Sandbox shape', async () => {
    const s = await startSandbox({ driver: 'process', binlog: false });
    try {
      expect(s.driver).toBe('process');
      expect(s.describe()).toEqual({ driver: 'process', engine: expect.stringMatching(/mariadbd|mysqld/), serverVersion: s.version });
      await expect(withConnection(s.conn, (db) => db.query('SELECT 1 AS one'))).resolves.toEqual([{ one: 1 }]);
    } finally {
      await s.stop();
    }
  });
});
