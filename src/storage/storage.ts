// The one storage interface every driver implements (file://, s3://). Drivers are
// small; retries, logging and concurrency are wrappers around them (see retry.ts).
import type { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import type { Segment } from './segments.js';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Last modification time as reported by the store. */
  modified: Date;
}

export interface PutOptions {
  /** Expected size when known (lets S3 choose a part size); a hint, not a limit. */
  sizeHint?: number;
  contentType?: string;
  /**
   * Mutable bookkeeping that is rewritten often or removed at once (the shipper's
   * heartbeat, doctor's probe): no Object Lock retention of ours, even when the
   * repository locks everything else (see object-lock.ts).
   */
  unlocked?: boolean;
  /**
   * The body may be any size and its reader joins a run of objects (segments.ts): a driver
   * with a per-object part limit (S3) keeps its parts small and continues in a next object
   * instead of growing them. Without it, one object, whatever its parts must grow to.
   */
  segmented?: boolean;
}

/**
 * A body read once, chunk by chunk (a Readable is one). Its source may reuse a chunk's
 * memory once the next chunk is asked for (pipe-reader.ts does), so a driver copies or
 * writes each chunk before it asks for the next; `destroy` stops the source on failure.
 */
export type PutStream = AsyncIterable<Buffer> & { destroy?(err?: Error): unknown };

export interface PutResult {
  key: string;
  size: number;
  /** The objects, in order, when the body went to more than one (segmented puts only). */
  segments?: Segment[];
}

/**
 * An object being written by a program straight into its temp file beside the key. Reading
 * it back as it grows costs one copy from the page cache; piping the program's output
 * through node cost a pipe copy, a write copy, and a garbage-collected buffer per 64 KiB.
 */
export interface LocalObjectWriter {
  /** The temp file's descriptor: the writing program's stdout. */
  readonly fd: number;
  /** Remove the temp file (nothing was published). */
  discard(): Promise<void>;
  /**
   * Reads the file while the program writes it, handing each new chunk to `onChunk` (a
   * reused buffer: copy what you keep) and datasyncing along the way; once `written`
   * resolves, reads the rest, syncs and publishes the object under its key, as put() does.
   * When `written` rejects, or anything else fails, the temp file is removed and the
   * failure thrown; a program that failed on a full disk is reported as the storage's full disk.
   */
  publish(written: Promise<unknown>, onChunk: (chunk: Buffer) => void): Promise<PutResult>;
}

/** S3 Object Lock retention modes (dbops never sends the governance bypass header). */
export type LockMode = 'governance' | 'compliance';

/** What the store says about an object's current version. */
export interface ObjectRetention {
  mode?: LockMode;
  retainUntil?: Date;
  legalHold: boolean;
}

/** The bucket's Object Lock setting as far as it could be read. */
export interface BucketLockState {
  /** true: enabled; false: the bucket has none (or the store has no Object Lock); undefined: unknown. */
  enabled: boolean | undefined;
  /** One line: what was seen (default retention rule, or why it is unknown). */
  detail: string;
  /** The bucket's default retention, if it has one (it also locks objects dbops writes unlocked). */
  defaultRetention?: string;
}

/**
 * Object Lock controls of a repository whose storage locks what it writes (S3 only).
 * Every put then carries `mode` and a retain-until of upload time + `uploadPeriodMs`,
 * and `remove` deletes every version of the key, throwing ObjectLockedError for a
 * version still under retention (nothing is hidden behind a delete marker).
 */
export interface ObjectLocking {
  readonly mode: LockMode;
  /** Retain-until given at upload = upload time + this. */
  readonly uploadPeriodMs: number;
  /** Retention of the key's current version; undefined when the key is absent. */
  retention(key: string): Promise<ObjectRetention | undefined>;
  /** Raise retain-until to at least `until` (never shortens; a later date already set is kept). */
  extendRetention(key: string, until: Date): Promise<void>;
  setLegalHold(key: string, on: boolean): Promise<void>;
  bucketState(): Promise<BucketLockState>;
}

/**
 * Create-only writes (an optional capability, like `lock`): an object is written only
 * where its key is free, so that of two writers racing for one key at most one is told
 * it wrote it. Leases (src/storage/lease.ts) and append-only logs are built on it;
 * callers reach it through `createIfAbsent` (conditional-create.ts), which falls back to
 * a check, put and read-back for a storage without it.
 */
export interface ConditionalCreate {
  /**
   * Write `body` at `key` unless an object is there. True when `key` now holds exactly
   * `body` (written by this call, or by an identical earlier write: a retried call that
   * had in fact succeeded still answers true); false when it holds anything else, which
   * is left as it is. Small bodies only (one request).
   */
  createIfAbsent(key: string, body: Buffer, options?: PutOptions): Promise<boolean>;
  /**
   * Whether the store itself refuses a second create (file: link(2); S3: `If-None-Match: *`
   * answered with 412). False when it had to be emulated (s3rver and older S3-compatible
   * stores ignore the header): then two writers racing within one round trip can both be
   * told true, and a caller must detect that afterwards (a lease re-reads what it holds).
   * Learnt once per storage (S3: a probe object, written twice and removed).
   */
  enforced(): Promise<boolean>;
}

export interface Storage {
  /** Human description without secrets, e.g. `s3://bucket/prefix` or `file:///var/backups`. */
  readonly location: string;
  /** Present when this repository is configured to lock its objects (storage.objectLock). */
  readonly lock?: ObjectLocking;
  /** Create-only writes; both drivers have it (see ConditionalCreate). */
  readonly conditional?: ConditionalCreate;
  /**
   * Store an object. A Buffer may be re-sent on retry; a stream is consumed once and
   * is never retried whole (drivers retry per multipart part). The object becomes
   * visible atomically, only after the whole body arrived.
   */
  put(key: string, body: PutStream | Buffer, options?: PutOptions): Promise<PutResult>;
  /** Read an object, optionally a byte range [start, end] inclusive. Throws NotFoundError. */
  get(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /**
   * A local object's open file, for a reader that hands it to a program (age reads it through
   * the kernel, not through node). Only drivers whose objects are files have it. Throws NotFoundError.
   */
  openLocal?(key: string): Promise<FileHandle>;
  /**
   * A new local object that a program writes itself (its stdout is the file), so that node
   * never copies the bytes. Only drivers whose objects are files have it.
   */
  createLocal?(key: string): Promise<LocalObjectWriter>;
  /** Read a whole (small) object into memory. Throws NotFoundError. */
  getBuffer(key: string): Promise<Buffer>;
  /** Metadata or undefined when absent. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with prefix, in lexicographic key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Delete; deleting an absent object is not an error. With `lock`, ObjectLockedError while retained. */
  remove(key: string): Promise<void>;
}
