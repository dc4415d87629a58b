// The stored hash of a local object is read through alternating buffers (one read under way
// while the other is hashed): an object of several reads must hash as a whole, and a byte
// changed in any read of it must be found.
import { randomBytes, createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/open-storage.js';
import { checkStoredObject } from '../../src/pipeline/part-download.js';
import { VerificationError } from '../../src/errors.js';
import type { ManifestPart } from '../../src/manifest/backup-manifest.js';
import { tempDir } from '../helpers/temp-dirs.js';

const MiB = 1024 * 1024;

describe('the stored hash of a local object', () => {
  it('covers every read of an object of several, and finds a byte changed in any of them', async () => {
    const dir = await tempDir('dbops-stored-hash-');
    const storage = await openStorage(pathToFileURL(dir).href);
    const body = randomBytes(3 * MiB + 12345);
    const key = 'backups/x/parts/00001.blobs.tsv.zst.age';
    await storage.put(key, body);
    const part = {
      name: 'x.blobs',
      key,
      kind: 'table',
      database: 'x',
      table: 'blobs',
      rows: null,
      rawBytes: 0,
      rawSha256: null,
      storedBytes: body.length,
      storedSha256: createHash('sha256').update(body).digest('hex'),
    } as ManifestPart;
    await expect(checkStoredObject(storage, part)).resolves.toBeUndefined();
    const path = join(dir, key);
    for (const at of [10, MiB + 7, 2 * MiB + 99, body.length - 1]) {
      const bad = Buffer.from(await readFile(path));
      bad[at]! ^= 0xff;
      await writeFile(path, bad);
      const err = await checkStoredObject(storage, part).then(() => undefined, (e: unknown) => e);
      expect(err, `byte ${at}`).toBeInstanceOf(VerificationError);
      expect((err as Error).message).toMatch(/the object was altered/);
      await writeFile(path, body);
    }
    await expect(checkStoredObject(storage, part)).resolves.toBeUndefined();
  });
});
