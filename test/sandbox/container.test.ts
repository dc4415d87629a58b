// What only the container driver has (the shared behaviour of both drivers is in
// conformance.test.ts): the password out of argv/env, memory/CPU limits, a tmpfs datadir,
// the image it ran, the log tail of a failed start, stale-container removal and the default
// image. Skipped only off CI when no engine works; in CI they must run
// (.ci/run calls scripts/setup-podman.sh).
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ToolError } from '../../src/errors.js';
import { withConnection } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { liveCount } from '../../src/sandbox/cleanup-registry.js';
import { containerEngineStatus, findContainerEngine, forceRemove } from '../../src/sandbox/container-engine.js';
import { defaultSandboxImage, localSandboxImage, removeStaleSandboxes, type ContainerSandbox } from '../../src/sandbox/container-server.js';
import { startSandbox } from '../../src/sandbox/index.js';

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

describe.skipIf(skip)(`container sandbox${skip && !status.usable ? ` (skipped: ${status.reason}; set CI=1 to force)` : ''}`, () => {
  beforeAll(async () => {
    if (!status.usable) throw new Error(`CI is set but no container engine works: ${status.reason}`);
    const r = await execa(status.engine.path, ['image', 'inspect', LOCAL_IMAGE], { reject: false });
    if (r.exitCode !== 0) throw new Error(`${LOCAL_IMAGE} is missing: run scripts/build-sandbox-image.sh (or scripts/setup-podman.sh)`);
    // Leftovers from an earlier crashed run would break the "nothing left" checks.
    await removeStaleSandboxes({ olderThanMinutes: 0 });
  });

  // Start, restore, replay, two at once and teardown are in conformance.test.ts (both drivers).
  it('keeps the password out of argv/env, applies its limits, runs the datadir on a tmpfs and names its image', async () => {
    const a = (await startSandbox({ driver: 'container', serverId: 42, memory: '512m', cpus: 1 })) as ContainerSandbox;
    try {
      expect(a.containerName).toMatch(/^dbops-sandbox-[0-9a-f]{12}$/);
      expect(a.version).toMatch(/^10\.11\.\d+-MariaDB/);
      const d = a.describe();
      expect(d).toMatchObject({ driver: 'container', image: LOCAL_IMAGE, serverVersion: a.version });
      expect(d.engine).toMatch(/^(podman|docker) \d+\.\d+/);
      expect(d.imageId).toMatch(/^[0-9a-f]{64}$/);
      expect(await sandboxContainers()).toEqual([a.containerName]);
      // Not in one statement: MariaDB 10.11 answers @@log_bin = 0 inside an aggregate over a table.
      const rows = await withConnection(parseConnectionUrl(a.url), (db) => db.query<{ logBin: number; serverId: number }>('SELECT @@log_bin AS logBin, @@server_id AS serverId'));
      expect(rows).toEqual([{ logBin: 1, serverId: 42 }]);

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
    }
    expect(await sandboxContainers()).toEqual([]);
    expect(liveCount()).toBe(0);
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
