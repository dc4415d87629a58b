// storage.objectLock in doctor and init, against s3rver behind the Object Lock emulator:
// doctor reports a bucket without Object Lock as blocking (with how to get one), a lock
// margin shorter than the backup interval as a warning, and keeps its probe unlocked;
// init refuses such a bucket before writing anything.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mariadb } from '../helpers/mariadb.js';
import { runCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startObjectLockProxy, type ObjectLockProxy } from '../helpers/object-lock-proxy.js';
import { loadConfig } from '../../src/config/load-config.js';
import { storageChecks } from '../../src/doctor/storage-checks.js';

let s3: S3TestServer;
let proxy: ObjectLockProxy;
let keys: Awaited<ReturnType<typeof makeKeys>>;

beforeAll(async () => {
  keys = await makeKeys();
  s3 = await startS3Server();
  proxy = await startObjectLockProxy(s3);
});

afterAll(async () => {
  await proxy?.close();
  await s3?.cleanup();
});

const lockEnv = (prefix: string, extra: Record<string, string> = {}): Record<string, string> => ({ ...keys.env, DBOPS_STORAGE_URL: proxy.url(prefix), DBOPS_STORAGE_OBJECT_LOCK: 'governance', ...extra });

describe('doctor with storage.objectLock', () => {
  it('passes a bucket with Object Lock, and writes and removes its probe unlocked', async () => {
    proxy.lockEnabled = true;
    const { checks } = await storageChecks(await loadConfig({ env: lockEnv('doc-ok') }));
    const by = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(by['storage.reachable']).toMatchObject({ status: 'ok' });
    expect(by['storage.objectLock']).toMatchObject({ status: 'ok', title: 'Object Lock (governance)', detail: expect.stringMatching(/has Object Lock enabled, no default retention; objects are locked for 8d .* at upload/) });
    expect(by['storage.objectLockMargin']).toBeUndefined();
    const probe = proxy.requests.filter((r) => r.key?.startsWith('doc-ok/doctor/probe-'));
    expect(probe.find((r) => r.method === 'PUT')!.lockMode).toBeUndefined();
    expect(probe.filter((r) => r.method === 'DELETE').every((r) => r.query.includes('versionId') && r.status === 204)).toBe(true);
    expect(proxy.keys('doc-ok/')).toEqual([]);
  });

  it('blocks on a bucket without Object Lock (CLI exit 1, with the fix) and warns when the margin is shorter than the backup interval', async () => {
    proxy.lockEnabled = false;
    try {
      const { checks } = await storageChecks(await loadConfig({ env: lockEnv('doc-nolock', { DBOPS_SCHEDULE_BACKUP: '0 2 * * 0' }) }));
      const by = Object.fromEntries(checks.map((c) => [c.id, c]));
      expect(by['storage.objectLock']).toMatchObject({
        status: 'fail',
        detail: `storage.objectLock is governance, but bucket ${s3.bucket} has no Object Lock configuration (ObjectLockConfigurationNotFoundError): every upload would be refused`,
        fix: expect.stringMatching(/mc mb --with-lock/),
      });
      expect(by['storage.objectLockMargin']).toMatchObject({ status: 'warn', detail: expect.stringMatching(/objectLockMargin 1d is shorter than the interval between full backups \(7d from schedule.backup\)/), fix: 'set DBOPS_STORAGE_OBJECT_LOCK_MARGIN=7d (or more)' });

      const cli = await runCli(['doctor', '--json'], lockEnv('doc-nolock', { DBOPS_SOURCE_URL: mariadb().url }));
      expect(cli.exitCode, cli.stderr).toBe(1);
      const result = JSON.parse(cli.stdout) as { ok: boolean; checks: Array<{ id: string; status: string; fix?: string }> };
      expect(result.ok).toBe(false);
      expect(result.checks.find((c) => c.id === 'storage.objectLock')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/--object-lock-enabled-for-bucket/) });
      // No credential reaches the output (the test key id and secret are both "S3RVER").
      expect(cli.stdout + cli.stderr).not.toMatch(/S3RVER/);
    } finally {
      proxy.lockEnabled = true;
    }
  });
});

describe('init with storage.objectLock', () => {
  it('refuses a bucket without Object Lock before writing anything (exit 2), and locks repo.json on one with it', async () => {
    proxy.lockEnabled = false;
    try {
      const refused = await runCli(['init'], lockEnv('init-nolock'));
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toMatch(new RegExp(`storage.objectLock is governance, but bucket ${s3.bucket} has no Object Lock configuration .*: use a bucket with Object Lock: .*mc mb --with-lock`));
      expect(proxy.keys('init-nolock/')).toEqual([]);
    } finally {
      proxy.lockEnabled = true;
    }
    const ok = await runCli(['init'], lockEnv('init-lock'));
    expect(ok.exitCode, ok.stderr).toBe(0);
    const put = proxy.requests.find((r) => r.key === 'init-lock/repo.json' && r.method === 'PUT')!;
    expect(put).toMatchObject({ lockMode: 'GOVERNANCE', contentMd5: true, status: 200 });
  });
});
