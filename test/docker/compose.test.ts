// compose.yaml and docker/dbops.example.yaml, checked without a Docker engine (none runs
// here): the file against the Compose schema (Debian's docker-compose validates it with its
// bundled compose-spec) and through Debian's podman-compose, which renders every container
// it would create (a dry run: only its network and volumes are made, and removed after);
// the dbops config the stack mounts, with the environment compose gives it, through the real
// config loader; and the properties that make the stack run anywhere Docker does.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  volumes?: string[];
  command?: string[] | string;
  entrypoint?: string[] | string;
  depends_on?: Record<string, { condition: string }> | string[];
  network_mode?: string;
  networks?: string[];
  user?: string;
}

const COMPOSE = join(REPO_ROOT, 'compose.yaml');

async function compose(): Promise<{ services: Record<string, Service>; networks: Record<string, { driver?: string }> }> {
  return parse(await readFile(COMPOSE, 'utf8'), { merge: true }) as { services: Record<string, Service>; networks: Record<string, { driver?: string }> };
}

/** Compose's ${NAME:-default} interpolation with nothing set: the defaults. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z][A-Z0-9_]*:-([^}]*)\}/g, '$1');
}

const DBOPS_SERVICES = ['bucket', 'keys', 'first-backup', 'dbops'];

describe('compose.yaml', () => {
  it('runs the daemon after the bucket, the keys and a first backup', async () => {
    const { services } = await compose();
    expect(Object.keys(services).sort()).toEqual(['bucket', 'dbops', 'first-backup', 'keys', 'mysql', 's3']);
    expect(services.dbops!.command).toEqual(['daemon']);
    expect(services.dbops!.depends_on).toMatchObject({ 'first-backup': { condition: 'service_completed_successfully' }, keys: { condition: 'service_completed_successfully' } });
    expect(services['first-backup']!.depends_on).toMatchObject({ mysql: { condition: 'service_healthy' } });
    expect(services.keys!.depends_on).toMatchObject({ bucket: { condition: 'service_completed_successfully' } });
    expect(services.bucket!.entrypoint).toEqual(['node', '/opt/dbops/docker/create-bucket.mjs']);
    expect(services.mysql!.command).toEqual(expect.arrayContaining(['--gtid-mode=ON', '--enforce-gtid-consistency=ON', '--log-bin=binlog']));
  });

  it('runs anywhere Docker does: one bridge network, no host network, no Docker socket, no host path but its own files', async () => {
    const { services, networks } = await compose();
    expect(networks).toEqual({ backend: { driver: 'bridge' } });
    for (const [name, s] of Object.entries(services)) {
      expect(s.network_mode, name).toBeUndefined();
      expect(s.networks, name).toEqual(['backend']);
      for (const v of s.volumes ?? []) {
        expect(v, name).not.toContain('docker.sock');
        const src = v.split(':')[0]!;
        if (src.startsWith('/') || src.startsWith('.')) {
          expect(src, `${name} mounts a host path`).toMatch(/^\.\/docker\//);
          expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
        }
      }
    }
  });

  it('pins every image by version and builds the dbops image once, named for the package version', async () => {
    const { services } = await compose();
    const version = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const [name, s] of Object.entries(services)) {
      const image = withDefaults(s.image ?? '');
      expect(image, name).toMatch(/:[^:/]*\d[^:/]*$/);
      expect(image, name).not.toMatch(/:latest$/);
    }
    const built = Object.entries(services).filter(([, s]) => s.build);
    expect(built.map(([n]) => n)).toEqual(['dbops']);
    const dbopsImage = withDefaults(services.dbops!.image!);
    expect(dbopsImage).toBe(`horizn/dbops:${version}`);
    for (const name of DBOPS_SERVICES) expect(withDefaults(services[name]!.image!), name).toBe(dbopsImage);
  });

  it("keeps the operator's age.key off the daemon: its keys volume is read-only, the test-only identity is the only one", async () => {
    const { services } = await compose();
    const daemon = services.dbops!;
    expect(daemon.volumes).toEqual(expect.arrayContaining(['keys:/keys:ro', 'restore-test-key:/restore-test:ro']));
    for (const [name, s] of Object.entries(services)) {
      if (name !== 'keys') expect((s.volumes ?? []).some((v) => v.startsWith('operator-key:')), name).toBe(false);
    }
    // The keys one-shot moves exactly age.pub and signing.key into /keys, and adds the test key with the CLI.
    const script = String(services.keys!.command);
    expect(script).toMatch(/mv \/operator\/new\/age\.pub \/operator\/new\/signing\.key \/keys\//);
    expect(script).toMatch(/dbops keys add-recipient \/restore-test\/age\.pub/);
  });

  it('gives the dbops services a config the real loader accepts: process sandbox, the test-only identity, both recipients', async () => {
    const { services } = await compose();
    const dbops = services.dbops!;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(dbops.environment ?? {})) env[k] = withDefaults(String(v));
    const mounted = (dbops.volumes ?? []).find((v) => v.endsWith(':/etc/dbops/dbops.yaml:ro'))!;
    expect(env.DBOPS_CONFIG).toBe('/etc/dbops/dbops.yaml');
    const config = await loadConfig({ file: join(REPO_ROOT, mounted.split(':')[0]!), env: { ...env, DBOPS_CONFIG: undefined } });
    expect(config.source.url).toBe('mysql://dbops@mysql:3306');
    expect(config.source.password).toBe('dbops-demo-password');
    expect(config.storage.url).toBe('s3://dbops/horizn?endpoint=http://s3:9000&region=us-east-1&forcePathStyle=true');
    expect(config.storage.objectLock).toBeUndefined();
    expect(config.age.recipients).toEqual(['/keys/age.pub', '/restore-test/age.pub']);
    expect(config.age.identityFile).toBe('/restore-test/age.key');
    expect(config.sandbox.driver).toBe('process');
    expect(config.sandbox.engine).toBeUndefined();
  });

  it('uses only ${NAME:-default} interpolation with a default, which every compose implementation reads', async () => {
    const text = await readFile(COMPOSE, 'utf8');
    const uses = text.replace(/\$\$/g, '').match(/\$\{[^}]*\}|\$[A-Za-z_]/g) ?? [];
    expect(uses.length).toBeGreaterThan(5);
    for (const u of uses) expect(u).toMatch(/^\$\{[A-Z][A-Z0-9_]*:-[^}]+\}$/);
  });

  it("passes the Compose schema (Debian's docker-compose config)", async () => {
    const r = await execa('docker-compose', ['-f', COMPOSE, 'config', '--quiet'], { reject: false, cwd: REPO_ROOT });
    expect(r.exitCode, String(r.stderr)).toBe(0);
  });

  describe('through podman-compose (Debian)', () => {
    const project = `dbops-compose-check-${process.pid}`;
    afterAll(async () => {
      const vols = await execa('podman', ['volume', 'ls', '-q', '--filter', `label=io.podman.compose.project=${project}`], { reject: false });
      for (const v of String(vols.stdout).split('\n').filter(Boolean)) await execa('podman', ['volume', 'rm', v], { reject: false });
      await execa('podman', ['network', 'rm', `${project}_backend`], { reject: false });
    });

    it('renders every container on the bridge network, with every variable resolved and the one dbops image', async () => {
      const r = await execa('podman-compose', ['-p', project, '-f', COMPOSE, '--dry-run', 'up', '--no-build'], { reject: false, cwd: REPO_ROOT, all: true });
      expect(r.exitCode, String(r.all)).toBe(0);
      const creates = String(r.all)
        .split('\n')
        .filter((l) => l.startsWith('podman create '));
      expect(creates.map((l) => /--name=\S+?_([a-z0-9-]+)_1 /.exec(l)?.[1]).sort()).toEqual(['bucket', 'dbops', 'first-backup', 'keys', 'mysql', 's3']);
      for (const line of creates) {
        expect(line).toContain(`--net ${project}_backend`);
        expect(line).not.toMatch(/--network host|docker\.sock|\$\{/);
      }
      const { services } = await compose();
      const image = withDefaults(services.dbops!.image!);
      expect(creates.filter((l) => l.includes(` ${image} `) || l.endsWith(` ${image}`))).toHaveLength(DBOPS_SERVICES.length);
    });
  });
});
