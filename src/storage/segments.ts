// A stored stream may be a run of objects (a segmented put, see part-size.ts): the first
// at its own key, the next ones at `<key>.00002`, `<key>.00003`…, so they list in order
// beside it and `cat` of them in that order is the stream. The manifest records the run;
// readers join it here. Every object is looked up before the first byte is read, so a
// missing one is reported by its key at once rather than as a stream cut short.
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError } from '../errors.js';
import type { Storage } from './storage.js';

export interface Segment {
  key: string;
  size: number;
}

/** The key of a stream's `n`th object (1-based; the first is the key itself). */
export function segmentKey(key: string, n: number): string {
  return n === 1 ? key : `${key}.${String(n).padStart(5, '0')}`;
}

/** The objects' bytes one after another, as one stream. Throws NotFoundError naming the first missing object. */
export async function readSegments(storage: Storage, keys: readonly string[]): Promise<Readable> {
  for (const key of keys) {
    if (!(await storage.stat(key))) throw new NotFoundError(key);
  }
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  void (async () => {
    for (const key of keys) await pipeline(await storage.get(key), out, { end: false });
    out.end();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out;
}
