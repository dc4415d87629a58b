// Datasyncs started along a long write, without waiting for them: the kernel then writes the
// object back while the write goes on, and the fsync before the rename waits only for the
// tail instead of the whole object (with a large page cache nothing is written back before
// that fsync otherwise).
import type { FileHandle } from 'node:fs/promises';

/** A datasync starts after every this many bytes. */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

export class BackgroundSync {
  private sinceSync = 0;
  private syncing: Promise<void> | undefined;
  // A failed datasync is kept, not left to the final fsync: Linux reports a writeback error
  // once, so the later fsync could succeed on data that never reached the disk.
  private failure: unknown;

  constructor(
    private readonly fh: FileHandle,
    private readonly mapError: (err: unknown) => Error,
  ) {}

  /** `bytes` more were written; throws a datasync's failure as soon as it is known. */
  wrote(bytes: number): void {
    if (this.failure) throw this.failure;
    this.sinceSync += bytes;
    if (this.sinceSync < SYNC_EVERY_BYTES || this.syncing) return;
    this.sinceSync = 0;
    this.syncing = this.fh.datasync().then(
      () => void (this.syncing = undefined),
      (err: unknown) => void ((this.failure ??= this.mapError(err)), (this.syncing = undefined)),
    );
  }

  /** Nothing may still be syncing when the caller syncs, closes or removes the file. */
  async settle(): Promise<void> {
    await this.syncing;
    if (this.failure) throw this.failure;
  }
}
