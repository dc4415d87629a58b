// Storage URL parsing: every mistake is a one-line UsageError that says what to write
// instead, and no URL with credentials is ever echoed back.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { describeStorageUrl, openStorage, parseStorageUrl } from '../../src/storage/open-storage.js';
import { S3Storage } from '../../src/storage/s3-storage.js';

function usageMessage(url: string): string {
  try {
    parseStorageUrl(url);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error(`expected ${url} to be rejected`);
}

describe('parseStorageUrl', () => {
  it('parses s3 URLs with endpoint, region and path style', () => {
    expect(parseStorageUrl('s3://my-bucket/backups/prod?endpoint=http://127.0.0.1:9000&region=eu-west-1')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'backups/prod',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
    });
    expect(parseStorageUrl('s3://my-bucket')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: '' });
    expect(parseStorageUrl('s3://my-bucket/p/?forcePathStyle=false&endpoint=https%3A%2F%2Fs3.example.com')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'p',
      endpoint: 'https://s3.example.com',
      forcePathStyle: false,
    });
  });

  it('parses absolute and relative file URLs', () => {
    expect(parseStorageUrl('file:///var/backups/db')).toEqual({ kind: 'file', root: '/var/backups/db' });
    expect(parseStorageUrl('file:///tmp/with%20space')).toEqual({ kind: 'file', root: '/tmp/with space' });
    expect(parseStorageUrl('file://./backups')).toEqual({ kind: 'file', root: path.resolve(process.cwd(), 'backups') });
    expect(parseStorageUrl('file://../up')).toEqual({ kind: 'file', root: path.resolve(process.cwd(), '../up') });
  });

  it.each([
    ['foo', /storage URL "foo" is not valid: it has no scheme; use s3:\/\/bucket\/prefix\?endpoint=…&region=… or file:\/\/\/path/],
    ['http://example.com/x', /unknown scheme "http:"/],
    ['gs://bucket/x', /unknown scheme "gs:"/],
    ['s3://', /bucket name is missing/],
    ['s3:///prefix', /bucket name is missing/],
    ['s3:bucket/x', /start with s3:\/\//],
    ['s3://Bad_Bucket/x', /"Bad_Bucket" is not a valid bucket name/],
    ['s3://bucket:9000/x', /port belongs in \?endpoint=/],
    ['s3://bucket/x?regoin=us-east-1', /unknown parameter "regoin"/],
    ['s3://bucket/x?endpoint=ftp://host', /endpoint must be an http/],
    ['s3://bucket/x?endpoint=notaurl', /endpoint must be an http/],
    ['s3://bucket/x?forcePathStyle=yes', /forcePathStyle must be true or false/],
    ['s3://bucket/a/../b', /prefix must not contain/],
    ['file://backups', /use file:\/\/\/absolute\/path or file:\/\/.\/relative\/path/],
    ['file:/var/backups', /file URLs start with file:\/\//],
    ['file:///', /filesystem root/],
    ['file:///x?y=1', /no query/],
  ])('rejects %s', (url, expected) => {
    expect(usageMessage(url)).toMatch(expected);
  });

  it('never echoes credentials from a rejected URL', () => {
    const msg = usageMessage('s3://AKIAXXXX:topsecret@bucket/prefix');
    expect(msg).toMatch(/credentials do not belong in the URL/);
    expect(msg).not.toContain('topsecret');
    expect(msg).not.toContain('AKIAXXXX');
    const msg2 = usageMessage('s3://bucket/p?endpoint=http://user:hunter2@127.0.0.1:9000');
    expect(msg2).not.toContain('hunter2');
    const msg3 = usageMessage('s3://bucket/p?secretKey=hunter3');
    expect(msg3).not.toContain('hunter3');
  });
});

describe('describeStorageUrl', () => {
  it('strips credentials and secret-looking parameters', () => {
    expect(describeStorageUrl('s3://AKIA:secret@bucket/p?region=us-east-1')).toBe('s3://bucket/p?region=us-east-1');
    expect(describeStorageUrl('s3://b/p?endpoint=http://u:pw@h:9000&region=x')).toBe('s3://b/p?endpoint=http://h:9000&region=x');
    expect(describeStorageUrl('s3://b/p?endpoint=http%3A%2F%2Fu%3Apw%40h%3A9000')).toBe('s3://b/p?endpoint=http%3A%2F%2Fh%3A9000');
    expect(describeStorageUrl('s3://b/p?X-Amz-Signature=abc&sessionToken=t')).toBe('s3://b/p?X-Amz-Signature=[redacted]&sessionToken=[redacted]');
    expect(describeStorageUrl('file:///var/backups')).toBe('file:///var/backups');
  });
});

describe('openStorage', () => {
  it('opens a retry-wrapped driver whose location has no secrets', async () => {
    expect((await openStorage('s3://bucket/some/prefix?endpoint=http://127.0.0.1:9000')).location).toBe('s3://bucket/some/prefix');
    expect((await openStorage('file:///var/backups')).location).toBe('file:///var/backups');
  });

  it('forces path-style addressing only when an endpoint is given, unless overridden', async () => {
    const style = async (opts: ConstructorParameters<typeof S3Storage>[0]): Promise<boolean | undefined> =>
      (await new S3Storage(opts).client.config.forcePathStyle) as boolean | undefined;
    expect(await style({ bucket: 'b', endpoint: 'http://127.0.0.1:9000' })).toBe(true);
    expect(await style({ bucket: 'b', endpoint: 'http://127.0.0.1:9000', forcePathStyle: false })).toBe(false);
    expect(await style({ bucket: 'b', region: 'us-east-1' })).toBe(false);
  });
});
