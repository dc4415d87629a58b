// The one storage interface every driver implements (file://, s3://). Drivers are
// small; retries, logging and concurrency are wrappers around them (see retry.ts).
import type { Readable } from 'node:stream';

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
}

export interface PutResult {
  key: string;
  size: number;
}

export interface Storage {
  /** Human description without secrets, e.g. `s3://bucket/prefix` or `file:///var/backups`. */
  readonly location: string;
  /**
   * Store an object. A Buffer may be re-sent on retry; a stream is consumed once and
   * is never retried whole (drivers retry per multipart part). The object becomes
   * visible atomically, only after the whole body arrived.
   */
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<PutResult>;
  /** Read an object, optionally a byte range [start, end] inclusive. Throws NotFoundError. */
  get(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /** Read a whole (small) object into memory. Throws NotFoundError. */
  getBuffer(key: string): Promise<Buffer>;
  /** Metadata or undefined when absent. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with prefix, in lexicographic key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Delete; deleting an absent object is not an error. */
  remove(key: string): Promise<void>;
}
