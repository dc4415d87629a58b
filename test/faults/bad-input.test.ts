// Bad input: every case is one line on stderr that says what to do, exit 2, and
// nothing written anywhere (the repository listing is the same before and after).
// The cases run concurrently: each only reads.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, writeFile, chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { mariadb, freshDatabase } from '../helpers/mariadb.js';
import { runCli, makeKeys, tempRepoUrl } from '../helpers/cli.js';
import { withConnection } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';

let keys: Awaited<ReturnType<typeof makeKeys>>;
let repo: { dir: string; url: string };
let env: Record<string, string>;
let backupId: string;
/** Scratch files of the cases below, removed after them. */
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dbops-bad-input-'));
  keys = await makeKeys();
  repo = await tempRepoUrl();
  const db = await freshDatabase('bad_input');
  await withConnection(db.conn, async (c) => {
    await c.exec('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
    await c.exec("INSERT INTO t VALUES (1, 'one'), (2, 'two')");
  });
  env = { ...keys.env, DBOPS_STORAGE_URL: repo.url, DBOPS_SOURCE_URL: mariadb().url, DBOPS_SOURCE_DATABASES: 'bad_input' };
  expect((await runCli(['init'], env)).exitCode).toBe(0);
  const b = await runCli(['backup'], env);
  expect(b.exitCode, b.stderr).toBe(0);
  backupId = b.stdout.trim();
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const listing = async (dir: string): Promise<string[]> => (await readdir(dir, { recursive: true })).sort();

/** The one line a failed command printed (JSON log lines left out). */
function errorLines(stderr: string): string[] {
  return stderr.trim().split('\n').filter((l) => l && !l.startsWith('{'));
}

async function expectRefused(args: string[], extraEnv: Record<string, string | undefined>, pattern: RegExp, exitCode = 2): Promise<string> {
  const before = await listing(repo.dir);
  const r = await runCli(args, { ...env, ...extraEnv });
  expect(r.exitCode, r.stderr).toBe(exitCode);
  const lines = errorLines(r.stderr);
  expect(lines.length, r.stderr).toBe(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).toBe('');
  expect(await listing(repo.dir)).toEqual(before);
  return r.stderr;
}
const expectUsageError = (args: string[], extraEnv: Record<string, string | undefined>, pattern: RegExp): Promise<string> => expectRefused(args, extraEnv, pattern, 2);

/** A copy of a private key file with another mode. */
async function keyWithMode(file: string, mode: number): Promise<string> {
  const copy = join(await mkdtemp(join(scratch, 'key-')), file.split('/').pop()!);
  await copyFile(file, copy);
  await chmod(copy, mode);
  return copy;
}

describe.concurrent('bad input is refused with exit 2 and one line', () => {
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

  // Strict dates: a day the month does not have is an error, never the next month.
  it('pitr --to a 30th of February', () => expectUsageError(['pitr', '--to', '2026-02-30T10:00:00Z', '--dry-run'], {}, /--to "2026-02-30T10:00:00Z" is not a valid date.*February 2026 has 28 days/));
  it('pitr --to a 31st of November', () => expectUsageError(['pitr', '--to', '2026-11-31T10:00:00+01:00', '--dry-run'], {}, /--to "2026-11-31T10:00:00\+01:00" is not a valid date.*November 2026 has 30 days/));
  it('pitr --to hour 24', () => expectUsageError(['pitr', '--to', '2026-11-27T24:00:00Z', '--dry-run'], {}, /not a valid date and time.*hour 24/));
  it('pitr --to a zone offset of +25:00', () => expectUsageError(['pitr', '--to', '2026-11-27T10:00:00+25:00', '--dry-run'], {}, /not a valid date and time.*offset/));
  it('binlog find --since a 29th of February in a common year', () => expectUsageError(['binlog', 'find', '--since', '2027-02-29T00:00:00Z'], {}, /--since "2027-02-29T00:00:00Z" is not a valid date.*February 2027 has 28 days/));
  it('binlog find --until a 31st of April', () => expectUsageError(['binlog', 'find', '--until', '2026-04-31T00:00:00Z'], {}, /--until "2026-04-31T00:00:00Z" is not a valid date.*April 2026 has 30 days/));
  it('report list --since that is neither a duration nor a time', () => expectUsageError(['report', 'list', '--since', '2026-02-30T00:00:00Z'], {}, /--since "2026-02-30T00:00:00Z" is not a valid date/));
  it('partitions maintain --today a 31st of June', () => expectUsageError(['partitions', 'maintain', '--today', '2026-06-31'], {}, /--today 2026-06-31 is not a date; use YYYY-MM-DD/));

  // Booleans: true|false|1|0|yes|no from env and flags, typed booleans from the file.
  it('DBOPS_BACKUP_ACCOUNTS=maybe', () => expectUsageError(['backup'], { DBOPS_BACKUP_ACCOUNTS: 'maybe' }, /backup\.accounts \(env DBOPS_BACKUP_ACCOUNTS\).*true or false/));
  it('DBOPS_DAEMON_SHIP_BINLOGS=on (only true|false|1|0|yes|no)', () => expectUsageError(['list'], { DBOPS_DAEMON_SHIP_BINLOGS: 'on' }, /daemon\.shipBinlogs \(env DBOPS_DAEMON_SHIP_BINLOGS\).*true or false/));
  it('YAML accounts: "false" (a string, not a boolean)', async () => {
    const file = join(scratch, 'quoted-bool.yaml');
    await writeFile(file, 'backup:\n  accounts: "false"\n');
    await expectUsageError(['--config', file, 'backup'], {}, /config key backup\.accounts.*true or false/);
  });

  // Private keys readable by others are refused, as ssh refuses them.
  it('signing.key mode 0644 on backup', async () => {
    const key = await keyWithMode(keys.env.DBOPS_SIGNING_KEY_FILE!, 0o644);
    await expectUsageError(['backup'], { DBOPS_SIGNING_KEY_FILE: key }, /signing key file .*signing\.key is mode 0644: other users can read this private key; chmod 600 /);
  });
  it('signing.key mode 0640 (group-readable) on backup', async () => {
    const key = await keyWithMode(keys.env.DBOPS_SIGNING_KEY_FILE!, 0o640);
    await expectUsageError(['backup'], { DBOPS_SIGNING_KEY_FILE: key }, /is mode 0640: other users can read this private key/);
  });
  it('age.key mode 0666 on verify', async () => {
    const key = await keyWithMode(keys.env.DBOPS_AGE_IDENTITY_FILE!, 0o666);
    await expectUsageError(['verify', backupId], { DBOPS_AGE_IDENTITY_FILE: key }, /age identity file .*age\.key is mode 0666: other users can read this private key; chmod 600 /);
  });
  it('age.key mode 0644 on restore', async () => {
    const key = await keyWithMode(keys.env.DBOPS_AGE_IDENTITY_FILE!, 0o644);
    await expectUsageError(['restore', backupId, '--target', mariadb().url, '--table', 'bad_input.t', '--into-schema', 'bad_input_never'], { DBOPS_AGE_IDENTITY_FILE: key }, /is mode 0644/);
  });

  // A recipient whose bech32 checksum is wrong: refused before anything starts.
  it('an age1 recipient with a bad checksum', async () => {
    const good = (await execa('age-keygen')).stdout.match(/age1[0-9a-z]{58}/)![0];
    const bad = `${good.slice(0, -1)}${good.endsWith('q') ? 'p' : 'q'}`;
    const stderr = await expectUsageError(['backup'], { DBOPS_AGE_RECIPIENTS: bad }, /age recipient "age1.{8}…" is not a valid age public key \(invalid checksum\)/);
    expect(stderr).not.toContain('backup started');
  });

  // The daemon's listen address.
  it('DBOPS_DAEMON_LISTEN with port 99999', () => expectUsageError(['daemon'], { DBOPS_DAEMON_LISTEN: '127.0.0.1:99999' }, /daemon\.listen .*port 99999 is out of range/));
  it('DBOPS_DAEMON_LISTEN on a port in use: exit 1, "port in use", nothing started', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const stateFile = join(scratch, 'daemon-state.json');
    try {
      await expectRefused(['daemon'], { DBOPS_DAEMON_LISTEN: `127.0.0.1:${port}`, DBOPS_DAEMON_STATE_FILE: stateFile }, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: port in use`), 1);
    } finally {
      busy.close();
    }
    expect(existsSync(stateFile)).toBe(false);
  });
});

describe('a source without binary logging', () => {
  let server: SandboxServer;
  let nolog: { dir: string; url: string };
  let e: Record<string, string>;
  const PITR_OFF = /binary logging is off on the source/;

  beforeAll(async () => {
    server = await startSandboxServer({ binlog: false });
    await withConnection(parseConnectionUrl(server.url), async (c) => {
      await c.exec('CREATE DATABASE daily');
      await c.exec('CREATE TABLE daily.t (id INT PRIMARY KEY)');
      await c.exec('INSERT INTO daily.t VALUES (1), (2), (3)');
    });
    nolog = await tempRepoUrl();
    e = { ...keys.env, DBOPS_STORAGE_URL: nolog.url, DBOPS_SOURCE_URL: server.url };
    expect((await runCli(['init'], e)).exitCode).toBe(0);
  });
  afterAll(async () => server?.stop());

  it('is backed up without coordinates, with one warning that PITR is impossible; list and status show it', async () => {
    const b = await runCli(['backup', '--json'], e);
    expect(b.exitCode, b.stderr).toBe(0);
    const summary = JSON.parse(b.stdout) as { consistentPoint: { binlogFile: string | null }; warnings: string[] };
    expect(summary.consistentPoint.binlogFile).toBeNull();
    expect(summary.warnings.filter((w) => PITR_OFF.test(w))).toHaveLength(1);
    expect(b.stderr.split('\n').filter((l) => PITR_OFF.test(l))).toHaveLength(1);
    expect((await runCli(['verify', 'latest'], e)).exitCode).toBe(0);

    const list = await runCli(['list'], e);
    expect(list.stdout).toMatch(/point-in-time recovery impossible: binary logging is off on the source/);
    const listJson = JSON.parse((await runCli(['list', '--json'], e)).stdout) as { backups: Array<{ pointInTimeRecovery: boolean }> };
    expect(listJson.backups[0]!.pointInTimeRecovery).toBe(false);

    const status = await runCli(['status', '--json'], e);
    const facts = JSON.parse(status.stdout) as { backups: { newest: { pointInTimeRecovery: boolean } }; reasons: string[] };
    expect(facts.backups.newest.pointInTimeRecovery).toBe(false);
    expect(facts.reasons.join('\n')).toMatch(PITR_OFF);
    expect((await runCli(['status'], e)).stdout).toMatch(/point-in-time recovery impossible: binary logging is off on the source/);
  });

  it('binlog ship refuses with that reason (exit 2, nothing shipped)', async () => {
    const before = await listing(nolog.dir);
    const r = await runCli(['binlog', 'ship', '--once', '--spool-dir', join(scratch, 'spool')], e);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(PITR_OFF)]);
    expect(await listing(nolog.dir)).toEqual(before);
  });

  it('pitr refuses with that reason (exit 2)', async () => {
    const r = await runCli(['pitr', '--to', 'latest', '--dry-run'], e);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/point-in-time recovery is impossible: .*binary logging is off on the source/)]);
  });
});
