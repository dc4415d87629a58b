// Create-only writes for any storage: through the driver's ConditionalCreate capability
// when it has one, otherwise emulated by check, put and read-back. The emulation is also
// what the S3 driver does around `If-None-Match: *`, since a store that ignores the header
// (s3rver, older S3-compatible stores) simply overwrites.
import { NotFoundError } from '../errors.js';
import type { PutOptions, Storage } from './storage.js';

/** The three plain operations the emulation needs. */
export interface PlainOps {
  stat(key: string): Promise<unknown>;
  put(key: string, body: Buffer, options?: PutOptions): Promise<unknown>;
  getBuffer(key: string): Promise<Buffer>;
}

/** See ConditionalCreate.createIfAbsent; works on every storage. */
export function createIfAbsent(storage: Storage, key: string, body: Buffer, options?: PutOptions): Promise<boolean> {
  if (storage.conditional) return storage.conditional.createIfAbsent(key, body, options);
  return emulatedCreate(storage, key, body, options);
}

/** Whether `createIfAbsent` on this storage is enforced by the store (see ConditionalCreate.enforced). */
export async function createIsEnforced(storage: Storage): Promise<boolean> {
  return storage.conditional ? storage.conditional.enforced() : false;
}

/**
 * Check, put, read back. `put` may itself be conditional (the S3 driver's sends
 * `If-None-Match: *` and returns quietly on 412). The read-back catches a writer that overwrote
 * ours between our put and our read; it cannot catch one that overwrites after it.
 */
export async function emulatedCreate(ops: PlainOps, key: string, body: Buffer, options?: PutOptions, put: (key: string, body: Buffer, options?: PutOptions) => Promise<unknown> = (k, b, o) => ops.put(k, b, o)): Promise<boolean> {
  if (!(await ops.stat(key))) await put(key, body, options);
  return holds(ops, key, body);
}

async function holds(ops: PlainOps, key: string, body: Buffer): Promise<boolean> {
  try {
    return (await ops.getBuffer(key)).equals(body);
  } catch (err) {
    // Removed between the check and the read: someone else's object came and went; not ours.
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}
