// The S3 driver's multipart part buffers, reused across all of its uploads. A buffer
// allocated per part (and per object: every streamed put starts with a part-sized one)
// counts its whole size as V8 external memory, which V8 answers with full garbage
// collections, and every fresh buffer page-faults in again; reuse avoids both.
//
// Only a buffer whose request succeeded comes back for reuse: after a failure or an
// abort the SDK's request may not be done with it. When no upload holds a buffer, the
// idle ones are let go, so a daemon does not keep them between backups.
export class PartBuffers {
  private idle: Buffer[] = [];
  private held = 0;

  /** @param keep idle buffers kept for reuse at most (the rest go to the GC). */
  constructor(private readonly keep: number) {}

  /** A buffer of exactly `size` bytes (contents undefined); hand it back with `release`. */
  take(size: number): Buffer {
    this.held += 1;
    const i = this.idle.findIndex((b) => b.length === size);
    return i >= 0 ? this.idle.splice(i, 1)[0]! : Buffer.allocUnsafe(size);
  }

  /** Give back a buffer from `take`; `reuse` only once nothing (no request) reads it any more. */
  release(buffer: Buffer, reuse: boolean): void {
    this.held -= 1;
    if (this.held === 0) this.idle = [];
    else if (reuse && this.idle.length < this.keep) this.idle.push(buffer);
  }
}
