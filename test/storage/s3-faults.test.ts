// Faults only a real S3 endpoint shows: the server dying mid-upload, errors that must
// never be retried (a missing bucket, an unknown access key), and recovery by retry.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { withRetry } from '../../src/storage/retry.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startS3FaultProxy, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { createHash } from 'node:crypto';

const MiB = 1024 * 1024;
let s3: S3TestServer;

beforeAll(async () => {
  s3 = await startS3Server();
});

afterAll(async () => {
  await s3?.cleanup();
});

function countCommands(storage: S3Storage): string[] {
  const seen: string[] = [];
  storage.client.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'dbopsTestCounter' },
  );
  return seen;
}

describe('S3 driver faults', () => {
  it('rejects a streamed put with a clear StorageError when the server dies mid-upload', async () => {
    const storage = await openStorage(s3.url('faults'), { retry: { attempts: 3, baseDelayMs: 50 }, s3: { partSize: 5 * MiB } });
    let sent = 0;
    let killed: Promise<void> | undefined;
    const source = new Readable({
      read() {
        // After the first part has left, kill the server; keep producing until the put gives up.
        if (sent >= 6 * MiB && !killed) killed = s3.stop();
        if (sent >= 200 * MiB) return void this.push(null);
        sent += MiB;
        setTimeout(() => this.push(randomBytes(MiB)), 5);
      },
    });
    const started = Date.now();
    try {
      const err = await storage.put('backups/z/parts/big', source).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).permanent).toBe(false);
      expect((err as StorageError).message).toMatch(/^s3 put .*s3:\/\/dbops-test\/faults\/backups\/z\/parts\/big failed: .*(ECONNREFUSED|ECONNRESET|socket hang up|EPIPE)/);
      expect(Date.now() - started).toBeLessThan(30_000);
      // The stream was not re-read from the start: it stopped well before its end.
      expect(sent).toBeLessThan(200 * MiB);
      expect(source.destroyed).toBe(true);
    } finally {
      await killed;
      await s3.restart();
    }
    expect(await storage.stat('backups/z/parts/big')).toBeUndefined();
  });

  it('retries a Buffer put until a restarted server answers', async () => {
    const storage = await openStorage(s3.url('faults'), { retry: { attempts: 8, baseDelayMs: 300 } });
    await s3.stop();
    const restarting = new Promise((resolve) => setTimeout(resolve, 400)).then(() => s3.restart());
    try {
      await storage.put('repo.json', Buffer.from('{"format":1}'));
    } finally {
      await restarting;
    }
    expect((await storage.getBuffer('repo.json')).toString()).toBe('{"format":1}');
  });

  it('does not retry a missing bucket (permanent)', async () => {
    const raw = new S3Storage({ bucket: 'no-such-bucket', endpoint: s3.endpoint, retry: { attempts: 5 } });
    const seen = countCommands(raw);
    const storage = withRetry(raw, { attempts: 5, baseDelayMs: 1000 });
    const started = Date.now();
    const err = await storage.put('repo.json', Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).permanent).toBe(true);
    expect((err as StorageError).message).toMatch(/NoSuchBucket.*create the bucket or fix the storage URL/);
    expect(seen).toEqual(['PutObjectCommand']);
    expect(((err as StorageError).cause as { $metadata: { attempts: number } }).$metadata.attempts).toBe(1);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('does not retry an unknown access key (permanent), and keeps the secret out of the message', async () => {
    const raw = new S3Storage({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      retry: { attempts: 5 },
      credentials: { accessKeyId: 'AKIANOTKNOWN', secretAccessKey: 'super-secret-value' },
    });
    const seen = countCommands(raw);
    const storage = withRetry(raw, { attempts: 5, baseDelayMs: 1000 });
    const err = await storage.getBuffer('repo.json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).permanent).toBe(true);
    expect((err as StorageError).message).toMatch(/InvalidAccessKeyId/);
    expect((err as StorageError).message).not.toContain('super-secret-value');
    expect(seen).toEqual(['GetObjectCommand']);
  });

  it('fails a streamed put to a missing bucket once, without retrying the stream', async () => {
    const storage = await openStorage(`s3://no-such-bucket/p?endpoint=${encodeURIComponent(s3.endpoint)}`, { retry: { attempts: 5, baseDelayMs: 1000 }, s3: { partSize: 5 * MiB } });
    const started = Date.now();
    const err = await storage.put('big', Readable.from([randomBytes(6 * MiB)])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).permanent).toBe(true);
    expect(Date.now() - started).toBeLessThan(900);
  });
});

describe('S3 outages and error answers (a proxy in front of the server)', () => {
  let proxy: S3FaultProxy;
  beforeAll(async () => {
    proxy = await startS3FaultProxy(s3);
  });
  afterAll(async () => proxy?.close());

  /** A stream of `parts` MiB of random bytes that calls `at(mib)` after each MiB it hands out. */
  function randomStream(mib: number, at: (sent: number) => void): { stream: Readable; sha256: () => string } {
    const hash = createHash('sha256');
    let sent = 0;
    const stream = new Readable({
      read() {
        if (sent >= mib) return void this.push(null);
        const chunk = randomBytes(MiB);
        hash.update(chunk);
        sent += 1;
        at(sent);
        setTimeout(() => this.push(chunk), 5);
      },
    });
    return { stream, sha256: () => hash.digest('hex') };
  }

  it('a streamed put outlasts a 2 s outage between its parts with the default retries', async () => {
    const storage = await openStorage(proxy.url('outage'), { s3: { partSize: 5 * MiB } });
    let outage: Promise<void> | undefined;
    const src = randomStream(16, (sent) => {
      // After the first part has left: the endpoint goes away for 2 s.
      if (sent === 7 && !outage) outage = proxy.down().then(() => new Promise((r) => setTimeout(r, 2000))).then(() => proxy.up());
    });
    await storage.put('backups/o/parts/big', src.stream);
    await outage;
    const back = await storage.getBuffer('backups/o/parts/big');
    expect(createHash('sha256').update(back).digest('hex')).toBe(src.sha256());
  });

  it('retries 503 SlowDown and 500 InternalError answers, for whole objects and parts alike', async () => {
    const storage = await openStorage(proxy.url('errors'), { s3: { partSize: 5 * MiB } });
    const failedBefore = proxy.counts.failed;
    proxy.fail({ status: 503, times: 2, match: (r) => r.method === 'PUT' });
    await storage.put('repo.json', Buffer.from('{"format":1}'));
    proxy.fail({ status: 500, times: 2, match: (r) => r.method === 'PUT' && /partNumber=2/.test(r.url ?? '') });
    const src = randomStream(11, () => undefined);
    await storage.put('backups/e/parts/p', src.stream);
    expect(proxy.counts.failed - failedBefore).toBe(4);
    expect((await storage.getBuffer('repo.json')).toString()).toBe('{"format":1}');
    expect(createHash('sha256').update(await storage.getBuffer('backups/e/parts/p')).digest('hex')).toBe(src.sha256());
  });

  it('slow answers only slow it down', async () => {
    const storage = await openStorage(proxy.url('slow'));
    proxy.delayMs = 400;
    try {
      await storage.put('a', Buffer.from('slow'));
      expect((await storage.getBuffer('a')).toString()).toBe('slow');
    } finally {
      proxy.delayMs = 0;
    }
  });

  it('an outage longer than the budget fails with a clear error, and what follows fails at once instead of waiting again', async () => {
    const storage = await openStorage(proxy.url('long'), { retry: { budgetMs: 2000 } });
    await proxy.down();
    try {
      const err = await storage.put('x', Buffer.from('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).permanent).toBe(false);
      expect((err as StorageError).message).toMatch(/ECONNREFUSED.*\(after \d+ attempts over \d+ s\)/);
      expect(((err as StorageError).cause as { $metadata: { attempts: number } }).$metadata.attempts).toBeGreaterThan(1);
      const next = await storage.remove('x').catch((e: unknown) => e);
      expect(next).toBeInstanceOf(StorageError);
      // One try, no backoff: the endpoint is known to be down.
      expect(((next as StorageError).cause as { $metadata: { attempts: number } }).$metadata.attempts).toBe(1);
    } finally {
      await proxy.up();
    }
    await storage.put('x', Buffer.from('back'));
    expect((await storage.getBuffer('x')).toString()).toBe('back');
  });
});
