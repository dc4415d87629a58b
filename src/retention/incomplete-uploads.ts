// Unfinished S3 multipart uploads (a crashed backup's parts) are invisible to listings
// but still billed. ListMultipartUploads finds them; AbortMultipartUpload frees them.
// Some S3-compatible servers (s3rver) answer 405 to the abort: that is reported, not fatal.
import { parseStorageUrl } from '../storage/open-storage.js';
import type { S3Storage } from '../storage/s3-storage.js';
import { s3ErrorName, s3ErrorStatus } from '../storage/s3-errors.js';
import { StorageError } from '../errors.js';
import type { DebrisFacts } from './types.js';

interface Target {
  storage: S3Storage;
  bucket: string;
  root: string;
}

/** The AWS SDK is loaded only for s3:// repositories (see open-storage.ts). */
async function target(storageUrl: string): Promise<Target | undefined> {
  const parsed = parseStorageUrl(storageUrl);
  if (parsed.kind !== 's3') return undefined;
  const { S3Storage } = await import('../storage/s3-storage.js');
  const storage = new S3Storage({ bucket: parsed.bucket, prefix: parsed.prefix, endpoint: parsed.endpoint, region: parsed.region, forcePathStyle: parsed.forcePathStyle });
  return { storage, bucket: parsed.bucket, root: parsed.prefix ? `${parsed.prefix}/` : '' };
}

function unsupported(err: unknown): boolean {
  const status = s3ErrorStatus(err);
  const name = s3ErrorName(err);
  return status === 405 || status === 501 || name === 'NotImplemented' || name === 'MethodNotAllowed';
}

export interface UploadListing {
  uploads: DebrisFacts[];
  /** Set when the store cannot list uploads (then none are reported). */
  problem?: string;
}

/** Unfinished uploads under the repository prefix; empty for file:// repositories. */
export async function listIncompleteUploads(storageUrl: string): Promise<UploadListing> {
  const t = await target(storageUrl);
  if (!t) return { uploads: [] };
  const uploads: DebrisFacts[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  try {
    for (;;) {
      const res = await t.storage.client.send(new (await import('@aws-sdk/client-s3')).ListMultipartUploadsCommand({ Bucket: t.bucket, Prefix: t.root, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        uploads.push({ kind: 'incomplete-upload', name: u.Key.slice(t.root.length), modified: (u.Initiated ?? new Date(0)).toISOString(), bytes: 0, keys: [], uploadId: u.UploadId });
      }
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      uploadIdMarker = res.NextUploadIdMarker;
    }
  } catch (err) {
    if (unsupported(err)) return { uploads, problem: `${t.storage.location} does not support ListMultipartUploads (${s3ErrorStatus(err) ?? s3ErrorName(err)}): unfinished uploads cannot be found; add a bucket lifecycle rule (AbortIncompleteMultipartUpload)` };
    throw new StorageError(`cannot list unfinished uploads in ${t.storage.location}: ${(err as Error).message}`, undefined, false, { cause: err });
  } finally {
    t.storage.client.destroy();
  }
  return { uploads };
}

/** Abort one upload; an unsupported abort (405) is returned as a problem, other errors throw. */
export async function abortIncompleteUpload(storageUrl: string, key: string, uploadId: string): Promise<string | undefined> {
  const t = await target(storageUrl);
  if (!t) return undefined;
  try {
    await t.storage.client.send(new (await import('@aws-sdk/client-s3')).AbortMultipartUploadCommand({ Bucket: t.bucket, Key: t.root + key, UploadId: uploadId }));
    return undefined;
  } catch (err) {
    if (unsupported(err)) return `${t.storage.location} refused AbortMultipartUpload for ${key} (${s3ErrorStatus(err) ?? s3ErrorName(err)}): the upload stays until a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes it`;
    throw new StorageError(`cannot abort the unfinished upload of ${key}: ${(err as Error).message}`, key, false, { cause: err });
  } finally {
    t.storage.client.destroy();
  }
}
