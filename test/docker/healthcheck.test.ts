// docker/healthcheck.mjs is the image's HEALTHCHECK: exit 0 only for a 2xx from /livez (liveness; /healthz is for alerting)
// at the address DBOPS_DAEMON_LISTEN names (a wildcard bind reached on loopback).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

const script = join(REPO_ROOT, 'docker/healthcheck.mjs');
let server: Server | undefined;

async function serve(status: number): Promise<number> {
  server = createServer((req, res) => {
    res.statusCode = req.url === '/livez' ? status : 404;
    res.end(status === 200 ? '{"ok":true}' : '{"ok":false}');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function check(listen: string): Promise<{ exitCode: number | undefined; stdout: string }> {
  const r = await execa(process.execPath, [script], { reject: false, env: { DBOPS_DAEMON_LISTEN: listen } });
  return { exitCode: r.exitCode, stdout: r.stdout };
}

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

describe('docker/healthcheck.mjs', () => {
  it('passes on 200 from /livez, reaching a 0.0.0.0 bind on loopback', async () => {
    const port = await serve(200);
    expect(await check(`0.0.0.0:${port}`)).toEqual({ exitCode: 0, stdout: '200 {"ok":true}' });
  });

  it('fails on 503 and when nothing listens', async () => {
    const port = await serve(503);
    expect((await check(`127.0.0.1:${port}`)).exitCode).toBe(1);
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const down = await check(`127.0.0.1:${port}`);
    expect(down.exitCode).toBe(1);
    expect(down.stdout).toMatch(/unreachable: ECONNREFUSED/);
  });
});
