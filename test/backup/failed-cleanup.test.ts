// A failed backup whose clean-up fails too: with the S3 server gone, the parts already
// uploaded cannot be removed. The log must say so (how many, where, and that prune removes
// them), never "its parts were removed"; once the server is back, nothing is listed as a
// backup and `dbops prune --apply` removes what was left.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mariadb } from '../helpers/mariadb.js';
import { loadSakila } from '../helpers/fixtures.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
import { fakeBin, withPath } from '../helpers/fake-tools.js';
import { findTool } from '../../src/mysql/find-tool.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { openStorage } from '../../src/storage/open-storage.js';
import type { Storage } from '../../src/storage/storage.js';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let s3: S3TestServer;

beforeAll(async () => {
  await loadSakila(mariadb().url, 'sakila_cleanup');
  keys = await makeKeys();
  s3 = await startS3Server();
});
afterAll(async () => s3?.cleanup());

async function keysUnder(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

interface LogLine {
  msg: string;
  notRemoved?: number;
  prefix?: string;
}

describe('a failed backup that cannot remove its parts', () => {
  it('says what may be left and that prune removes it; prune does', async () => {
    const url = s3.url('cleanup');
    const env = { ...s3TestEnv, ...keys.env, DBOPS_STORAGE_URL: url, DBOPS_SOURCE_URL: mariadb().url };
    expect((await runCli(['init'], env)).exitCode).toBe(0);
    const storage = await openStorage(url);
    // The dump stops after its first 1.5 MB (more than one 1 MiB block the splitter reads)
    // until told to go on: once a part is stored,
    // the server goes away, then the dump goes on and the next upload fails.
    const go = join(await tempDir('dbops-go-'), 'go');
    const fake = await fakeBin('mariadb-dump', `#!/bin/sh\n"${findTool('mariadb-dump')}" "$@" | { dd bs=1500000 count=1 iflag=fullblock 2>/dev/null; while [ ! -e "${go}" ]; do sleep 0.1; done; cat; }\n`);
    const backup = startCli(['backup', '--databases', 'sakila_cleanup'], { ...env, PATH: withPath(fake) });
    // The server stops only once the parts stored before the pause are all there (the same
    // keys for a second): s3rver stopped in the middle of a put keeps an object without its
    // metadata and fails every listing after its restart, which real S3 never does.
    let stored: string[] = [];
    for (let i = 0, still = 0; i < 600 && (stored.length === 0 || still < 10); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await keysUnder(storage, 'backups/');
      still = now.length === stored.length ? still + 1 : 0;
      stored = now;
    }
    expect(stored.length, 'a part was stored before the pause ended').toBeGreaterThan(0);
    await s3.stop();
    await writeFile(go, '');
    const r = await backup;
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
    expect(lines.some((l) => /its parts were removed/.test(l.msg)), 'no claim of a clean slate').toBe(false);
    const said = lines.find((l) => /could not be removed/.test(l.msg));
    expect(said?.msg).toMatch(/may be left under backups\/\S+\/: it is not a backup, and "dbops prune --apply" removes them/);
    expect(said!.notRemoved).toBeGreaterThanOrEqual(stored.length);

    await s3.restart();
    const left = await keysUnder(storage, 'backups/');
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((k) => k.startsWith(said!.prefix!))).toBe(true);
    const list = await runCli(['list', '--json'], env);
    expect(JSON.parse(list.stdout).backups).toEqual([]);

    const pruned = await runCli(['prune', '--apply', '--json'], { ...env, DBOPS_RETENTION_GRACE_FOR_INCOMPLETE: '1s' });
    expect(pruned.exitCode, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).applied.debris).toEqual([said!.prefix!.replace(/^backups\/|\/$/g, '')]);
    expect(await keysUnder(storage, 'backups/')).toEqual([]);
  });
});
