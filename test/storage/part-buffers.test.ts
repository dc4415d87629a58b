// The S3 driver's reusable part buffers: a buffer comes back only when it is safe to fill again.
import { describe, expect, it } from 'vitest';
import { PartBuffers } from '../../src/storage/part-buffers.js';

describe('PartBuffers', () => {
  it('hands a released buffer to the next taker of the same size', () => {
    const pool = new PartBuffers(2);
    pool.take(16); // another upload's buffer: the pool is in use throughout
    const a = pool.take(16);
    pool.release(a, true);
    const other = pool.take(32);
    expect(other).not.toBe(a);
    expect(other.length).toBe(32);
    expect(pool.take(16)).toBe(a);
  });

  it('never reuses a buffer whose request failed (it may still be read)', () => {
    const pool = new PartBuffers(2);
    pool.take(16);
    const a = pool.take(16);
    pool.release(a, false);
    expect(pool.take(16)).not.toBe(a);
  });

  it('keeps at most `keep` idle buffers', () => {
    const pool = new PartBuffers(1);
    pool.take(16);
    const a = pool.take(16);
    const b = pool.take(16);
    pool.release(a, true);
    pool.release(b, true);
    expect(pool.take(16)).toBe(a);
    const next = pool.take(16);
    expect(next).not.toBe(a);
    expect(next).not.toBe(b);
  });

  it('lets idle buffers go once no upload holds one', () => {
    const pool = new PartBuffers(2);
    const a = pool.take(16);
    const b = pool.take(16);
    pool.release(a, true);
    pool.release(b, true);
    const fresh = pool.take(16);
    expect(fresh).not.toBe(a);
    expect(fresh).not.toBe(b);
  });
});
