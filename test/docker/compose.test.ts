// compose.yaml and docker/dbops.example.yaml are checked without a Docker engine (none
// runs here): the dbops config the stack mounts, with the environment compose gives it,
// must load through the real config loader (unknown keys and DBOPS_* variables are
// errors), and every file the stack bind-mounts from the checkout must exist.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

interface Service {
  environment?: Record<string, string>;
  volumes?: string[];
  command?: string[] | string;
  depends_on?: Record<string, { condition: string }> | string[];
  network_mode?: string;
  user?: string;
}

async function compose(): Promise<{ services: Record<string, Service> }> {
  return parse(await readFile(join(REPO_ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
}

/** Compose's ${NAME:-default} interpolation with nothing set: the defaults. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

/** Compose's ${NAME:-default} and ${NAME:+replacement} with the given .env values. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value
    .replace(/\$\{([A-Z_]+):-([^}]*)\}/g, (_, name: string, d: string) => vars[name] || d)
    .replace(/\$\{([A-Z_]+):\+([^}]*)\}/g, (_, name: string, r: string) => (vars[name] ? r : ''));
}

describe('compose.yaml', () => {
  it('runs the daemon after keys, the bucket and a first backup', async () => {
    const { services } = await compose();
    expect(Object.keys(services).sort()).toEqual(['dbops', 'first-backup', 'keys', 'minio', 'minio-bucket', 'mysql']);
    expect(services.dbops!.command).toEqual(['daemon']);
    expect(services.dbops!.depends_on).toMatchObject({ 'first-backup': { condition: 'service_completed_successfully' }, keys: { condition: 'service_completed_successfully' } });
    expect(services['first-backup']!.depends_on).toMatchObject({ mysql: { condition: 'service_healthy' } });
    expect(services.keys!.depends_on).toMatchObject({ 'minio-bucket': { condition: 'service_completed_successfully' } });
    expect(services.mysql!.command).toEqual(expect.arrayContaining(['--gtid-mode=ON', '--enforce-gtid-consistency=ON', '--log-bin=binlog']));
  });

  it('gives the daemon a config the real loader accepts, listening on loopback', async () => {
    const { services } = await compose();
    const dbops = services.dbops!;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(dbops.environment ?? {})) env[k] = withDefaults(String(v));
    const mounted = (dbops.volumes ?? []).find((v) => v.endsWith(':/etc/dbops/dbops.yaml:ro'))!;
    expect(env.DBOPS_CONFIG).toBe('/etc/dbops/dbops.yaml');
    const config = await loadConfig({ file: join(REPO_ROOT, mounted.split(':')[0]!), env: { ...env, DBOPS_CONFIG: undefined } });
    expect(config.source.url).toBe('mysql://dbops:dbops-demo-password@127.0.0.1:13306');
    expect(config.storage.url).toBe('s3://dbops/horizn?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true');
    expect(config.daemon.listen).toBe('127.0.0.1:9187');
    expect(config.age.recipients).toEqual(['/keys/age.pub']);
    expect(config.sandbox.driver).toBe('container');
    // Host network: the sandbox port Docker publishes on the host's loopback is reachable.
    expect(dbops.network_mode).toBe('host');
  });

  it('turns Object Lock on from one .env setting: the bucket with --with-lock, dbops locking', async () => {
    const { services } = await compose();
    const bucketCommand = String(services['minio-bucket']!.command);
    expect(interpolate(bucketCommand, {})).toMatch(/mc mb --ignore-existing  local\/dbops/);
    expect(interpolate(bucketCommand, { DBOPS_STORAGE_OBJECT_LOCK: 'governance' })).toMatch(/mc mb --ignore-existing --with-lock local\/dbops/);
    const dbops = services.dbops!;
    const mounted = (dbops.volumes ?? []).find((v) => v.endsWith(':/etc/dbops/dbops.yaml:ro'))!;
    for (const [vars, mode] of [[{}, undefined], [{ DBOPS_STORAGE_OBJECT_LOCK: 'governance' }, 'governance']] as const) {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(dbops.environment ?? {})) env[k] = interpolate(String(v), vars);
      const config = await loadConfig({ file: join(REPO_ROOT, mounted.split(':')[0]!), env: { ...env, DBOPS_CONFIG: undefined } });
      expect(config.storage.objectLock).toBe(mode);
    }
  });

  it('bind-mounts only files that exist in the checkout', async () => {
    const { services } = await compose();
    const sources = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0]!)
      .filter((src) => src.startsWith('./'));
    expect(sources.length).toBeGreaterThan(1);
    for (const src of sources) expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
  });
});
