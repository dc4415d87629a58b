// Bad input: every case is one line on stderr that says what to do, exit 2, and
// nothing written anywhere.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, writeFile, chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mariadb } from '../helpers/mariadb.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: { dir: string; url: string };
let env: Record<string, string>;
/** Scratch files of the cases below, removed after them. */
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dbops-bad-input-'));
  keys = await makeKeys();
  repo = await tempRepoUrl();
  env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function expectUsageError(args: string[], extraEnv: Record<string, string | undefined>, pattern: RegExp, cwd?: string): Promise<void> {
  const before = await readdir(repo.dir, { recursive: true });
  const r = await runCli(args, { ...env, ...extraEnv }, cwd);
  expect(r.exitCode, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
  expect(lines.length, r.stderr).toBe(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).toBe('');
  expect(await readdir(repo.dir, { recursive: true })).toEqual(before);
}

describe('bad input is refused with exit 2 and one line', () => {
  it('malformed storage URL', () => expectUsageError(['list'], { DBOPS_STORAGE_URL: 'ftp://nowhere' }, /storage URL .* (s3|file):/));
  it('malformed source URL', () => expectUsageError(['backup'], { DBOPS_SOURCE_URL: 'mysql//nohost' }, /source|URL/i));
  it('source URL with a password is never echoed', async () => {
    const r = await runCli(['backup'], { ...env, DBOPS_SOURCE_URL: 'mysql://u:Sup3rS3cret@host:notaport' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).not.toContain('Sup3rS3cret');
  });
  it('missing recipients at init (later commands use repo.json\'s)', () => expectUsageError(['init'], { DBOPS_AGE_RECIPIENTS: undefined, DBOPS_STORAGE_URL: `${repo.url}-other` }, /no age recipients configured/));
  it('missing signing key', () => expectUsageError(['backup'], { DBOPS_SIGNING_KEY_FILE: undefined }, /no signing key configured/));
  it('unreadable key file', async () => {
    await expectUsageError(['backup'], { DBOPS_SIGNING_KEY_FILE: join(scratch, 'missing.key') }, /cannot read signing key file .*ENOENT/);
  });
  it('a key file that is not a key', async () => {
    await writeFile(join(scratch, 'x.key'), 'hello');
    await chmod(join(scratch, 'x.key'), 0o600);
    await expectUsageError(['backup'], { DBOPS_SIGNING_KEY_FILE: join(scratch, 'x.key') }, /not a PEM private key/);
  });
  it('unknown config key in dbops.yaml', async () => {
    await writeFile(join(scratch, 'dbops.yaml'), 'storage:\n  url: file:///tmp/x\n  bucket: nope\n');
    const r = await runCli(['--config', join(scratch, 'dbops.yaml'), 'list'], { ...env, DBOPS_STORAGE_URL: undefined });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown config key storage\.bucket/);
  });
  it('unknown DBOPS_ environment variable', () => expectUsageError(['list'], { DBOPS_STORGE_URL: 'file:///tmp' }, /unknown environment variable DBOPS_STORGE_URL/));
  it('restore of an id that does not exist', () =>
    expectUsageError(['restore', '20200101T000000Z-nothere', '--target', mariadb().url], {}, /backup 20200101T000000Z-nothere does not exist.*dbops list/));
  it('restore without a target', () => expectUsageError(['restore', 'latest'], {}, /missing restore\.targetUrl/));
  it('an unknown option', () => expectUsageError(['backup', '--frobnicate'], {}, /unknown option '--frobnicate'/));
  it('init over an existing repository', () => expectUsageError(['init'], {}, /already exists.*refusing to overwrite/));
  it('a database that does not exist', () => expectUsageError(['backup', '--databases', 'no_such_db'], {}, /database "no_such_db" does not exist on the source/));
});
