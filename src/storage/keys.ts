// Object keys are `/`-separated relative paths, the same for every driver. One check
// here keeps a key like `../../etc/passwd` from ever reaching the file driver, and
// keeps S3 and file repositories interchangeable.
import { UsageError } from '../errors.js';

/** Prefix of the file driver's in-progress files; no key segment may start with it. */
export const TEMP_FILE_PREFIX = '.dbops-tmp-';

/** Throws UsageError unless `key` is a non-empty relative path without `.`/`..`/empty segments. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) {
    throw new UsageError(`storage key ${JSON.stringify(key)} is not valid: ${problem}`);
  }
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (key.length > 1024) return 'it is longer than 1024 characters';
  if (key.startsWith('/')) return 'keys are relative paths and must not start with "/"';
  if (key.includes('\\') || key.includes('\0')) return 'it contains a backslash or NUL';
  for (const segment of key.split('/')) {
    if (segment === '') return 'it contains an empty path segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return 'it contains a "." or ".." segment';
    if (segment.startsWith(TEMP_FILE_PREFIX)) return `segments must not start with "${TEMP_FILE_PREFIX}"`;
  }
  return undefined;
}

/** Throws UsageError for list prefixes that could escape the repository root. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  if (prefix.startsWith('/') || prefix.split('/').some((s) => s === '.' || s === '..') || prefix.includes('\\')) {
    throw new UsageError(`storage prefix ${JSON.stringify(prefix)} is not valid: use a relative path without "." or ".." segments`);
  }
}

/** S3's listing order: UTF-8 byte order (differs from JS string order only for astral characters). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
