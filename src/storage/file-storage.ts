// The local-directory driver (file:///path). A put writes a temp file beside the
// target, fsyncs it, renames it into place and fsyncs the directory, so an object is
// either absent or complete even after a crash; readers never see half a file.
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { DbopsError, NotFoundError, StorageError } from '../errors.js';
import { assertValidKey, assertValidPrefix, compareKeys, TEMP_FILE_PREFIX } from './keys.js';
import type { ConditionalCreate, LocalObjectWriter, ObjectInfo, PutOptions, PutResult, PutStream, Storage } from './storage.js';
import { BackgroundSync } from './background-sync.js';
import { followFile } from './follow-file.js';

/** errno codes that retrying cannot fix: the operator must act (permissions, disk space). */
const PERMANENT_CODES = new Set(['EACCES', 'EPERM', 'ENOSPC', 'EROFS', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG']);

export class FileStorage implements Storage {
  readonly location: string;
  readonly root: string;
  /** link(2) of a complete temp file fails with EEXIST when the key exists: atomic on every local filesystem and NFSv3+. */
  readonly conditional: ConditionalCreate = {
    createIfAbsent: (key, body) => this.createIfAbsent(key, body),
    enforced: async () => true,
  };

  constructor(root: string) {
    this.root = path.resolve(root);
    this.location = pathToFileURL(this.root).href;
  }

  async put(key: string, body: PutStream | Buffer, _options?: PutOptions): Promise<PutResult> {
    return this.write(key, body, 'replace');
  }

  private async createIfAbsent(key: string, body: Buffer): Promise<boolean> {
    try {
      await this.write(key, body, 'create');
      return true;
    } catch (err) {
      if (((err as StorageError).cause as NodeJS.ErrnoException | undefined)?.code !== 'EEXIST') throw err;
      return (await this.getBuffer(key)).equals(body);
    }
  }

  /** Temp file beside the target, fsync, then rename (replace) or link (create: EEXIST when taken), fsync the directory. */
  private async write(key: string, body: PutStream | Buffer, mode: 'replace' | 'create'): Promise<PutResult> {
    const temp = await this.openTemp(key);
    try {
      const fh = temp.handle;
      const size = Buffer.isBuffer(body) ? (await fsCall(key, 'write', () => fh.writeFile(body)), body.length) : await writeStream(key, fh, body);
      await this.publishTemp(key, temp, mode);
      return { key, size };
    } catch (err) {
      if (!Buffer.isBuffer(body)) body.destroy?.();
      await discardTemp(temp);
      throw err;
    }
  }

  async createLocal(key: string): Promise<LocalObjectWriter> {
    const temp = await this.openTemp(key);
    return {
      fd: temp.handle.fd,
      discard: () => discardTemp(temp),
      publish: async (written, onChunk) => {
        const sync = new BackgroundSync(temp.handle, (err) => mapFsError(err, key, 'write'));
        try {
          const size = await followFile(temp.handle, written.catch((err: unknown) => Promise.reject(programWriteError(err, key))), onChunk, (n) => sync.wrote(n)).finally(() => sync.settle().catch(() => undefined));
          await sync.settle();
          await this.publishTemp(key, temp, 'replace');
          return { key, size };
        } catch (err) {
          await discardTemp(temp);
          throw err;
        }
      },
    };
  }

  /** A temp file beside the target (readable too: createLocal reads back what a program writes). */
  private async openTemp(key: string): Promise<TempFile> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    const temp = path.join(dir, `${TEMP_FILE_PREFIX}${path.basename(target)}-${randomBytes(6).toString('hex')}`);
    if (dir !== this.root) await this.assertRootExists(key);
    await fsCall(key, 'write', () => mkdir(dir, { recursive: true }));
    const handle = await fsCall(key, 'write', () => open(temp, 'wx+', 0o644));
    return { handle, path: temp, target };
  }

  /** fsync and close the temp file, rename (replace) or link (create) it to its key, fsync the directory. */
  private async publishTemp(key: string, temp: TempFile, mode: 'replace' | 'create'): Promise<void> {
    await fsCall(key, 'write', () => temp.handle.sync());
    await fsCall(key, 'write', () => temp.handle.close());
    if (mode === 'replace') {
      await fsCall(key, 'write', () => rename(temp.path, temp.target));
    } else {
      await fsCall(key, 'write', () => link(temp.path, temp.target));
      await rm(temp.path, { force: true });
    }
    await fsyncDir(path.dirname(temp.target));
  }

  /**
   * A repository whose directory is gone (its filesystem not mounted, the repository moved)
   * is not made again by a write into it: that would put backups on whatever disk holds the
   * mount point, where nobody looks for them. Only an object at the root itself (`dbops
   * init`'s repo.json) creates the directory.
   */
  private async assertRootExists(key: string): Promise<void> {
    try {
      await stat(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw mapFsError(err, key, 'write');
      throw new StorageError(`file storage cannot write ${key}: the repository directory ${this.root} is gone; mount its filesystem (or restore the directory), or run dbops init for a new repository`, key, true, { cause: err });
    }
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const handle = await this.openLocal(key);
    try {
      if (range) {
        const { size } = await handle.stat();
        checkRange(key, range, size);
        const end = range.end === undefined ? undefined : Math.min(range.end, size - 1);
        return handle.createReadStream({ start: range.start, end, autoClose: true });
      }
      return handle.createReadStream({ autoClose: true });
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async openLocal(key: string): Promise<FileHandle> {
    const handle = await fsCall(key, 'read', () => open(this.pathOf(key), 'r'));
    try {
      if (!(await handle.stat()).isFile()) throw new NotFoundError(key);
      return handle;
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    return fsCall(key, 'read', () => readFile(this.pathOf(key)));
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await fsCall(key, 'stat', () => stat(this.pathOf(key)));
      return info.isFile() ? { key, size: info.size, modified: info.mtime } : undefined;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    const startDir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
    yield* this.walk(startDir, prefix);
  }

  async remove(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await fsCall(key, 'remove', () => rm(file));
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }

  /**
   * Depth-first walk in S3 order: a directory `a` sorts as `a/`, so `a-c` (0x2d) comes
   * before `a/b` (0x2f) exactly as the flat key list would. Temp files are skipped.
   */
  private async *walk(relDir: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(this.root, relDir), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw mapFsError(err, relDir || '.', 'list');
    }
    const sorted = entries
      .filter((e) => !e.name.startsWith(TEMP_FILE_PREFIX) && (e.isFile() || e.isDirectory()))
      .map((e) => ({ rel: relDir + e.name + (e.isDirectory() ? '/' : ''), dir: e.isDirectory() }))
      .sort((a, b) => compareKeys(a.rel, b.rel));
    for (const entry of sorted) {
      if (entry.dir) {
        if (entry.rel.startsWith(prefix) || prefix.startsWith(entry.rel)) yield* this.walk(entry.rel, prefix);
        continue;
      }
      if (!entry.rel.startsWith(prefix)) continue;
      try {
        const info = await stat(path.join(this.root, entry.rel));
        yield { key: entry.rel, size: info.size, modified: info.mtime };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw mapFsError(err, entry.rel, 'list');
      }
    }
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.root, ...key.split('/'));
  }
}

interface TempFile {
  handle: FileHandle;
  path: string;
  target: string;
}

async function discardTemp(temp: TempFile): Promise<void> {
  await temp.handle.close().catch(() => {});
  await rm(temp.path, { force: true }).catch(() => {});
}

/**
 * A program writing a local object (age) that failed on a full disk: the storage's full disk,
 * as a write of ours would report it, not the program's failure. Go and C programs both say
 * it with the C library's text.
 */
function programWriteError(err: unknown, key: string): unknown {
  const said = /no space left on device|disk quota exceeded/i.exec(err instanceof Error ? err.message : '');
  if (!said) return err;
  const code = /quota/i.test(said[0]) ? 'EDQUOT' : 'ENOSPC';
  return mapFsError(Object.assign(new Error(`${code}: ${said[0].toLowerCase()}`, { cause: err }), { code }), key, 'write');
}

function checkRange(key: string, range: { start: number; end?: number }, size: number): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    throw new StorageError(`invalid byte range ${start}-${end ?? ''} for ${key}`, key, true);
  }
  if (start >= size) {
    throw new StorageError(`byte range ${start}-${end ?? ''} is beyond the end of ${key} (${size} bytes)`, key, true);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Chunks (64 KiB from a pipe) are copied into one buffer and written a batch at a time: one
 * write instead of 4, and no chunk kept once the next is asked for (PutStream).
 */
const WRITE_BATCH_BYTES = 256 * 1024;

/**
 * Write a stream to an open file, datasyncing along the way; returns the bytes written.
 * Source errors (a failing dump, a failing encryptor) surface unchanged.
 */
async function writeStream(key: string, fh: FileHandle, body: PutStream): Promise<number> {
  let size = 0;
  const sync = new BackgroundSync(fh, (err) => mapFsError(err, key, 'write'));
  const batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  let batched = 0;
  const write = async (bytes: Buffer): Promise<void> => {
    await fsCall(key, 'write', () => writeAll(fh, bytes));
    size += bytes.length;
    sync.wrote(bytes.length);
  };
  const flush = async (): Promise<void> => {
    if (batched) await write(batch.subarray(0, batched));
    batched = 0;
  };
  try {
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      if (batched + buf.length > WRITE_BATCH_BYTES) await flush();
      if (buf.length >= WRITE_BATCH_BYTES) {
        await write(buf);
        continue;
      }
      buf.copy(batch, batched);
      batched += buf.length;
    }
    await flush();
  } finally {
    await sync.settle().catch(() => undefined);
  }
  await sync.settle();
  return size;
}

/** write, then the rest of a short write (the kernel may stop early, e.g. on a signal). */
async function writeAll(fh: FileHandle, bytes: Buffer): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const n = (await fh.write(bytes, written, bytes.length - written)).bytesWritten;
    if (n === 0) throw new Error(`write stopped after ${written} of ${bytes.length} bytes`);
    written += n;
  }
}

async function fsCall<T>(key: string, op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapFsError(err, key, op);
  }
}

/** ENOENT → NotFoundError; no-space/permission → permanent StorageError; anything else transient. */
export function mapFsError(err: unknown, key: string, op: string): Error {
  if (err instanceof DbopsError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new NotFoundError(key, { cause: err });
  const reason = (err as Error | undefined)?.message ?? String(err);
  if (code && PERMANENT_CODES.has(code)) {
    const hint = code === 'ENOSPC' || code === 'EDQUOT' ? 'free disk space' : code === 'EROFS' ? 'mount the repository read-write' : 'fix the permissions of the repository directory';
    return new StorageError(`file storage cannot ${op} ${key}: ${reason}; ${hint}`, key, true, { cause: err });
  }
  return new StorageError(`file storage cannot ${op} ${key}: ${reason}`, key, false, { cause: err });
}
