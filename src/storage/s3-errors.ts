// Maps AWS SDK errors to our typed errors: NotFoundError for missing keys, permanent
// StorageError for what no retry can fix (credentials, permissions, missing bucket),
// transient StorageError for the rest. Messages are one line and never hold secrets.
import { NotFoundError, StorageError } from '../errors.js';
import { LOCK_BUCKET_HINT } from './object-lock.js';

const PERMANENT_NAMES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
  'InvalidBucketName',
  'InvalidRange',
  'InvalidArgument',
  'InvalidRequest',
  'EntityTooLarge',
  'EntityTooSmall',
  'InvalidPart',
  'InvalidPartOrder',
  'MalformedXML',
  'MethodNotAllowed',
  'NotImplemented',
  'ExpiredToken',
  'InvalidToken',
  'InvalidObjectState',
  'PermanentRedirect',
  'CredentialsProviderError',
]);

const HINTS: Record<string, string> = {
  AccessDenied: 'check the IAM policy for this bucket and prefix',
  InvalidAccessKeyId: 'check AWS_ACCESS_KEY_ID / the AWS profile',
  SignatureDoesNotMatch: 'check AWS_SECRET_ACCESS_KEY / the AWS profile',
  NoSuchBucket: 'create the bucket or fix the storage URL',
  CredentialsProviderError: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or use an instance role',
  ExpiredToken: 'refresh the AWS session credentials',
  PermanentRedirect: 'add the bucket\'s region to the storage URL (?region=…)',
};

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number; totalRetryDelay?: number };
}

export function s3ErrorName(err: unknown): string {
  const e = err as SdkErrorShape | undefined;
  return e?.name ?? 'Error';
}

export function s3ErrorStatus(err: unknown): number | undefined {
  return (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** Convert an SDK error for operation `op` on `key` (`where` is e.g. `s3://bucket/prefix`). */
export function mapS3Error(err: unknown, key: string, op: string, where: string): Error {
  if (err instanceof StorageError) return err;
  const name = s3ErrorName(err);
  const status = s3ErrorStatus(err);
  const e = err as SdkErrorShape | undefined;
  if ((name === 'NoSuchKey' || name === 'NotFound' || status === 404) && name !== 'NoSuchBucket' && name !== 'NoSuchUpload') {
    return new NotFoundError(key, { cause: err });
  }
  const message = oneLine(e?.message ?? String(err));
  // Network failures arrive as plain Errors whose message already names the errno.
  let reason = name === 'Error' ? message : `${name}: ${message}`;
  if (/region is missing/i.test(e?.message ?? '')) {
    return new StorageError(`s3 ${op} ${where}/${key} failed: no AWS region; add ?region=… to the storage URL or set AWS_REGION`, key, true, { cause: err });
  }
  const attempts = e?.$metadata?.attempts;
  const waited = e?.$metadata?.totalRetryDelay;
  if (attempts && attempts > 1) reason += ` (after ${attempts} attempts${waited ? ` over ${Math.round(waited / 1000)} s` : ''})`;
  const permanent = PERMANENT_NAMES.has(name) || status === 403 || status === 405 || status === 501;
  // A lock-parameter upload to a bucket without Object Lock: AWS "Bucket is missing Object Lock
  // Configuration", MinIO "Bucket is missing ObjectLockConfiguration".
  const lockHint = /missing\s*object\s*lock\s*configuration/i.test(message) ? LOCK_BUCKET_HINT : undefined;
  const hint = lockHint ?? HINTS[name] ?? (status === 403 ? 'check the credentials and the bucket policy' : permanent ? '' : 'check the endpoint and the network; the operation may be retried');
  return new StorageError(`s3 ${op} ${where}/${key} failed: ${reason}${hint ? `; ${hint}` : ''}`, key, permanent, { cause: err });
}

function oneLine(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return first.length > 300 ? `${first.slice(0, 300)}…` : first;
}
