// S3 Object Lock for tests, as a recording HTTP proxy in front of s3rver. s3rver stores
// and serves the bytes but implements no Object Lock (measured in @20minutes/s3rver 4.0.4:
// GET ?object-lock, ?versions, ?retention and ?legal-hold answer 501/405, and the
// x-amz-object-lock-* headers of PutObject are dropped). The proxy adds what AWS S3 does,
// as documented, to the degree dbops relies on it:
//   - GetObjectLockConfiguration: Enabled, or 404 ObjectLockConfigurationNotFoundError;
//   - PutObject / CreateMultipartUpload with lock headers: refused with 400 InvalidRequest
//     on a bucket without lock, and without Content-MD5 or x-amz-checksum-* (PutObject and
//     each UploadPart of a locked upload); a wrong Content-MD5 is 400 BadDigest;
//   - versions (one version id per write), ListObjectVersions, HEAD with the
//     x-amz-object-lock-* headers, DELETE ?versionId refused with 403 AccessDenied while the
//     version is retained or held; PutObjectRetention that never shortens (403), legal hold.
// Every request is recorded (method, key, query, lock headers, checksum headers, status)
// so tests can assert what the real client sent. Not modelled: delete markers (a DELETE
// without versionId is recorded and passed through), bucket default retention, pagination
// of version listings, multi-object delete.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3TestServer } from './s3-server.js';

export type S3Mode = 'GOVERNANCE' | 'COMPLIANCE';

export interface EmulatedVersion {
  versionId: string;
  mode?: S3Mode;
  retainUntil?: Date;
  legalHold: boolean;
  size: number;
  modified: Date;
}

export interface RecordedRequest {
  method: string;
  /** Object key in the bucket (with the repository prefix); null for bucket requests. */
  key: string | null;
  /** Query parameter names, e.g. ['uploads'], ['versionId'], ['retention']. */
  query: string[];
  lockMode?: string;
  retainUntil?: string;
  legalHold?: string;
  contentMd5: boolean;
  checksum: boolean;
  bypassGovernance: boolean;
  /** Parsed body of PutObjectRetention / PutObjectLegalHold. */
  retention?: { mode: string; until: string };
  status: number;
}

export interface ObjectLockProxy {
  readonly endpoint: string;
  /** Storage URL through the proxy: s3://bucket/prefix?endpoint=…&region=us-east-1 */
  url(prefix?: string): string;
  readonly requests: RecordedRequest[];
  /** The bucket's Object Lock switch (GetObjectLockConfiguration and upload checks). */
  lockEnabled: boolean;
  /** Answer 403 AccessDenied to every versioned DELETE of a matching key, locked or not. */
  denyDelete: ((key: string) => boolean) | undefined;
  /** Versions of a key, oldest first (empty when absent). */
  versions(key: string): EmulatedVersion[];
  /** Keys with at least one version, under `prefix`. */
  keys(prefix?: string): string[];
  /** Let time pass for the versions of keys matching `match`: their retain-until moves to the past. */
  expire(match: (key: string) => boolean): number;
  close(): Promise<void>;
}

const xml = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;

const tag = (body: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startObjectLockProxy(upstream: S3TestServer, options: { lockEnabled?: boolean } = {}): Promise<ObjectLockProxy> {
  const up = new URL(upstream.endpoint);
  const bucket = upstream.bucket;
  const store = new Map<string, EmulatedVersion[]>();
  const pending = new Map<string, { mode?: S3Mode; retainUntil?: Date; legalHold: boolean }>();
  const requests: RecordedRequest[] = [];
  let counter = 0;
  const state: { lockEnabled: boolean; denyDelete: ((key: string) => boolean) | undefined } = { lockEnabled: options.lockEnabled ?? true, denyDelete: undefined };

  const locked = (v: EmulatedVersion): boolean => v.legalHold || (v.retainUntil !== undefined && v.retainUntil.getTime() > Date.now());

  const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const h: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(headers)) if (v !== undefined && k !== 'expect' && k !== 'transfer-encoding' && k !== 'content-length') h[k] = v;
      if (body.length || method === 'PUT' || method === 'POST') h['content-length'] = String(body.length);
      const r = request({ host: up.hostname, port: up.port, method, path, headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const u = new URL(req.url ?? '/', 'http://proxy');
    const segments = u.pathname.split('/').slice(1);
    const key = segments.length > 1 && segments.slice(1).join('/') !== '' ? segments.slice(1).map(decodeURIComponent).join('/') : null;
    const q = [...u.searchParams.keys()].filter((k) => k !== 'x-id');
    const has = (name: string): boolean => u.searchParams.has(name);
    const method = req.method ?? 'GET';
    const hdr = (name: string): string | undefined => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const rec: RecordedRequest = {
      method,
      key,
      query: q,
      ...(hdr('x-amz-object-lock-mode') ? { lockMode: hdr('x-amz-object-lock-mode') } : {}),
      ...(hdr('x-amz-object-lock-retain-until-date') ? { retainUntil: hdr('x-amz-object-lock-retain-until-date') } : {}),
      ...(hdr('x-amz-object-lock-legal-hold') ? { legalHold: hdr('x-amz-object-lock-legal-hold') } : {}),
      contentMd5: hdr('content-md5') !== undefined,
      checksum: Object.keys(req.headers).some((k) => k.startsWith('x-amz-checksum-') && k !== 'x-amz-checksum-algorithm') || hdr('x-amz-trailer') !== undefined,
      bypassGovernance: hdr('x-amz-bypass-governance-retention') === 'true',
      status: 0,
    };
    requests.push(rec);
    const send = (status: number, text = '', headers: Record<string, string> = {}): void => {
      rec.status = status;
      res.writeHead(status, { ...(text ? { 'content-type': 'application/xml' } : {}), ...headers });
      res.end(method === 'HEAD' ? undefined : text);
    };
    const pass = async (path = req.url ?? '/'): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> => {
      const r = await forward(method, path, req.headers, body);
      return r;
    };
    const relay = (r: { status: number; headers: IncomingHttpHeaders; body: Buffer }, extra: Record<string, string> = {}): void => {
      rec.status = r.status;
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection') headers[k] = v;
      res.writeHead(r.status, { ...headers, ...extra });
      res.end(method === 'HEAD' ? undefined : r.body);
    };
    const newVersion = (k: string, size: number, lock: { mode?: S3Mode; retainUntil?: Date; legalHold: boolean }): EmulatedVersion => {
      const v: EmulatedVersion = { versionId: `v${++counter}-${randomBytes(3).toString('hex')}`, legalHold: lock.legalHold, size, modified: new Date(), ...(lock.mode ? { mode: lock.mode } : {}), ...(lock.retainUntil ? { retainUntil: lock.retainUntil } : {}) };
      store.set(k, [...(store.get(k) ?? []), v]);
      return v;
    };
    const requestLock = (): { mode?: S3Mode; retainUntil?: Date; legalHold: boolean } | 'bad' => {
      const mode = hdr('x-amz-object-lock-mode');
      const until = hdr('x-amz-object-lock-retain-until-date');
      if ((mode === undefined) !== (until === undefined)) return 'bad';
      if (mode !== undefined && mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') return 'bad';
      return { ...(mode ? { mode: mode as S3Mode, retainUntil: new Date(until!) } : {}), legalHold: hdr('x-amz-object-lock-legal-hold') === 'ON' };
    };
    const integrity = (lockParams: boolean): string | undefined => {
      const md5 = hdr('content-md5');
      if (md5 !== undefined && md5 !== createHash('md5').update(body).digest('base64')) return xml('BadDigest', 'The Content-MD5 you specified did not match what we received.');
      if (lockParams && md5 === undefined && !rec.checksum) return xml('InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
      return undefined;
    };

    if (segments[0] !== bucket) return relay(await pass());

    // Bucket-level calls.
    if (key === null) {
      if (method === 'GET' && has('object-lock')) {
        if (!state.lockEnabled) return send(404, xml('ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket'));
        return send(200, '<?xml version="1.0" encoding="UTF-8"?>\n<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>');
      }
      if (method === 'GET' && has('versions')) {
        const prefix = u.searchParams.get('prefix') ?? '';
        const entries = [...store.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const items = entries.flatMap(([k, vs]) =>
          [...vs].reverse().map((v, i) => `<Version><Key>${k}</Key><VersionId>${v.versionId}</VersionId><IsLatest>${i === 0}</IsLatest><LastModified>${v.modified.toISOString()}</LastModified><ETag>"x"</ETag><Size>${v.size}</Size><StorageClass>STANDARD</StorageClass></Version>`),
        );
        return send(200, `<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${items.join('')}</ListVersionsResult>`);
      }
      return relay(await pass());
    }

    const versions = store.get(key) ?? [];
    const wanted = u.searchParams.get('versionId');
    const current = wanted ? versions.find((v) => v.versionId === wanted) : versions.at(-1);

    if (method === 'PUT' && has('retention')) {
      const text = body.toString();
      const mode = tag(text, 'Mode') as S3Mode | undefined;
      const until = tag(text, 'RetainUntilDate');
      rec.retention = { mode: mode ?? '', until: until ?? '' };
      if (!state.lockEnabled) return send(400, xml('InvalidRequest', 'Bucket is missing Object Lock Configuration'));
      if (!current) return send(404, xml('NoSuchKey', 'The specified key does not exist.'));
      if (!mode || !until) return send(400, xml('MalformedXML', 'retention needs Mode and RetainUntilDate'));
      const date = new Date(until);
      if (current.retainUntil && current.retainUntil.getTime() > Date.now()) {
        const shorter = date.getTime() < current.retainUntil.getTime();
        if (current.mode === 'COMPLIANCE' && (shorter || mode === 'GOVERNANCE')) return send(403, xml('AccessDenied', 'Access Denied because object protected by object lock.'));
        if (current.mode === 'GOVERNANCE' && shorter && !rec.bypassGovernance) return send(403, xml('AccessDenied', 'Access Denied because object protected by object lock.'));
      }
      current.mode = mode;
      current.retainUntil = date;
      return send(200);
    }
    if (method === 'PUT' && has('legal-hold')) {
      const status = tag(body.toString(), 'Status');
      rec.retention = { mode: `legal-hold ${status ?? ''}`, until: '' };
      if (!current) return send(404, xml('NoSuchKey', 'The specified key does not exist.'));
      current.legalHold = status === 'ON';
      return send(200);
    }
    if (method === 'GET' && (has('retention') || has('legal-hold'))) {
      if (!current) return send(404, xml('NoSuchKey', 'The specified key does not exist.'));
      if (has('legal-hold')) return send(200, `<LegalHold><Status>${current.legalHold ? 'ON' : 'OFF'}</Status></LegalHold>`);
      if (!current.mode) return send(404, xml('NoSuchObjectLockConfiguration', 'The specified object does not have a ObjectLock configuration'));
      return send(200, `<Retention><Mode>${current.mode}</Mode><RetainUntilDate>${current.retainUntil!.toISOString()}</RetainUntilDate></Retention>`);
    }
    if (method === 'HEAD') {
      if (wanted && !current) return send(404);
      const r = await forward('HEAD', u.pathname, req.headers, Buffer.alloc(0));
      if (r.status !== 200 || !current) return relay(r);
      return relay(r, {
        'x-amz-version-id': current.versionId,
        ...(current.mode ? { 'x-amz-object-lock-mode': current.mode, 'x-amz-object-lock-retain-until-date': current.retainUntil!.toISOString() } : {}),
        'x-amz-object-lock-legal-hold': current.legalHold ? 'ON' : 'OFF',
      });
    }
    if (method === 'DELETE' && wanted) {
      if (!current) return send(204);
      if (locked(current) || state.denyDelete?.(key)) return send(403, xml('AccessDenied', 'Access Denied because object protected by object lock.'));
      const left = versions.filter((v) => v !== current);
      if (left.length) store.set(key, left);
      else {
        store.delete(key);
        const r = await forward('DELETE', u.pathname, req.headers, Buffer.alloc(0));
        if (r.status >= 300) return relay(r);
      }
      return send(204, '', { 'x-amz-version-id': current.versionId });
    }
    if (method === 'DELETE' && !has('uploadId')) {
      // Unversioned delete: S3 would add a delete marker. Recorded; passed through.
      store.delete(key);
      return relay(await pass());
    }
    if (method === 'PUT' && q.length === 0 && !req.headers['x-amz-copy-source']) {
      const lock = requestLock();
      if (lock === 'bad') return send(400, xml('InvalidRequest', 'x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must come together'));
      const lockParams = lock.mode !== undefined || lock.legalHold;
      if (lockParams && !state.lockEnabled) return send(400, xml('InvalidRequest', 'Bucket is missing Object Lock Configuration'));
      const bad = integrity(lockParams);
      if (bad) return send(400, bad);
      const r = await pass();
      if (r.status !== 200) return relay(r);
      const v = newVersion(key, body.length, lock);
      return relay(r, { 'x-amz-version-id': v.versionId });
    }
    if (method === 'POST' && has('uploads')) {
      const lock = requestLock();
      if (lock === 'bad') return send(400, xml('InvalidRequest', 'x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must come together'));
      if ((lock.mode || lock.legalHold) && !state.lockEnabled) return send(400, xml('InvalidRequest', 'Bucket is missing Object Lock Configuration'));
      const r = await pass();
      const id = tag(r.body.toString(), 'UploadId');
      if (r.status === 200 && id) pending.set(id, lock);
      return relay(r);
    }
    if (method === 'PUT' && has('uploadId') && has('partNumber')) {
      const lock = pending.get(u.searchParams.get('uploadId')!);
      const bad = integrity(Boolean(lock && (lock.mode || lock.legalHold)));
      if (bad) return send(400, bad);
      return relay(await pass());
    }
    if (method === 'POST' && has('uploadId')) {
      const id = u.searchParams.get('uploadId')!;
      const r = await pass();
      if (r.status !== 200 || /<Error>/.test(r.body.toString())) return relay(r);
      const v = newVersion(key, 0, pending.get(id) ?? { legalHold: false });
      pending.delete(id);
      return relay(r, { 'x-amz-version-id': v.versionId });
    }
    return relay(await pass());
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/xml' });
      res.end(xml('InternalError', String((err as Error).message)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    url: (prefix = '') => `s3://${bucket}/${prefix.replace(/^\/+/, '')}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`,
    requests,
    get lockEnabled() {
      return state.lockEnabled;
    },
    set lockEnabled(v: boolean) {
      state.lockEnabled = v;
    },
    get denyDelete() {
      return state.denyDelete;
    },
    set denyDelete(f: ((key: string) => boolean) | undefined) {
      state.denyDelete = f;
    },
    versions: (k) => [...(store.get(k) ?? [])],
    keys: (prefix = '') => [...store.keys()].filter((k) => k.startsWith(prefix)).sort(),
    expire: (match) => {
      let n = 0;
      for (const [k, vs] of store) {
        if (!match(k)) continue;
        for (const v of vs) {
          if (v.retainUntil) {
            v.retainUntil = new Date(Date.now() - 1000);
            n++;
          }
        }
      }
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
