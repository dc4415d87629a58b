// A segmented put (a backup part, which may be any size) goes to S3 as a run of objects of
// at most `maxPartsPerObject` parts each, so its part buffers stay small whatever the size.
// s3rver is the store; objects of two 5 MiB parts stand in for S3's 10,000 parts.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { readSegments } from '../../src/storage/segments.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;
let s3: S3TestServer;

beforeAll(async () => {
  s3 = await startS3Server();
});

afterAll(async () => {
  await s3?.cleanup();
});

function storageWithSmallObjects(): { storage: S3Storage; partSizes: number[] } {
  const storage = new S3Storage({ bucket: s3.bucket, prefix: `seg-${randomBytes(4).toString('hex')}`, endpoint: s3.endpoint, region: 'us-east-1', partSize: 5 * MiB, maxPartsPerObject: 2, retry: { attempts: 2 } });
  const partSizes: number[] = [];
  storage.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UploadPartCommand') partSizes.push((args.input as { ContentLength: number }).ContentLength);
      return next(args);
    },
    { step: 'initialize', name: 'dbopsTestRecorder' },
  );
  return { storage, partSizes };
}

function source(bytes: Buffer, failAfter?: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && offset >= failAfter) return void this.destroy(new Error('source failed midway'));
      if (offset >= bytes.length) return void this.push(null);
      const end = Math.min(bytes.length, offset + 256 * 1024);
      this.push(bytes.subarray(offset, end));
      offset = end;
    },
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function keys(storage: S3Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  // s3rver lists by its own file names, not by key as S3 does.
  return out.sort();
}

describe('segmented puts to S3', () => {
  it('continue in a next object once one holds its parts, and read back whole in order', async () => {
    const { storage, partSizes } = storageWithSmallObjects();
    const bytes = randomBytes(23 * MiB + 777);
    const res = await storage.put('backups/b/parts/00001.xbstream.zst.age', source(bytes), { segmented: true });
    expect(res.size).toBe(bytes.length);
    expect(res.segments).toEqual([
      { key: 'backups/b/parts/00001.xbstream.zst.age', size: 10 * MiB },
      { key: 'backups/b/parts/00001.xbstream.zst.age.00002', size: 10 * MiB },
      { key: 'backups/b/parts/00001.xbstream.zst.age.00003', size: 3 * MiB + 777 },
    ]);
    expect(await keys(storage, 'backups/b/')).toEqual(res.segments!.map((s) => s.key));
    expect(partSizes.every((n) => n <= 5 * MiB)).toBe(true);
    expect((await readAll(await readSegments(storage, res.segments!.map((s) => s.key)))).equals(bytes)).toBe(true);
  });

  it('that end exactly on an object boundary make no empty object', async () => {
    const { storage } = storageWithSmallObjects();
    const bytes = randomBytes(20 * MiB);
    const res = await storage.put('backups/e/parts/00001.sql.zst.age', source(bytes), { segmented: true });
    expect(res.segments?.map((s) => s.size)).toEqual([10 * MiB, 10 * MiB]);
    expect(await keys(storage, 'backups/e/')).toHaveLength(2);
  });

  it('that fit one object are one object, as an unsegmented put', async () => {
    const { storage } = storageWithSmallObjects();
    const bytes = randomBytes(7 * MiB);
    const res = await storage.put('backups/o/parts/00001.sql.zst.age', source(bytes), { segmented: true });
    expect(res.segments).toBeUndefined();
    expect((await storage.getBuffer('backups/o/parts/00001.sql.zst.age')).equals(bytes)).toBe(true);
  });

  it('leave no object behind when the stream fails after an object was completed', async () => {
    const { storage } = storageWithSmallObjects();
    const bytes = randomBytes(30 * MiB);
    await expect(storage.put('backups/f/parts/00001.xbstream.zst.age', source(bytes, 24 * MiB), { segmented: true })).rejects.toThrow(/source failed midway/);
    expect(await keys(storage, 'backups/f/')).toEqual([]);
  });

  it('without the option still fail past the object limit rather than split what no reader would join', async () => {
    const { storage } = storageWithSmallObjects();
    await expect(storage.put('binlogs/x/f.zst.age', source(randomBytes(11 * MiB)))).rejects.toThrow(/exceeds 2 parts/);
    expect(await keys(storage, 'binlogs/x/')).toEqual([]);
  });

  it('read back as a missing-object error naming the segment that is gone', async () => {
    const { storage } = storageWithSmallObjects();
    const res = await storage.put('backups/m/parts/00001.xbstream.zst.age', source(randomBytes(21 * MiB)), { segmented: true });
    await storage.remove(res.segments![1]!.key);
    await expect(readSegments(storage, res.segments!.map((s) => s.key))).rejects.toThrow(/00001\.xbstream\.zst\.age\.00002/);
  });
});
