// Turns a storage URL (config key storage.url / DBOPS_STORAGE_URL) into a ready driver
// with retries. URL mistakes become one-line UsageErrors (exit 2), and URLs are
// only ever echoed through describeStorageUrl so credentials never reach a log.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { FileStorage } from './file-storage.js';
import { FILE_LOCK_PROBLEM, type ObjectLockOptions } from './object-lock.js';
import { withRetry, type RetryOptions } from './retry.js';
// The S3 driver (and the AWS SDK: ~220 ms and ~30 MB RSS to load) only when a URL is s3://.
import type { S3StorageOptions } from './s3-storage.js';
import type { Storage } from './storage.js';

export type ParsedStorageUrl =
  | { kind: 'file'; root: string }
  | { kind: 's3'; bucket: string; prefix: string; endpoint?: string; region?: string; forcePathStyle?: boolean };

export interface OpenStorageOptions {
  retry?: RetryOptions;
  /** Driver tuning for S3 (part size, queue size, page size, credentials). */
  s3?: Omit<S3StorageOptions, 'bucket' | 'prefix' | 'endpoint' | 'region' | 'forcePathStyle' | 'objectLock' | 'retry'>;
  /** Lock every object written (storage.objectLock); S3 only. */
  objectLock?: ObjectLockOptions;
}

const S3_PARAMS = ['endpoint', 'region', 'forcePathStyle'];
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Open the repository at `url`, with retries: around the file driver; the S3 driver retries each request itself. */
export async function openStorage(url: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const parsed = parseStorageUrl(url);
  if (parsed.kind === 'file' && options.objectLock) throw fileLockError(url);
  if (parsed.kind === 'file') return withRetry(new FileStorage(parsed.root), options.retry);
  return new (await import('./s3-storage.js')).S3Storage({
    ...options.s3,
    bucket: parsed.bucket,
    prefix: parsed.prefix,
    endpoint: parsed.endpoint,
    region: parsed.region,
    forcePathStyle: parsed.forcePathStyle,
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.objectLock ? { objectLock: options.objectLock } : {}),
  });
}

function fileLockError(url: string): UsageError {
  return new UsageError(`${FILE_LOCK_PROBLEM} (storage URL "${describeStorageUrl(url)}")`);
}

/** Parse and validate without opening anything. Throws UsageError. */
export function parseStorageUrl(url: string): ParsedStorageUrl {
  const shown = describeStorageUrl(url);
  const invalid = (why: string): UsageError =>
    new UsageError(`storage URL "${shown}" is not valid: ${why}; use s3://bucket/prefix?endpoint=…&region=… or file:///path`);
  const trimmed = url.trim();
  if (trimmed.startsWith('file:')) return parseFileUrl(trimmed, invalid);
  if (trimmed.startsWith('s3:')) return parseS3Url(trimmed, invalid);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1];
  throw invalid(scheme ? `unknown scheme "${scheme}:"` : 'it has no scheme');
}

function parseFileUrl(url: string, invalid: (why: string) => UsageError): ParsedStorageUrl {
  if (!url.startsWith('file://')) throw invalid('file URLs start with file:// (file:///abs/path or file://./relative/path)');
  if (/[?#]/.test(url)) throw invalid('file URLs take no query or fragment');
  const rest = url.slice('file://'.length);
  if (rest === '.' || rest === '..' || rest.startsWith('./') || rest.startsWith('../')) {
    return { kind: 'file', root: path.resolve(process.cwd(), decodeURIComponent(rest)) };
  }
  if (!rest.startsWith('/')) throw invalid('use file:///absolute/path or file://./relative/path');
  let root: string;
  try {
    root = fileURLToPath(url);
  } catch {
    throw invalid('the path cannot be decoded');
  }
  if (root === '/') throw invalid('refusing to use the filesystem root as a repository');
  return { kind: 'file', root: path.resolve(root) };
}

function parseS3Url(url: string, invalid: (why: string) => UsageError): ParsedStorageUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('it cannot be parsed');
  }
  if (!url.startsWith('s3://')) throw invalid('S3 URLs start with s3://');
  if (parsed.username || parsed.password) {
    throw invalid('credentials do not belong in the URL; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE');
  }
  if (parsed.hash) throw invalid('S3 URLs take no fragment');
  const bucket = parsed.hostname;
  if (!bucket) throw invalid('the bucket name is missing');
  if (parsed.port) throw invalid('a port belongs in ?endpoint=, not after the bucket');
  if (!BUCKET_RE.test(bucket) || bucket.includes('..')) {
    throw invalid(`"${bucket}" is not a valid bucket name (3–63 lowercase letters, digits, dots, hyphens)`);
  }
  let prefix: string;
  try {
    // The raw path, not parsed.pathname: URL parsing would quietly resolve "a/../b".
    const rawPath = /^s3:\/\/[^/?#]*([^?#]*)/.exec(url)?.[1] ?? '';
    prefix = decodeURIComponent(rawPath).replace(/^\/+|\/+$/g, '');
  } catch {
    throw invalid('the prefix cannot be decoded');
  }
  if (prefix.split('/').some((s) => s === '.' || s === '..' || (s === '' && prefix !== ''))) {
    throw invalid('the prefix must not contain empty, "." or ".." segments');
  }
  const result: ParsedStorageUrl = { kind: 's3', bucket, prefix };
  for (const [name, value] of parsed.searchParams) {
    if (!S3_PARAMS.includes(name)) throw invalid(`unknown parameter "${name}" (known: ${S3_PARAMS.join(', ')})`);
    if (name === 'endpoint') {
      let endpoint: URL;
      try {
        endpoint = new URL(value);
      } catch {
        throw invalid('endpoint must be an http:// or https:// URL');
      }
      if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw invalid('endpoint must be an http:// or https:// URL');
      if (endpoint.username || endpoint.password) throw invalid('credentials do not belong in the endpoint; use the AWS credential chain');
      result.endpoint = value.replace(/\/+$/, '');
    } else if (name === 'region') {
      if (!/^[a-z0-9-]+$/.test(value)) throw invalid(`region "${value}" is not valid`);
      result.region = value;
    } else if (name === 'forcePathStyle') {
      if (value !== 'true' && value !== 'false') throw invalid('forcePathStyle must be true or false');
      result.forcePathStyle = value === 'true';
    }
  }
  return result;
}

/**
 * The URL with credentials removed, safe for logs and messages: user:password@ parts
 * (also inside ?endpoint=) and secret-looking query parameters are dropped.
 */
export function describeStorageUrl(url: string): string {
  const secretParam = /(secret|password|token|signature|credential|key)/i;
  return url
    .trim()
    .replace(/\/\/[^/?#@]*@/g, '//')
    .replace(/%2F%2F[^/?#&]*?%40/gi, '%2F%2F')
    .replace(/([?&])([^=&#]+)=([^&#]*)/g, (whole, sep: string, name: string) => (secretParam.test(name) ? `${sep}${name}=[redacted]` : whole));
}
