// One behaviour suite for every storage driver (restic's backend test suite): the
// file driver and the S3 driver against a real S3 protocol server must agree.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, StorageError, UsageError } from '../../src/errors.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;

interface Harness {
  storage: Storage;
  /** Commands the S3 client sent, with UploadPart sizes (S3 only). */
  commands: string[];
  partSizes: number[];
}

let s3: S3TestServer;
let fileRoot: string;

beforeAll(async () => {
  s3 = await startS3Server();
  fileRoot = await mkdtemp(path.join(tmpdir(), 'dbops-file-storage-'));
});

afterAll(async () => {
  await s3?.cleanup();
  if (fileRoot) await rm(fileRoot, { recursive: true, force: true });
});

function uniquePrefix(): string {
  return `t-${randomBytes(4).toString('hex')}`;
}

/** Observe what the real SDK client sends, without changing it. */
function record(storage: S3Storage, h: Harness): void {
  storage.client.middlewareStack.add(
    (next, context) => async (args) => {
      h.commands.push(context.commandName ?? '?');
      if (context.commandName === 'UploadPartCommand') h.partSizes.push((args.input as { ContentLength: number }).ContentLength);
      return next(args);
    },
    { step: 'initialize', name: 'dbopsTestRecorder' },
  );
}

const drivers: Array<{ name: string; make: () => Harness }> = [
  {
    name: 'file',
    make: () => {
      // A repository's directory exists (dbops init makes it): the driver does not make it again.
      const root = path.join(fileRoot, uniquePrefix());
      mkdirSync(root);
      return { storage: new FileStorage(root), commands: [], partSizes: [] };
    },
  },
  {
    name: 's3',
    make: () => {
      const raw = new S3Storage({ bucket: s3.bucket, prefix: uniquePrefix(), endpoint: s3.endpoint, region: 'us-east-1', partSize: 5 * MiB, pageSize: 2, retry: { attempts: 2 } });
      const h: Harness = { storage: raw, commands: [], partSizes: [] };
      record(raw, h);
      return h;
    },
  },
];

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Deterministic pseudo-random bytes in 64 KiB chunks, like a compressor's output. */
function chunkedSource(total: number, failAfter?: number): { stream: Readable; expected: Buffer } {
  const expected = Buffer.alloc(total);
  for (let i = 0; i < total; i += 4096) randomBytes(Math.min(4096, total - i)).copy(expected, i);
  let offset = 0;
  const stream = new Readable({
    read() {
      if (failAfter !== undefined && offset >= failAfter) {
        this.destroy(new Error('source failed midway'));
        return;
      }
      if (offset >= total) {
        this.push(null);
        return;
      }
      const end = Math.min(total, offset + 64 * 1024);
      this.push(expected.subarray(offset, end));
      offset = end;
    },
  });
  return { stream, expected };
}

async function keysOf(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of storage.list(prefix)) keys.push(info.key);
  return keys;
}

describe.each(drivers)('storage conformance: $name', ({ name, make }) => {
  let h: Harness;
  let storage: Storage;
  beforeEach(() => {
    h = make();
    storage = h.storage;
  });

  it('puts and gets a Buffer, overwrites, and reports its size', async () => {
    const res = await storage.put('repo.json', Buffer.from('{"v":1}'));
    expect(res).toEqual({ key: 'repo.json', size: 7 });
    expect((await storage.getBuffer('repo.json')).toString()).toBe('{"v":1}');
    await storage.put('repo.json', Buffer.from('{"v":22}'));
    expect((await readAll(await storage.get('repo.json'))).toString()).toBe('{"v":22}');
    const info = await storage.stat('repo.json');
    expect(info?.size).toBe(8);
    expect(Math.abs(info!.modified.getTime() - Date.now())).toBeLessThan(120_000);
  });

  it('stores an empty object', async () => {
    await storage.put('empty', Buffer.alloc(0));
    expect((await storage.getBuffer('empty')).length).toBe(0);
    expect((await storage.stat('empty'))?.size).toBe(0);
  });

  it('puts a small stream (below one part) and reads it back', async () => {
    const { stream, expected } = chunkedSource(300 * 1024);
    const res = await storage.put('backups/x/parts/small', stream);
    expect(res.size).toBe(expected.length);
    expect((await storage.getBuffer('backups/x/parts/small')).equals(expected)).toBe(true);
    if (name === 's3') {
      expect(h.commands).toContain('PutObjectCommand');
      expect(h.commands).not.toContain('CreateMultipartUploadCommand');
    }
  });

  it('puts a multi-part stream with an uneven last part', async () => {
    // Five parts: more than the two the driver keeps in flight.
    const total = 22 * MiB + 12345;
    const { stream, expected } = chunkedSource(total);
    const res = await storage.put('backups/x/parts/big', stream, { sizeHint: total });
    expect(res.size).toBe(total);
    const back = await readAll(await storage.get('backups/x/parts/big'));
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
    expect((await storage.stat('backups/x/parts/big'))?.size).toBe(total);
    if (name === 's3') {
      expect(h.partSizes).toEqual([5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 2 * MiB + 12345]);
      expect(h.commands.filter((c) => c === 'CompleteMultipartUploadCommand')).toHaveLength(1);
    }
  });

  it('keeps concurrent streamed puts apart, and a failed one spoils none of them or the next', async () => {
    // The S3 driver fills parts in buffers it reuses across its uploads (part-buffers.ts):
    // whichever buffer an upload gets, each object must hold exactly its own bytes.
    // 5 MiB ends exactly on a part boundary (S3 here uses 5 MiB parts).
    const sources = [12 * MiB + 1, 300 * 1024, 11 * MiB + 7, 5 * MiB].map((n) => chunkedSource(n));
    const broken = chunkedSource(20 * MiB, 7 * MiB);
    const results = await Promise.allSettled([...sources.map((s, i) => storage.put(`backups/c/parts/${i}`, s.stream)), storage.put('backups/c/parts/broken', broken.stream)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const after = chunkedSource(11 * MiB + 3);
    await storage.put('backups/c/parts/after', after.stream);
    for (const [i, s] of sources.entries()) expect((await storage.getBuffer(`backups/c/parts/${i}`)).equals(s.expected), `object ${i}`).toBe(true);
    expect((await storage.getBuffer('backups/c/parts/after')).equals(after.expected)).toBe(true);
    expect(await storage.stat('backups/c/parts/broken')).toBeUndefined();
  });

  it('reads byte ranges', async () => {
    const body = Buffer.from('0123456789abcdef');
    await storage.put('r', body);
    expect((await readAll(await storage.get('r', { start: 3, end: 6 }))).toString()).toBe('3456');
    expect((await readAll(await storage.get('r', { start: 10 }))).toString()).toBe('abcdef');
    expect((await readAll(await storage.get('r', { start: 0, end: 1 }))).toString()).toBe('01');
    // s3rver reads "bytes=0-0" as the whole object (it treats end 0 as absent); real S3 does not.
    if (name === 'file') expect((await readAll(await storage.get('r', { start: 0, end: 0 }))).toString()).toBe('0');
    expect((await readAll(await storage.get('r', { start: 14, end: 100 }))).toString()).toBe('ef');
    const beyond = await storage.get('r', { start: 16 }).catch((e: unknown) => e);
    expect(beyond).toBeInstanceOf(StorageError);
    expect((beyond as StorageError).permanent).toBe(true);
  });

  it('lists in key order, by prefix, across pages', async () => {
    const keys = ['x/b', 'x/a/1', 'x/B', 'x/a0', 'x/a/z/deep', 'x/a/0', 'y/1'];
    for (const k of keys) await storage.put(k, Buffer.from(k));
    expect(await keysOf(storage, '')).toEqual(['x/B', 'x/a/0', 'x/a/1', 'x/a/z/deep', 'x/a0', 'x/b', 'y/1']);
    expect(await keysOf(storage, 'x/a')).toEqual(['x/a/0', 'x/a/1', 'x/a/z/deep', 'x/a0']);
    expect(await keysOf(storage, 'x/a/')).toEqual(['x/a/0', 'x/a/1', 'x/a/z/deep']);
    expect(await keysOf(storage, 'nothing/')).toEqual([]);
    const infos = [];
    for await (const info of storage.list('x/a/z')) infos.push(info);
    expect(infos).toHaveLength(1);
    expect(infos[0]!.size).toBe('x/a/z/deep'.length);
    if (name === 's3') {
      // 7 keys at 2 per page: the full listing alone needed 4 requests.
      expect(h.commands.filter((c) => c === 'ListObjectsV2Command').length).toBeGreaterThanOrEqual(4);
    }
  });

  // s3rver lists in directory-walk order, so this S3 guarantee is only checked for files.
  it.skipIf(name === 's3')('orders "-" before "/" as S3 does (UTF-8 byte order)', async () => {
    for (const k of ['a/b', 'a-c', 'a b', 'a0']) await storage.put(k, Buffer.from(k));
    expect(await keysOf(storage, '')).toEqual(['a b', 'a-c', 'a/b', 'a0']);
  });

  it('stat is undefined and get throws NotFoundError for a missing key', async () => {
    expect(await storage.stat('missing')).toBeUndefined();
    await expect(storage.get('missing')).rejects.toBeInstanceOf(NotFoundError);
    await expect(storage.getBuffer('dir/missing')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('remove is idempotent', async () => {
    await storage.put('gone', Buffer.from('x'));
    await storage.remove('gone');
    await storage.remove('gone');
    await storage.remove('never/existed');
    expect(await storage.stat('gone')).toBeUndefined();
    await expect(storage.getBuffer('gone')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('creates only where the key is free: one of many racing creates wins, the others see it taken', async () => {
    const cond = storage.conditional!;
    expect(cond).toBeDefined();
    expect(await cond.createIfAbsent('locks/a.json', Buffer.from('mine'))).toBe(true);
    // Repeating an identical create (a retry whose first answer was lost) still answers true.
    expect(await cond.createIfAbsent('locks/a.json', Buffer.from('mine'))).toBe(true);
    expect(await cond.createIfAbsent('locks/a.json', Buffer.from('theirs'))).toBe(false);
    expect((await storage.getBuffer('locks/a.json')).toString()).toBe('mine');
    // Sequential racers: each sees the first one's object and leaves it.
    const results = await Promise.all(['w1', 'w2', 'w3', 'w4'].map((w) => cond.createIfAbsent('locks/b.json', Buffer.from(w))));
    const winners = results.filter(Boolean).length;
    expect(winners).toBeGreaterThanOrEqual(1);
    const held = (await storage.getBuffer('locks/b.json')).toString();
    expect(results[['w1', 'w2', 'w3', 'w4'].indexOf(held)]).toBe(true);
    if (await cond.enforced()) expect(winners).toBe(1);
    // The file driver leaves no temp file behind.
    if (name === 'file') expect(await readdir(path.join((storage as FileStorage).root, 'locks'))).toEqual(['a.json', 'b.json']);
  });

  it('says whether the store itself enforces create-only writes', async () => {
    // link(2) on a local filesystem; s3rver ignores If-None-Match (so the driver emulates it, and its probe says so).
    expect(await storage.conditional!.enforced()).toBe(name === 'file');
    expect(await keysOf(storage, '')).toEqual([]);
  });

  it('rejects keys that escape the repository', async () => {
    for (const bad of ['../x', '/abs', 'a//b', 'a/./b', '', 'a/', 'a/../b']) {
      await expect(storage.put(bad, Buffer.from('x'))).rejects.toBeInstanceOf(UsageError);
    }
    await expect(storage.getBuffer('../etc/passwd')).rejects.toBeInstanceOf(UsageError);
  });

  it.each([
    ['within the first part', 1 * MiB],
    ['after a part was uploaded', 7 * MiB],
  ])('a source that fails %s leaves nothing visible', async (_label, failAfter) => {
    const { stream } = chunkedSource(20 * MiB, failAfter);
    await expect(storage.put('backups/y/parts/broken', stream)).rejects.toThrow('source failed midway');
    expect(await storage.stat('backups/y/parts/broken')).toBeUndefined();
    expect(await keysOf(storage, '')).toEqual([]);
    if (name === 'file') {
      // No temp file is left behind either.
      const dir = path.join((storage as FileStorage).root, 'backups/y/parts');
      expect(await readdir(dir).catch(() => [])).toEqual([]);
    }
    if (name === 's3' && failAfter > 5 * MiB) {
      expect(h.commands).toContain('UploadPartCommand');
      expect(h.commands).toContain('AbortMultipartUploadCommand');
      expect(h.commands).not.toContain('CompleteMultipartUploadCommand');
    }
  });
});

describe('file driver specifics', () => {
  it('accepts file://./relative URLs relative to the working directory', async () => {
    const storage = await openStorage(`file://./${path.relative(process.cwd(), path.join(fileRoot, 'rel'))}`);
    await storage.put('repo.json', Buffer.from('{}'));
    await storage.put('a/b', Buffer.from('x'));
    expect((await new FileStorage(path.join(fileRoot, 'rel')).getBuffer('a/b')).toString()).toBe('x');
    expect(storage.location).toBe(pathToFileURL(path.join(fileRoot, 'rel')).href);
  });

  it('does not make a repository directory that is gone again, except for an object at its root', async () => {
    // An unmounted filesystem leaves an empty mount point, or none: backups written there
    // would land on another disk. The directory comes back only with `dbops init`'s repo.json.
    const root = path.join(fileRoot, 'unmounted');
    const storage = new FileStorage(root);
    const err = await storage.put('backups/x/manifest.json', Buffer.from('{}')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).permanent).toBe(true);
    expect((err as StorageError).message).toMatch(/^file storage cannot write backups\/x\/manifest\.json: the repository directory .*unmounted is gone; mount its filesystem/);
    const streamed = await storage.put('backups/x/parts/1', Readable.from([Buffer.from('part')])).catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(StorageError);
    await expect(readdir(root)).rejects.toMatchObject({ code: 'ENOENT' });
    await storage.put('repo.json', Buffer.from('{}'));
    await storage.put('backups/x/manifest.json', Buffer.from('{}'));
    expect(await keysOf(storage, '')).toEqual(['backups/x/manifest.json', 'repo.json']);
  });

  it('writes a stream that spans several background datasyncs byte for byte', async () => {
    // Past 64 MiB a datasync runs beside the writes that follow it: the object must still be
    // exactly the stream, whatever the chunk sizes.
    const storage = new FileStorage(fileRoot);
    const block = randomBytes(MiB + 7);
    const expected = createHash('sha256');
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 140; i += 1) {
        const chunk = block.subarray(i % 5, block.length - (i % 3));
        expected.update(chunk);
        yield chunk;
      }
    }
    const put = await storage.put('big/stream', Readable.from(chunks()));
    const stored = createHash('sha256');
    for await (const chunk of await storage.get('big/stream')) stored.update(chunk as Buffer);
    expect(put.size).toBeGreaterThan(140 * MiB);
    expect((await storage.stat('big/stream'))?.size).toBe(put.size);
    expect(stored.digest('hex')).toBe(expected.digest('hex'));
    await storage.remove('big/stream');
  });

  it('maps an unusable repository path to a permanent StorageError', async () => {
    // A regular file where the repository directory should be: ENOTDIR, which no retry
    // fixes. (EACCES cannot be produced here: the tests run as root.)
    const notADir = path.join(fileRoot, 'plain-file');
    await new FileStorage(fileRoot).put('plain-file', Buffer.from('x'));
    const storage = new FileStorage(notADir);
    const err = await storage.put('a/b', Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).permanent).toBe(true);
    expect((err as StorageError).message).toMatch(/^file storage cannot write a\/b: .*ENOTDIR/);
    expect(await keysOf(storage, '')).toEqual([]);
  });
});
