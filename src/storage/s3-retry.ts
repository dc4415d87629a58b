// The S3 client's retries, as the SDK's own retry strategy (its RetryStrategyV2 interface):
// every request — a PutObject, a GET, a listing page, each multipart part — is retried by the
// SDK, which classifies the error (connection refused or reset, timeouts, 5xx, throttling
// are worth another try; a 4xx is not), on our schedule (retry.ts): exponential backoff with
// jitter over ~30 s, so a backup outlasts a short outage of the endpoint. The SDK's standard
// strategy gave up after ~1.5 s (5 tries, 0.1 s base), and retrying again around it would
// multiply the tries instead of lengthening them.
//
// Once one request has waited out the whole budget on a down endpoint, the endpoint counts as
// down: later requests get one try each until one succeeds. Otherwise the cleanup after a
// failed backup (abort the upload, remove its parts) would wait 30 s per object.
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { log } from '../util/logger.js';
import { nextRetryDelay, RETRY_DEFAULTS, type RetryOptions } from './retry.js';

type RetryStrategyV2 = Extract<NonNullable<S3ClientConfig['retryStrategy']>, { acquireInitialRetryToken: unknown }>;
type RetryErrorInfo = Parameters<RetryStrategyV2['refreshRetryTokenForRetry']>[1];

interface Token {
  getRetryCount(): number;
  getRetryDelay(): number;
  /** When the request's first try started. */
  readonly started: number;
}

const token = (started: number, count: number, delay: number): Token => ({ started, getRetryCount: () => count, getRetryDelay: () => delay });

export class S3RetryStrategy implements RetryStrategyV2 {
  readonly mode = 'dbops-outage';
  /** Set when a request gave up on a down endpoint; cleared by any success. */
  private down = false;

  constructor(
    private readonly options: RetryOptions = {},
    private readonly where = 's3',
  ) {}

  get maxAttempts(): number {
    return this.options.attempts ?? RETRY_DEFAULTS.attempts;
  }

  async acquireInitialRetryToken(_scope: string): Promise<Token> {
    return token(Date.now(), 0, 0);
  }

  async refreshRetryTokenForRetry(previous: Token, info: RetryErrorInfo): Promise<Token> {
    const error = info.error as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    if (info.errorType === 'CLIENT_ERROR') throw error;
    // "Not implemented" (a conditional write or a lock call the store lacks) will not change
    // with time: the caller falls back at once instead of after the whole outage budget.
    const status = error?.$metadata?.httpStatusCode;
    if (status === 501 || status === 405 || error?.name === 'NotImplemented' || error?.name === 'MethodNotAllowed') throw error;
    const attempt = previous.getRetryCount() + 1;
    const delay = this.down ? undefined : nextRetryDelay(attempt, Date.now() - previous.started, this.options);
    if (delay === undefined) {
      if (info.errorType === 'TRANSIENT' && attempt > 1) this.down = true;
      throw error;
    }
    log.warn({ storage: this.where, attempt, delayMs: delay, error: error?.code ?? error?.name ?? 'error', detail: error?.message?.split('\n')[0] }, 'storage request failed; retrying');
    return token(previous.started, attempt, delay);
  }

  recordSuccess(_token: Token): void {
    this.down = false;
  }
}
