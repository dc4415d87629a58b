// The S3 driver (s3://bucket/prefix). Streams are uploaded with our own multipart
// uploader rather than @aws-sdk/lib-storage: lib-storage uses one fixed part size, so a
// stream of unknown length either wastes memory on huge parts or hits the 10,000-part
// limit (10,000 × 5 MiB ≈ 48.8 GiB). Ours grows the part size (see part-size.ts), keeps
// at most `queueSize` parts in flight across all its uploads, and sends each part as a Buffer that the SDK
// re-sends on its own (our retry strategy, s3-retry.ts) — a failed part never restarts the stream.
//
// With Object Lock (options.objectLock, see object-lock.ts) every PutObject and
// CreateMultipartUpload carries ObjectLockMode and ObjectLockRetainUntilDate, and every
// PutObject and UploadPart a Content-MD5: S3 refuses lock parameters without Content-MD5
// or an x-amz-checksum-* header ("Content-MD5 OR x-amz-checksum- HTTP header is required
// for Put Object requests with Object Lock parameters"; UploadPart likewise), and the
// client below sends SDK checksums only where an operation requires them (PutObject and
// UploadPart do not; PutObjectRetention and PutObjectLegalHold do, and get them from the
// SDK). Content-MD5 rather than x-amz-checksum-crc32 because every S3-compatible store
// understands it; it costs an MD5 pass over each part (~600 MB/s), only in lock mode.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectLockedError, StorageError } from '../errors.js';
import { log } from '../util/logger.js';
import { assertValidKey, assertValidPrefix } from './keys.js';
import { s3LockMode, type ObjectLockOptions } from './object-lock.js';
import { initialPartSize, MAX_PART_SIZE, MAX_PARTS, partSizeFor, SEGMENTED_PART_CAP } from './part-size.js';
import { segmentKey, type Segment } from './segments.js';
import { PartBuffers } from './part-buffers.js';
import { mapS3Error, s3ErrorName, s3ErrorStatus } from './s3-errors.js';
import { S3RetryStrategy } from './s3-retry.js';
import type { RetryOptions } from './retry.js';
import type { BucketLockState, ConditionalCreate, LockMode, ObjectInfo, ObjectLocking, ObjectRetention, PutOptions, PutResult, PutStream, Storage } from './storage.js';
import { emulatedCreate } from './conditional-create.js';

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing `/` ('' for the bucket root). */
  prefix?: string;
  /** Custom endpoint (MinIO, s3rver, …); path-style addressing is then the default. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** How each request is retried (s3-retry.ts); default ~30 s of exponential backoff. */
  retry?: RetryOptions;
  /** First multipart part size in bytes (min and default 5 MiB); grows, see part-size.ts. */
  partSize?: number;
  /** Parts in flight at once across ALL uploads of this storage (each held in memory), default 2:
   *  a backup streams several objects at once (one per table dump), and a per-upload limit let
   *  their buffers add up (S3 bench, 1 GB: 70–98 MB of part buffers). Measured enough to keep a local S3 busy. */
  queueSize?: number;
  /** Parts one object may have, default S3's 10,000 (tests use a few to exercise segmented puts). */
  maxPartsPerObject?: number;
  /** ListObjectsV2 page size, default 1000 (tests use a few to exercise pagination). */
  pageSize?: number;
  /** Socket idle timeout per request, default 120 s; connect timeout 10 s. */
  requestTimeoutMs?: number;
  /** Explicit credentials (tests); production uses the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Lock every object written (storage.objectLock); see object-lock.ts. */
  objectLock?: ObjectLockOptions;
}

export class S3Storage implements Storage {
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly root: string;
  private readonly partSize: number | undefined;
  private readonly partSlots: Slots;
  private readonly partBuffers: PartBuffers;
  private readonly pageSize: number;
  private readonly maxParts: number;
  private readonly lockOptions: ObjectLockOptions | undefined;
  readonly lock?: ObjectLocking;
  /**
   * PutObject with `If-None-Match: *` inside a check-and-read-back (conditional-create.ts):
   * AWS S3 and MinIO answer 412 to the second create; s3rver ignores the header and
   * overwrites, which the read-back and enforced()'s probe tell apart.
   */
  readonly conditional: ConditionalCreate = {
    createIfAbsent: (key, body, options) => {
      assertValidKey(key);
      return emulatedCreate(this, key, body, options, (k, b, o) => this.putObject(k, b, o, true));
    },
    enforced: () => (this.enforcedProbe ??= this.probeEnforced()),
  };
  private enforcedProbe: Promise<boolean> | undefined;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.root = prefix ? `${prefix}/` : '';
    this.location = `s3://${this.bucket}${prefix ? `/${prefix}` : ''}`;
    this.partSize = options.partSize;
    this.partSlots = new Slots(Math.max(1, options.queueSize ?? 2));
    // Enough idle buffers for the parts in flight to come back and go out again as the next ones.
    this.partBuffers = new PartBuffers(Math.max(1, options.queueSize ?? 2) + 1);
    this.pageSize = options.pageSize ?? 1000;
    this.maxParts = Math.min(MAX_PARTS, Math.max(1, options.maxPartsPerObject ?? MAX_PARTS));
    // The SDK warns on every run that future versions need Node 22; that is a note
    // for maintainers, not for operators reading dbops's stderr.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const retry = new S3RetryStrategy(options.retry, this.location);
    this.client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      // A custom endpoint rarely cares about the region, but SigV4 needs one.
      region: options.region ?? (options.endpoint ? 'us-east-1' : undefined),
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      followRegionRedirects: !options.endpoint,
      retryStrategy: retry,
      maxAttempts: retry.maxAttempts,
      // Our manifests carry sha256 of every stored object; SDK default checksums add
      // headers some S3-compatible stores reject, so send them only where required.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: options.requestTimeoutMs ?? 120_000 },
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    this.lockOptions = options.objectLock;
    if (options.objectLock) {
      const o = options.objectLock;
      this.lock = {
        mode: o.mode,
        uploadPeriodMs: o.uploadPeriodMs,
        retention: (key) => this.retention(key),
        extendRetention: (key, until) => this.extendRetention(key, until),
        setLegalHold: (key, on) => this.setLegalHold(key, on),
        bucketState: () => this.bucketState(),
      };
    }
  }

  async put(key: string, body: PutStream | Buffer, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    if (Buffer.isBuffer(body) && body.length <= MAX_PART_SIZE) {
      await this.putObject(key, body, options);
      return { key, size: body.length };
    }
    const stream = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    return this.putStream(key, stream, options);
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    assertValidKey(key);
    if (range && (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end !== undefined && range.end < range.start))) {
      throw new StorageError(`invalid byte range ${range.start}-${range.end ?? ''} for ${key}`, key, true);
    }
    const res = await this.call(key, 'get', () =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.root + key,
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      ),
    );
    return (res.Body as Readable | undefined) ?? Readable.from([]);
  }

  async getBuffer(key: string): Promise<Buffer> {
    assertValidKey(key);
    const res = await this.call(key, 'get', () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
    if (!res.Body) return Buffer.alloc(0);
    const bytes = await res.Body.transformToByteArray();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    assertValidKey(key);
    try {
      const res = await this.call(key, 'stat', () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
      return { key, size: res.ContentLength ?? 0, modified: res.LastModified ?? new Date(0) };
    } catch (err) {
      // S3 answers HEAD without a body, so a missing bucket also looks like 404 here.
      if (err instanceof StorageError && err.name === 'NotFoundError') return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      const res = await this.call(prefix || '(all)', 'list', () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.root + prefix, MaxKeys: this.pageSize, ContinuationToken: token }),
        ),
      );
      for (const obj of res.Contents ?? []) {
        if (!obj.Key) continue;
        yield { key: obj.Key.slice(this.root.length), size: obj.Size ?? 0, modified: obj.LastModified ?? new Date(0) };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  async remove(key: string): Promise<void> {
    assertValidKey(key);
    if (this.lockOptions) return this.removeVersions(key);
    try {
      await this.call(key, 'remove', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
    } catch (err) {
      if (err instanceof StorageError && err.name === 'NotFoundError') return;
      throw err;
    }
  }

  /** One PutObject; `ifAbsent` sends If-None-Match: * and returns quietly when the store answers 412 (the key exists). */
  private async putObject(key: string, body: Buffer, options?: PutOptions, ifAbsent = false): Promise<void> {
    try {
      await this.call(key, 'put', () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.root + key,
            Body: body,
            ContentLength: body.length,
            ContentType: options?.contentType ?? 'application/octet-stream',
            ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
            ...this.lockFields(options),
            ...this.md5(body),
          }),
        ),
      );
    } catch (err) {
      // 409 ConditionalRequestConflict: another conditional write of the key is in flight; it wins.
      const status = (err as StorageError).cause === undefined ? undefined : s3ErrorStatus((err as StorageError).cause);
      if (ifAbsent && (status === 412 || status === 409)) return;
      throw err;
    }
  }

  /** Does the store refuse a second If-None-Match create? A probe object, created twice, then removed. */
  private async probeEnforced(): Promise<boolean> {
    const key = `doctor/conditional-probe-${randomBytes(8).toString('hex')}`;
    const first = Buffer.from('first\n');
    try {
      await this.putObject(key, first, { unlocked: true }, true);
      await this.putObject(key, Buffer.from('second\n'), { unlocked: true }, true);
      return (await this.getBuffer(key)).equals(first);
    } finally {
      await this.remove(key).catch((err: unknown) => log.warn({ key, err: (err as Error).message }, 'could not remove the conditional-write probe object'));
    }
  }

  /** Lock mode and retain-until for an object written now (nothing when unlocked). */
  private lockFields(options?: PutOptions): { ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE'; ObjectLockRetainUntilDate?: Date } {
    if (!this.lockOptions || options?.unlocked) return {};
    return { ObjectLockMode: s3LockMode(this.lockOptions.mode), ObjectLockRetainUntilDate: new Date(Date.now() + this.lockOptions.uploadPeriodMs) };
  }

  /** Content-MD5 for a body sent to a lock-enabled bucket (see the header comment). */
  private md5(body: Buffer): { ContentMD5?: string } {
    return this.lockOptions ? { ContentMD5: createHash('md5').update(body).digest('base64') } : {};
  }

  /**
   * Read the stream part by part. A body shorter than the first part goes up as one
   * PutObject; otherwise a multipart upload sharing the driver's `queueSize` part slots.
   * A segmented put caps the part size and, once an object holds `maxParts` parts,
   * completes it and goes on in the next object (segments.ts names them).
   * Any failure (a part that ran out of retries, or the source stream itself) aborts
   * the upload and removes the objects already completed, so nothing stays visible; the
   * source's own error is rethrown as is.
   */
  private async putStream(key: string, source: PutStream, options?: PutOptions): Promise<PutResult> {
    const segmented = options?.segmented === true;
    const cap = segmented ? SEGMENTED_PART_CAP : MAX_PART_SIZE;
    const firstSize = Math.min(cap, initialPartSize(this.partSize, options?.sizeHint));
    // Incoming chunks are copied straight into the part's own buffer: no list of chunks
    // plus a concatenated copy of them (twice the part in memory at the moment it goes),
    // and none kept once the next is asked for (PutStream).
    // The buffers are the driver's (part-buffers.ts): `part` is held from here until it is sent or the upload fails.
    let part: Buffer | undefined = this.partBuffers.take(firstSize);
    let buffered = 0;
    let total = 0;
    /** Parts sent so far over all objects: the size schedule goes on across them. */
    let sentParts = 0;
    // The object being written: its key, multipart upload, parts and size.
    let objectKey = key;
    let partNumber = 0;
    let uploadId: string | undefined;
    let parts: CompletedPart[] = [];
    let objectBytes = 0;
    const completed: Segment[] = [];
    const inflight = new Set<Promise<void>>();
    const abort = new AbortController();
    let partError: unknown;

    /** The filled part (and the buffer holding it), and a buffer for the next part if there is one. */
    const take = (nextSize?: number): { body: Buffer; buffer: Buffer } => {
      const buffer = part!;
      part = nextSize === undefined ? undefined : this.partBuffers.take(nextSize);
      const body = buffer.subarray(0, buffered);
      buffered = 0;
      return { body, buffer };
    };

    const startUpload = async (): Promise<string> => {
      const target = objectKey;
      const res = await this.call(target, 'put', () =>
        this.client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.root + target,
            ContentType: options?.contentType ?? 'application/octet-stream',
            ...this.lockFields(options),
          }),
        ),
      );
      if (!res.UploadId) throw new StorageError(`s3 put ${this.location}/${target} failed: CreateMultipartUpload returned no UploadId`, target, false);
      return res.UploadId;
    };

    const launch = (id: string, number: number, { body, buffer }: { body: Buffer; buffer: Buffer }): void => {
      const target = objectKey;
      if (number > this.maxParts) {
        this.partSlots.release();
        this.partBuffers.release(buffer, true);
        throw new StorageError(`s3 put ${this.location}/${target} failed: object exceeds ${this.maxParts} parts; pass a sizeHint or a larger part size`, target, true);
      }
      objectBytes += body.length;
      sentParts += 1;
      const done = parts;
      let sent = false;
      const p: Promise<void> = this.client
        .send(new UploadPartCommand({ Bucket: this.bucket, Key: this.root + target, UploadId: id, PartNumber: number, Body: body, ContentLength: body.length, ...this.md5(body) }), {
          abortSignal: abort.signal,
        })
        .then((res) => {
          if (!res.ETag) throw new StorageError(`s3 put ${this.location}/${target} failed: part ${number} returned no ETag`, target, false);
          done.push({ PartNumber: number, ETag: res.ETag });
          sent = true;
          log.debug({ key: target, part: number, bytes: body.length }, 'uploaded part');
        })
        .catch((err: unknown) => {
          partError ??= mapS3Error(err, target, `put (part ${number})`, this.location);
          abort.abort();
        })
        .finally(() => {
          inflight.delete(p);
          this.partSlots.release();
          this.partBuffers.release(buffer, sent);
        });
      inflight.add(p);
    };

    /** A driver-wide slot for the next part (released when that part is uploaded). */
    const takeSlot = async (): Promise<void> => {
      await this.partSlots.acquire();
      if (partError) {
        this.partSlots.release();
        throw partError;
      }
    };

    /** Once its parts are all sent, complete the object's upload; a segmented put goes on in the next object. */
    const completeObject = async (): Promise<void> => {
      while (inflight.size && !partError) await Promise.race(inflight);
      if (partError) throw partError;
      const id = uploadId!;
      const target = objectKey;
      const sorted = [...parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await this.call(target, 'put', () =>
        this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.root + target, UploadId: id, MultipartUpload: { Parts: sorted } })),
      );
      log.debug({ key: target, parts: partNumber, bytes: objectBytes }, 'multipart upload complete');
      completed.push({ key: target, size: objectBytes });
      uploadId = undefined;
      objectKey = segmentKey(key, completed.length + 1);
      partNumber = 0;
      parts = [];
      objectBytes = 0;
    };

    const result = (): PutResult => ({ key, size: total, ...(completed.length > 1 ? { segments: completed } : {}) });

    try {
      for await (const chunk of source) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        total += buf.length;
        let offset = 0;
        while (offset < buf.length) {
          // Set until the last part is taken, which only happens after the input ends.
          const target = part!;
          const n = buf.copy(target, buffered, offset);
          buffered += n;
          offset += n;
          if (buffered === target.length) {
            // Full: it goes once a slot is free, and the next part (maybe bigger) starts.
            uploadId ??= await startUpload();
            await takeSlot();
            partNumber += 1;
            launch(uploadId, partNumber, take(partSizeFor(sentParts + 2, firstSize, cap)));
            if (segmented && partNumber === this.maxParts) await completeObject();
          }
        }
        if (partError) throw partError;
      }
      if (uploadId === undefined) {
        const { body, buffer } = take();
        // The input ended exactly where a segmented put's object did: there is no next one.
        if (completed.length > 0 && body.length === 0) {
          this.partBuffers.release(buffer, true);
          return result();
        }
        let sent = false;
        try {
          await this.putObject(objectKey, body, options);
          sent = true;
        } finally {
          this.partBuffers.release(buffer, sent);
        }
        completed.push({ key: objectKey, size: body.length });
        return result();
      }
      if (buffered > 0 || partNumber === 0) {
        await takeSlot();
        partNumber += 1;
        launch(uploadId, partNumber, take());
      } else {
        // The input ended exactly on a part boundary: the buffer taken for a next part is not needed.
        this.partBuffers.release(take().buffer, true);
      }
      await completeObject();
      return result();
    } catch (err) {
      // A buffer still being filled was never handed to a request.
      if (part) this.partBuffers.release(take().buffer, true);
      abort.abort();
      source.destroy?.();
      await Promise.allSettled([...inflight]);
      if (uploadId !== undefined) await this.abortUpload(objectKey, uploadId);
      for (const s of completed) {
        await this.remove(s.key).catch((e: unknown) => log.warn({ key: s.key, err: (e as Error).message }, 'could not remove an object of a failed segmented upload; prune removes it as debris'));
      }
      throw err;
    }
  }

  /**
   * Lock mode: delete every version of the key (and its delete markers) by version id,
   * older ones first and the current one last, so a retained version never gets an
   * older one promoted over it. A plain DELETE would only add a delete marker.
   */
  private async removeVersions(key: string): Promise<void> {
    const full = this.root + key;
    const versions: Array<{ id: string; latest: boolean }> = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const res = await this.call(key, 'remove (list versions)', () =>
        this.client.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: full, KeyMarker: keyMarker, VersionIdMarker: versionMarker })),
      );
      const entries = [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])];
      for (const v of entries) if (v.Key === full && v.VersionId) versions.push({ id: v.VersionId, latest: v.IsLatest ?? false });
      // Keys sort after their own prefix: once another key shows up, this key's versions are all seen.
      if (!res.IsTruncated || entries.some((v) => v.Key !== full)) break;
      keyMarker = res.NextKeyMarker;
      versionMarker = res.NextVersionIdMarker;
    }
    versions.sort((a, b) => Number(a.latest) - Number(b.latest));
    for (const v of versions) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: full, VersionId: v.id }));
      } catch (err) {
        if (s3ErrorName(err) === 'AccessDenied' || s3ErrorStatus(err) === 403) throw await this.refusedDelete(key, v.id, err);
        const mapped = mapS3Error(err, key, 'remove', this.location);
        if (mapped.name === 'NotFoundError') continue;
        throw mapped;
      }
    }
  }

  /**
   * A version delete was refused: ObjectLockedError when the version is retained or
   * held (or when no retention is readable, then unconfirmed); a visible retention that
   * already ended means the refusal is a permission problem, thrown as such.
   */
  private async refusedDelete(key: string, versionId: string, cause: unknown): Promise<Error> {
    const where = `${this.location}/${key}`;
    let head: HeadObjectCommandOutput | undefined;
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key, VersionId: versionId }));
    } catch {
      head = undefined;
    }
    const r = head ? retentionOf(head) : undefined;
    // Judged with the store's clock in mind: a date a few minutes past here may not be past there.
    const now = Date.now() - CLOCK_SKEW_MS;
    if (r && ((r.retainUntil && r.retainUntil.getTime() > now) || r.legalHold)) {
      const what = [r.retainUntil && r.retainUntil.getTime() > now ? `${r.mode ?? 'retained'} until ${r.retainUntil.toISOString()}` : '', r.legalHold ? 'legal hold' : ''].filter(Boolean).join(', ');
      return new ObjectLockedError(`${where} is under Object Lock (${what}): it cannot be deleted before then`, key, r.retainUntil, r.legalHold, true, { cause });
    }
    if (r?.retainUntil || r?.mode) {
      return mapS3Error(cause, key, 'remove (version)', this.location);
    }
    return new ObjectLockedError(
      `${where}: delete refused (AccessDenied) and no retention is readable: treated as still locked; if it is not, grant s3:DeleteObjectVersion (and s3:GetObjectRetention to see the date)`,
      key,
      undefined,
      false,
      false,
      { cause },
    );
  }

  private async retention(key: string): Promise<ObjectRetention | undefined> {
    assertValidKey(key);
    try {
      const head = await this.call(key, 'stat (retention)', () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
      return retentionOf(head);
    } catch (err) {
      if (err instanceof StorageError && err.name === 'NotFoundError') return undefined;
      throw err;
    }
  }

  private async extendRetention(key: string, until: Date): Promise<void> {
    assertValidKey(key);
    const configured = this.lockOptions!.mode;
    const put = (mode: LockMode): Promise<unknown> =>
      this.client.send(new PutObjectRetentionCommand({ Bucket: this.bucket, Key: this.root + key, Retention: { Mode: s3LockMode(mode), RetainUntilDate: until } }));
    try {
      await put(configured);
    } catch (err) {
      if (s3ErrorName(err) !== 'AccessDenied' && s3ErrorStatus(err) !== 403) throw mapS3Error(err, key, 'extend retention', this.location);
      // Refused: a later date is already set (retention never shortens), or the object
      // is in compliance mode and cannot be moved to governance; anything else is real.
      const current = await this.retention(key);
      if (current?.retainUntil && current.retainUntil.getTime() >= until.getTime()) return;
      if (current?.mode === 'compliance' && configured === 'governance') {
        await this.call(key, 'extend retention', () => put('compliance'));
        return;
      }
      throw mapS3Error(err, key, 'extend retention', this.location);
    }
  }

  private async setLegalHold(key: string, on: boolean): Promise<void> {
    assertValidKey(key);
    await this.call(key, 'legal hold', () =>
      this.client.send(new PutObjectLegalHoldCommand({ Bucket: this.bucket, Key: this.root + key, LegalHold: { Status: on ? 'ON' : 'OFF' } })),
    );
  }

  private async bucketState(): Promise<BucketLockState> {
    try {
      const res = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }));
      const conf = res.ObjectLockConfiguration;
      if (conf?.ObjectLockEnabled !== 'Enabled') return { enabled: false, detail: `bucket ${this.bucket} has an Object Lock configuration that is not enabled` };
      const d = conf.Rule?.DefaultRetention;
      const defaultRetention = d ? `${d.Mode ?? '?'} ${d.Days !== undefined ? `${d.Days}d` : `${d.Years ?? '?'}y`}` : undefined;
      return {
        enabled: true,
        detail: `bucket ${this.bucket} has Object Lock enabled${defaultRetention ? `, default retention ${defaultRetention}` : ', no default retention'}`,
        ...(defaultRetention ? { defaultRetention } : {}),
      };
    } catch (err) {
      const name = s3ErrorName(err);
      const status = s3ErrorStatus(err);
      if (name === 'ObjectLockConfigurationNotFoundError' || (status === 404 && name !== 'NoSuchBucket')) {
        return { enabled: false, detail: `bucket ${this.bucket} has no Object Lock configuration (${name})` };
      }
      if (name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405) {
        return { enabled: false, detail: `${this.location}: the store does not implement Object Lock (${status ?? name})` };
      }
      if (name === 'AccessDenied' || status === 403) {
        return { enabled: undefined, detail: `cannot read the Object Lock configuration of bucket ${this.bucket} (AccessDenied): grant s3:GetBucketObjectLockConfiguration` };
      }
      throw mapS3Error(err, '(bucket)', 'read Object Lock configuration of', this.location);
    }
  }

  /** Best effort: some S3-compatible servers (s3rver) answer 405/NotImplemented. */
  private async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.root + key, UploadId: uploadId }));
    } catch (err) {
      const name = s3ErrorName(err);
      const status = s3ErrorStatus(err);
      const unsupported = status === 405 || status === 501 || name === 'NotImplemented' || name === 'MethodNotAllowed';
      log.warn(
        { key, storage: this.location, error: name === 'Error' ? (err as Error).message : `${name}${status ? ` ${status}` : ''}` },
        unsupported
          ? 'storage does not support AbortMultipartUpload; uploaded parts may linger until a bucket lifecycle rule removes incomplete uploads'
          : 'could not abort the multipart upload; uploaded parts may linger until a bucket lifecycle rule removes incomplete uploads',
      );
    }
  }

  private async call<T>(key: string, op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapS3Error(err, key, op, this.location);
    }
  }
}

/** Clock difference tolerated between this host and the store when reading a refusal. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The lock headers of a HEAD answer (absent without s3:GetObjectRetention / s3:GetObjectLegalHold). */
function retentionOf(head: HeadObjectCommandOutput): ObjectRetention {
  const mode = head.ObjectLockMode === 'COMPLIANCE' ? 'compliance' : head.ObjectLockMode === 'GOVERNANCE' ? 'governance' : undefined;
  return {
    ...(mode ? { mode } : {}),
    ...(head.ObjectLockRetainUntilDate ? { retainUntil: new Date(head.ObjectLockRetainUntilDate) } : {}),
    legalHold: head.ObjectLockLegalHoldStatus === 'ON',
  };
}

/** A counting semaphore, first come first served. */
class Slots {
  private readonly waiting: Array<() => void> = [];

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the longest waiter, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}
