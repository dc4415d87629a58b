// The S3 driver (s3://bucket/prefix). Streams are uploaded with our own multipart
// uploader rather than @aws-sdk/lib-storage: lib-storage uses one fixed part size, so a
// stream of unknown length either wastes memory on huge parts or hits the 10,000-part
// limit (10,000 × 5 MiB ≈ 48.8 GiB). Ours grows the part size (see part-size.ts), keeps
// at most `queueSize` parts in memory, and sends each part as a Buffer that the SDK's
// standard retry mode re-sends on its own — a failed part never restarts the stream.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { StorageError } from '../errors.js';
import { log } from '../util/logger.js';
import { assertValidKey, assertValidPrefix } from './keys.js';
import { initialPartSize, MAX_PART_SIZE, MAX_PARTS, partSizeFor } from './part-size.js';
import { mapS3Error, s3ErrorName, s3ErrorStatus } from './s3-errors.js';
import type { ObjectInfo, PutOptions, PutResult, Storage } from './storage.js';

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing `/` ('' for the bucket root). */
  prefix?: string;
  /** Custom endpoint (MinIO, s3rver, …); path-style addressing is then the default. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** SDK attempts per request (standard retry mode), default 5. */
  maxAttempts?: number;
  /** First multipart part size in bytes (min 5 MiB), default 8 MiB; grows, see part-size.ts. */
  partSize?: number;
  /** Parts uploaded concurrently (each held in memory), default 3. */
  queueSize?: number;
  /** ListObjectsV2 page size, default 1000 (tests use a few to exercise pagination). */
  pageSize?: number;
  /** Socket idle timeout per request, default 120 s; connect timeout 10 s. */
  requestTimeoutMs?: number;
  /** Explicit credentials (tests); production uses the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export class S3Storage implements Storage {
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly root: string;
  private readonly partSize: number | undefined;
  private readonly queueSize: number;
  private readonly pageSize: number;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.root = prefix ? `${prefix}/` : '';
    this.location = `s3://${this.bucket}${prefix ? `/${prefix}` : ''}`;
    this.partSize = options.partSize;
    this.queueSize = Math.max(1, options.queueSize ?? 3);
    this.pageSize = options.pageSize ?? 1000;
    // The SDK warns on every run that future versions need Node 22; that is a note
    // for maintainers, not for operators reading dbops's stderr.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      // A custom endpoint rarely cares about the region, but SigV4 needs one.
      region: options.region ?? (options.endpoint ? 'us-east-1' : undefined),
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      followRegionRedirects: !options.endpoint,
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
      // Our manifests carry sha256 of every stored object; SDK default checksums add
      // headers some S3-compatible stores reject, so send them only where required.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: options.requestTimeoutMs ?? 120_000 },
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  async put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<PutResult> {
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
    try {
      await this.call(key, 'remove', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
    } catch (err) {
      if (err instanceof StorageError && err.name === 'NotFoundError') return;
      throw err;
    }
  }

  private async putObject(key: string, body: Buffer, options?: PutOptions): Promise<void> {
    await this.call(key, 'put', () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.root + key,
          Body: body,
          ContentLength: body.length,
          ContentType: options?.contentType ?? 'application/octet-stream',
        }),
      ),
    );
  }

  /**
   * Read the stream part by part. A body shorter than the first part goes up as one
   * PutObject; otherwise a multipart upload with at most `queueSize` parts in flight.
   * Any failure (a part that ran out of retries, or the source stream itself) aborts
   * the upload so nothing becomes visible; the source's own error is rethrown as is.
   */
  private async putStream(key: string, source: Readable, options?: PutOptions): Promise<PutResult> {
    const firstSize = initialPartSize(this.partSize, options?.sizeHint);
    const chunks: Buffer[] = [];
    let buffered = 0;
    let total = 0;
    let partNumber = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const inflight = new Set<Promise<void>>();
    const abort = new AbortController();
    let partError: unknown;

    const take = (size: number): Buffer => {
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      const part = all.subarray(0, size);
      const rest = all.subarray(size);
      chunks.length = 0;
      buffered = rest.length;
      // A small remainder is copied so it does not pin the part's memory; a big one
      // (a caller handed us one huge chunk) is kept as a view to avoid quadratic copying.
      if (rest.length > 0) chunks.push(rest.length < size / 4 ? Buffer.from(rest) : rest);
      return part;
    };

    const startUpload = async (): Promise<string> => {
      const res = await this.call(key, 'put', () =>
        this.client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.root + key,
            ContentType: options?.contentType ?? 'application/octet-stream',
          }),
        ),
      );
      if (!res.UploadId) throw new StorageError(`s3 put ${this.location}/${key} failed: CreateMultipartUpload returned no UploadId`, key, false);
      return res.UploadId;
    };

    const launch = (id: string, number: number, body: Buffer): void => {
      if (number > MAX_PARTS) {
        throw new StorageError(`s3 put ${this.location}/${key} failed: object exceeds ${MAX_PARTS} parts; pass a sizeHint or a larger part size`, key, true);
      }
      const p: Promise<void> = this.client
        .send(new UploadPartCommand({ Bucket: this.bucket, Key: this.root + key, UploadId: id, PartNumber: number, Body: body, ContentLength: body.length }), {
          abortSignal: abort.signal,
        })
        .then((res) => {
          if (!res.ETag) throw new StorageError(`s3 put ${this.location}/${key} failed: part ${number} returned no ETag`, key, false);
          parts.push({ PartNumber: number, ETag: res.ETag });
          log.debug({ key, part: number, bytes: body.length }, 'uploaded part');
        })
        .catch((err: unknown) => {
          partError ??= mapS3Error(err, key, `put (part ${number})`, this.location);
          abort.abort();
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    };

    const waitForSlot = async (limit: number): Promise<void> => {
      while (inflight.size > limit && !partError) await Promise.race(inflight);
      if (partError) throw partError;
    };

    try {
      for await (const chunk of source) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        chunks.push(buf);
        buffered += buf.length;
        total += buf.length;
        let size = partSizeFor(partNumber + 1, firstSize);
        while (buffered >= size) {
          uploadId ??= await startUpload();
          await waitForSlot(this.queueSize - 1);
          partNumber += 1;
          launch(uploadId, partNumber, take(size));
          size = partSizeFor(partNumber + 1, firstSize);
        }
        if (partError) throw partError;
      }
      if (uploadId === undefined) {
        await this.putObject(key, take(buffered), options);
        return { key, size: total };
      }
      if (buffered > 0 || partNumber === 0) {
        await waitForSlot(this.queueSize - 1);
        partNumber += 1;
        launch(uploadId, partNumber, take(buffered));
      }
      await waitForSlot(0);
      const id = uploadId;
      parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await this.call(key, 'put', () =>
        this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.root + key, UploadId: id, MultipartUpload: { Parts: parts } }),
        ),
      );
      log.debug({ key, parts: partNumber, bytes: total }, 'multipart upload complete');
      return { key, size: total };
    } catch (err) {
      abort.abort();
      source.destroy();
      await Promise.allSettled([...inflight]);
      if (uploadId !== undefined) await this.abortUpload(key, uploadId);
      throw err;
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
