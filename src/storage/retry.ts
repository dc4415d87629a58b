// Retries as a wrapper around any driver (restic's retry backend): transient failures
// of operations that can be repeated safely are retried with exponential backoff and
// jitter. Permanent errors (access denied, no space, not found) are never retried, and
// a streamed put passes straight through — a stream cannot be re-read, so the driver
// retries per multipart part instead.
import type { Readable } from 'node:stream';
import { StorageError } from '../errors.js';
import { log } from '../util/logger.js';
import { compareKeys } from './keys.js';
import type { ConditionalCreate, ObjectInfo, ObjectLocking, PutOptions, PutResult, Storage } from './storage.js';

export interface RetryOptions {
  /** Total tries per operation, including the first (default 4). */
  attempts?: number;
  /** First backoff delay; doubles each time, with ±50 % jitter (default 500 ms). */
  baseDelayMs?: number;
  /** Upper bound for one delay (default 20 s). */
  maxDelayMs?: number;
}

/** Only transient storage failures are worth another try. */
export function isRetryable(err: unknown): boolean {
  return err instanceof StorageError && !err.permanent;
}

export function withRetry(storage: Storage, options: RetryOptions = {}): Storage {
  const attempts = Math.max(1, options.attempts ?? 4);
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 20_000;

  async function run<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= attempts || !isRetryable(err)) throw err;
        const delay = backoff(attempt, base, max);
        log.warn({ op, key, attempt, delayMs: delay, error: (err as Error).message }, 'storage operation failed; retrying');
        await sleep(delay);
      }
    }
  }

  const lock = storage.lock;
  const locking: ObjectLocking | undefined = lock && {
    mode: lock.mode,
    uploadPeriodMs: lock.uploadPeriodMs,
    retention: (key) => run('retention', key, () => lock.retention(key)),
    extendRetention: (key, until) => run('extendRetention', key, () => lock.extendRetention(key, until)),
    setLegalHold: (key, on) => run('setLegalHold', key, () => lock.setLegalHold(key, on)),
    bucketState: () => run('bucketState', '(bucket)', () => lock.bucketState()),
  };

  const cond = storage.conditional;
  // Safe to repeat: a create that had succeeded before its answer was lost finds its own bytes and answers true.
  const conditional: ConditionalCreate | undefined = cond && {
    createIfAbsent: (key, body, putOptions) => run('createIfAbsent', key, () => cond.createIfAbsent(key, body, putOptions)),
    enforced: () => run('enforced', '(probe)', () => cond.enforced()),
  };

  return {
    location: storage.location,
    ...(locking ? { lock: locking } : {}),
    ...(conditional ? { conditional } : {}),
    put(key: string, body: Readable | Buffer, putOptions?: PutOptions): Promise<PutResult> {
      if (!Buffer.isBuffer(body)) return storage.put(key, body, putOptions);
      return run('put', key, () => storage.put(key, body, putOptions));
    },
    get: (key, range) => run('get', key, () => storage.get(key, range)),
    getBuffer: (key) => run('getBuffer', key, () => storage.getBuffer(key)),
    stat: (key) => run('stat', key, () => storage.stat(key)),
    remove: (key) => run('remove', key, () => storage.remove(key)),
    list: (prefix) => retryingList(storage, prefix, attempts, base, max),
  };
}

/**
 * A listing that fails midway is restarted and resumes after the last key it yielded
 * (listings are in key order), so callers see each key once.
 */
async function* retryingList(storage: Storage, prefix: string, attempts: number, base: number, max: number): AsyncGenerator<ObjectInfo> {
  let last: string | undefined;
  let failures = 0;
  for (;;) {
    try {
      for await (const info of storage.list(prefix)) {
        if (last !== undefined && compareKeys(info.key, last) <= 0) continue;
        last = info.key;
        failures = 0;
        yield info;
      }
      return;
    } catch (err) {
      failures += 1;
      if (failures >= attempts || !isRetryable(err)) throw err;
      const delay = backoff(failures, base, max);
      log.warn({ op: 'list', prefix, after: last, attempt: failures, delayMs: delay, error: (err as Error).message }, 'storage listing failed; retrying');
      await sleep(delay);
    }
  }
}

function backoff(attempt: number, base: number, max: number): number {
  const exp = Math.min(max, base * 2 ** (attempt - 1));
  return Math.round(exp * (0.5 + Math.random() * 0.5));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
