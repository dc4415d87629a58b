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
    const storage = await openStorage(s3.url('faults'), { retry: { attempts: 3, baseDelayMs: 50 }, s3: { partSize: 5 * MiB, maxAttempts: 2 } });
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
    const storage = await openStorage(s3.url('faults'), { retry: { attempts: 8, baseDelayMs: 300 }, s3: { maxAttempts: 1 } });
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
    const raw = new S3Storage({ bucket: 'no-such-bucket', endpoint: s3.endpoint, maxAttempts: 5 });
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
      maxAttempts: 5,
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
