// Counts bytes and computes sha256 of whatever flows through: the "measure" filter
// that sits between encryption and storage (and on the raw side for end-to-end checks).
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface Measurement {
  bytes: number;
  sha256: string;
}

export class MeasureStream extends Transform {
  private hash: Hash = createHash('sha256');
  private count = 0;
  private digest: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    done(null, chunk);
  }

  /** Valid once the stream has ended. */
  result(): Measurement {
    this.digest ??= this.hash.digest('hex');
    return { bytes: this.count, sha256: this.digest };
  }
}

/** Incremental hasher for data we write ourselves (no stream in between). */
export class Meter {
  private hash = createHash('sha256');
  bytes = 0;
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }
  result(): Measurement {
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}
