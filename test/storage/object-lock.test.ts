// Object Lock in the S3 driver, through the real SDK client against s3rver behind an
// Object Lock emulator (test/helpers/object-lock-proxy.ts) that records every request:
// what uploads carry (mode, retain-until, Content-MD5), version-by-version deletes that a
// retained version refuses, retention that only ever grows, legal hold, the bucket check;
// and that a file:// repository refuses storage.objectLock as a one-line config error.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ObjectLockedError, StorageError, UsageError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load-config.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { objectLockOptions } from '../../src/storage/object-lock.js';
import type { Storage } from '../../src/storage/storage.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startObjectLockProxy, type ObjectLockProxy } from '../helpers/object-lock-proxy.js';
import { runCli } from '../helpers/cli.js';

const MiB = 1024 * 1024;
const DAY = 86_400_000;
let s3: S3TestServer;
let proxy: ObjectLockProxy;
let prefix: string;

beforeAll(async () => {
  s3 = await startS3Server();
  proxy = await startObjectLockProxy(s3);
});

afterAll(async () => {
  await proxy?.close();
  await s3?.cleanup();
});

beforeEach(() => {
  prefix = `lock-${randomBytes(4).toString('hex')}`;
  proxy.lockEnabled = true;
  proxy.denyDelete = undefined;
});

const locked = (mode: 'governance' | 'compliance' = 'compliance', periodMs = 8 * DAY): Promise<Storage> =>
  openStorage(proxy.url(prefix), { objectLock: { mode, uploadPeriodMs: periodMs }, s3: { partSize: 5 * MiB }, retry: { attempts: 1 } });
const sent = (key: string) => proxy.requests.filter((r) => r.key === `${prefix}/${key}`);

describe('uploads with Object Lock', () => {
  it('PutObject carries the mode, retain-until = upload + pitrWindow + margin, and Content-MD5', async () => {
    const storage = await locked('compliance', 8 * DAY);
    const before = Date.now();
    await storage.put('backups/a/manifest.json', Buffer.from('{"x":1}'));
    const after = Date.now();
    const [put] = sent('backups/a/manifest.json').filter((r) => r.method === 'PUT');
    expect(put).toMatchObject({ lockMode: 'COMPLIANCE', contentMd5: true, checksum: false, status: 200 });
    const until = Date.parse(put!.retainUntil!);
    expect(until).toBeGreaterThanOrEqual(before + 8 * DAY - 1000);
    expect(until).toBeLessThanOrEqual(after + 8 * DAY + 1000);
    expect(proxy.versions(`${prefix}/backups/a/manifest.json`)[0]).toMatchObject({ mode: 'COMPLIANCE' });
  });

  it('a streamed multipart upload locks at CreateMultipartUpload and sends Content-MD5 with every part', async () => {
    const storage = await locked('governance');
    const body = randomBytes(12 * MiB + 123);
    await storage.put('backups/a/parts/big.sql.zst.age', Readable.from([body.subarray(0, 7 * MiB), body.subarray(7 * MiB)]));
    const reqs = sent('backups/a/parts/big.sql.zst.age');
    const create = reqs.find((r) => r.method === 'POST' && r.query.includes('uploads'))!;
    expect(create).toMatchObject({ lockMode: 'GOVERNANCE', status: 200 });
    expect(Date.parse(create.retainUntil!)).toBeGreaterThan(Date.now() + 8 * DAY - 60_000);
    const parts = reqs.filter((r) => r.method === 'PUT' && r.query.includes('partNumber'));
    expect(parts).toHaveLength(3);
    expect(parts.every((p) => p.contentMd5 && p.status === 200)).toBe(true);
    expect((await storage.getBuffer('backups/a/parts/big.sql.zst.age')).equals(body)).toBe(true);
    expect(proxy.versions(`${prefix}/backups/a/parts/big.sql.zst.age`)[0]).toMatchObject({ mode: 'GOVERNANCE' });
  });

  it('the emulator refuses lock parameters without Content-MD5, as S3 does (so the check above means something)', async () => {
    const res = await fetch(`${proxy.endpoint}/${s3.bucket}/${prefix}/raw`, {
      method: 'PUT',
      body: 'x',
      headers: { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': new Date(Date.now() + DAY).toISOString() },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/Content-MD5 OR x-amz-checksum- HTTP header is required/);
  });

  it('unlocked puts and repositories without objectLock send no lock headers and no Content-MD5', async () => {
    await (await locked()).put('binlogs/x/state/shipper.json', Buffer.from('{}'), { unlocked: true });
    expect(sent('binlogs/x/state/shipper.json')[0]).toMatchObject({ method: 'PUT', contentMd5: true });
    expect(sent('binlogs/x/state/shipper.json')[0]!.lockMode).toBeUndefined();
    const plain = await openStorage(proxy.url(prefix));
    expect(plain.lock).toBeUndefined();
    await plain.put('plain', Buffer.from('p'));
    expect(sent('plain')[0]).toMatchObject({ method: 'PUT', contentMd5: false, checksum: false });
    expect(sent('plain')[0]!.lockMode).toBeUndefined();
  });

  it('an upload to a bucket without Object Lock fails once, permanently, with the fix', async () => {
    proxy.lockEnabled = false;
    const err = await (await locked()).put('repo.json', Buffer.from('{}')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).permanent).toBe(true);
    expect((err as Error).message).toMatch(/InvalidRequest: Bucket is missing Object Lock Configuration; use a bucket with Object Lock: .*mc mb --with-lock/);
    expect(await (await locked()).lock!.bucketState()).toMatchObject({ enabled: false, detail: expect.stringMatching(/has no Object Lock configuration \(ObjectLockConfigurationNotFoundError\)/) });
  });
});

describe('deletes, retention and legal hold', () => {
  it('a retained object is not deleted: ObjectLockedError with its date, every byte still there; after the date it goes, every version', async () => {
    const storage = await locked();
    await storage.put('backups/b/manifest.json', Buffer.from('manifest'));
    const err = await storage.remove('backups/b/manifest.json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectLockedError);
    expect(err).toMatchObject({ confirmed: true, legalHold: false, permanent: true });
    expect((err as ObjectLockedError).retainUntil!.getTime()).toBeGreaterThan(Date.now() + 7 * DAY);
    expect((err as Error).message).toMatch(/is under Object Lock \(compliance until .*\): it cannot be deleted before then/);
    expect((await storage.getBuffer('backups/b/manifest.json')).toString()).toBe('manifest');
    // Only versioned deletes: nothing hidden behind a delete marker.
    expect(sent('backups/b/manifest.json').filter((r) => r.method === 'DELETE').every((r) => r.query.includes('versionId'))).toBe(true);

    expect(proxy.expire((k) => k === `${prefix}/backups/b/manifest.json`)).toBe(1);
    await storage.remove('backups/b/manifest.json');
    expect(await storage.stat('backups/b/manifest.json')).toBeUndefined();
    expect(proxy.versions(`${prefix}/backups/b/manifest.json`)).toEqual([]);
    await storage.remove('backups/b/manifest.json'); // absent: not an error
  });

  it('a 403 on delete with no readable retention is treated as locked (unconfirmed), and the object stays', async () => {
    const storage = await locked();
    await storage.put('debris/x', Buffer.from('x'), { unlocked: true });
    proxy.denyDelete = (k) => k.endsWith('/debris/x');
    const err = await storage.remove('debris/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectLockedError);
    expect(err).toMatchObject({ confirmed: false, retainUntil: undefined });
    expect((err as Error).message).toMatch(/delete refused \(AccessDenied\) and no retention is readable: treated as still locked; .*s3:DeleteObjectVersion/);
    expect(await storage.stat('debris/x')).toBeDefined();
  });

  it('retention only grows: extend raises it, an earlier date is a no-op, compliance cannot be moved back', async () => {
    const storage = await locked('compliance', DAY);
    await storage.put('backups/c/parts/1', Buffer.from('1'));
    const later = new Date(Date.now() + 40 * DAY);
    await storage.lock!.extendRetention('backups/c/parts/1', later);
    expect((await storage.lock!.retention('backups/c/parts/1'))).toMatchObject({ mode: 'compliance', retainUntil: later, legalHold: false });
    await storage.lock!.extendRetention('backups/c/parts/1', new Date(Date.now() + 2 * DAY));
    expect((await storage.lock!.retention('backups/c/parts/1'))!.retainUntil).toEqual(later);
    const shortening = proxy.requests.filter((r) => r.key === `${prefix}/backups/c/parts/1` && r.query.includes('retention'));
    expect(shortening.map((r) => r.status)).toEqual([200, 403]);
    expect(shortening.every((r) => !r.bypassGovernance)).toBe(true);
    expect(await storage.lock!.retention('backups/c/parts/none')).toBeUndefined();
  });

  it('a legal hold outlasts retention until it is lifted', async () => {
    const storage = await locked('governance', DAY);
    await storage.put('backups/d/manifest.json', Buffer.from('d'));
    await storage.lock!.setLegalHold('backups/d/manifest.json', true);
    proxy.expire((k) => k.startsWith(`${prefix}/backups/d/`));
    const err = await storage.remove('backups/d/manifest.json').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ObjectLockedError', legalHold: true, confirmed: true });
    await storage.lock!.setLegalHold('backups/d/manifest.json', false);
    await storage.remove('backups/d/manifest.json');
    expect(await storage.stat('backups/d/manifest.json')).toBeUndefined();
  });

  it('reads the bucket configuration; a store without Object Lock (plain s3rver) says so', async () => {
    expect(await (await locked()).lock!.bucketState()).toMatchObject({ enabled: true, detail: `bucket ${s3.bucket} has Object Lock enabled, no default retention` });
    const direct = await openStorage(s3.url(prefix), { objectLock: { mode: 'governance', uploadPeriodMs: DAY } });
    expect(await direct.lock!.bucketState()).toMatchObject({ enabled: false, detail: expect.stringMatching(/the store does not implement Object Lock \(501\)/) });
  });
});

describe('storage.objectLock on a file:// repository', () => {
  it('is a configuration error naming the key (library and CLI: one line, exit 2)', async () => {
    const env = { DBOPS_STORAGE_URL: 'file:///tmp/dbops-lock-test', DBOPS_STORAGE_OBJECT_LOCK: 'compliance' };
    const err = await loadConfig({ env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      'config key storage.objectLock (env DBOPS_STORAGE_OBJECT_LOCK): storage.objectLock needs an s3:// repository (a file:// directory cannot lock objects): unset storage.objectLock or use an S3 bucket with Object Lock',
    );
    await expect(openStorage('file:///tmp/dbops-lock-test', { objectLock: { mode: 'governance', uploadPeriodMs: DAY } })).rejects.toThrow(UsageError);
    const cli = await runCli(['list'], env);
    expect(cli.exitCode).toBe(2);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/storage\.objectLock needs an s3:\/\/ repository/);
  });

  it('the upload period is pitrWindow + objectLockMargin', async () => {
    const config = await loadConfig({ env: { DBOPS_STORAGE_URL: 's3://b/p', DBOPS_STORAGE_OBJECT_LOCK: 'governance', DBOPS_RETENTION_PITR_WINDOW: '3d', DBOPS_STORAGE_OBJECT_LOCK_MARGIN: '12h' } });
    expect(objectLockOptions(config)).toEqual({ mode: 'governance', uploadPeriodMs: 3.5 * DAY });
    expect(objectLockOptions(await loadConfig({ env: { DBOPS_STORAGE_URL: 's3://b/p' } }))).toBeUndefined();
  });
});
