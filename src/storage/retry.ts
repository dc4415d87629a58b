// Retries as a wrapper around any driver (restic's retry backend): transient failures
// of operations that can be repeated safely are retried with exponential backoff and
// jitter, for long enough to outlast a short outage (~30 s by default). Permanent errors
// (access denied, no space, not found) are never retried, and a streamed put passes
// straight through — a stream cannot be re-read. The S3 driver retries each request
// itself with the same schedule (s3-retry.ts: multipart parts are requests it sends), so
// it is not wrapped: a wrapper around it multiplied the attempts.
import { StorageError } from '../errors.js';
import { log } from '../util/logger.js';
import { compareKeys } from './keys.js';
import type { ConditionalCreate, ObjectInfo, ObjectLocking, PutOptions, PutResult, PutStream, Storage } from './storage.js';

export interface RetryOptions {
  /** Total tries per operation, including the first (default 12). */
  attempts?: number;
  /** First backoff delay; doubles each time, then 50-100 % of it is waited (default 500 ms). */
  baseDelayMs?: number;
  /** Upper bound for one delay (default 8 s). */
  maxDelayMs?: number;
  /** No retry starts later than this after the first try (default 30 s): how long an outage may last. */
  budgetMs?: number;
}

/** 0.5, 1, 2, 4, 8, 8… s (each 50-100 %): a 30 s budget holds ~6-8 tries, the last ones 8 s apart. */
export const RETRY_DEFAULTS: Required<RetryOptions> = { attempts: 12, baseDelayMs: 500, maxDelayMs: 8_000, budgetMs: 30_000 };

/**
 * The wait before try `attempt + 1` of an operation whose first try started `elapsedMs`
 * ago, or undefined when the attempts or the budget are used up.
 */
export function nextRetryDelay(attempt: number, elapsedMs: number, options: RetryOptions = {}): number | undefined {
  const o = { ...RETRY_DEFAULTS, ...options };
  if (attempt >= o.attempts) return undefined;
  const delay = backoff(attempt, o.baseDelayMs, o.maxDelayMs);
  return elapsedMs + delay > o.budgetMs ? undefined : delay;
}

/** Only transient storage failures are worth another try. */
export function isRetryable(err: unknown): boolean {
  return err instanceof StorageError && !err.permanent;
}

export function withRetry(storage: Storage, options: RetryOptions = {}): Storage {
  async function run<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await fn();
      } catch (err) {
        const delay = isRetryable(err) ? nextRetryDelay(attempt, Date.now() - started, options) : undefined;
        if (delay === undefined) throw err;
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
    put(key: string, body: PutStream | Buffer, putOptions?: PutOptions): Promise<PutResult> {
      if (!Buffer.isBuffer(body)) return storage.put(key, body, putOptions);
      return run('put', key, () => storage.put(key, body, putOptions));
    },
    get: (key, range) => run('get', key, () => storage.get(key, range)),
    ...(storage.openLocal ? { openLocal: (key: string) => run('openLocal', key, () => storage.openLocal!(key)) } : {}),
    ...(storage.createLocal ? { createLocal: (key: string) => run('createLocal', key, () => storage.createLocal!(key)) } : {}),
    getBuffer: (key) => run('getBuffer', key, () => storage.getBuffer(key)),
    stat: (key) => run('stat', key, () => storage.stat(key)),
    remove: (key) => run('remove', key, () => storage.remove(key)),
    list: (prefix) => retryingList(storage, prefix, options),
  };
}

/**
 * A listing that fails midway is restarted and resumes after the last key it yielded
 * (listings are in key order), so callers see each key once.
 */
async function* retryingList(storage: Storage, prefix: string, options: RetryOptions): AsyncGenerator<ObjectInfo> {
  let last: string | undefined;
  let failures = 0;
  let since = Date.now();
  for (;;) {
    try {
      for await (const info of storage.list(prefix)) {
        if (last !== undefined && compareKeys(info.key, last) <= 0) continue;
        last = info.key;
        failures = 0;
        since = Date.now();
        yield info;
      }
      return;
    } catch (err) {
      failures += 1;
      const delay = isRetryable(err) ? nextRetryDelay(failures, Date.now() - since, options) : undefined;
      if (delay === undefined) throw err;
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
