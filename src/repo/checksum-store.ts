// Signed source-checksum sets under checksums/<id>.json: what a content restore test must
// reproduce, taken inside one snapshot at a recorded binlog position.
import { z } from 'zod';
import type { Repository } from './repository.js';
import type { ChecksumSet } from '../checksum/take-checksums.js';
import { checksumKey, checksumsPrefix, newBackupId, parseChecksumKey } from '../storage/layout.js';
import { decodeDocument, documentType, encodeDocument, type SignedDoc } from './signed-document.js';

export const checksumSetDoc = documentType('horizn-dbops/source-checksums', 1, 'source checksum set', {
  id: z.string(),
  repositoryId: z.string(),
  takenAt: z.string(),
  source: z.object({ flavor: z.enum(['mysql', 'mariadb']), version: z.string(), serverUuid: z.string() }),
  point: z.object({ binlogFile: z.string(), binlogPosition: z.number(), gtidSet: z.string().nullable() }),
  tables: z.record(z.string(), z.record(z.string(), z.object({ rows: z.number(), checksum: z.string(), transactional: z.boolean() }))),
  seconds: z.number(),
});
export type StoredChecksums = SignedDoc<typeof checksumSetDoc>;

export class ChecksumStore {
  constructor(private readonly repo: Repository) {}

  async save(set: ChecksumSet): Promise<StoredChecksums> {
    const id = newBackupId(new Date(set.takenAt));
    const { doc, bytes } = encodeDocument(checksumSetDoc, { id, repositoryId: this.repo.config.id, ...set }, this.repo.signer());
    await this.repo.storage.put(checksumKey(id), bytes, { contentType: 'application/json' });
    return doc;
  }

  /** Every stored checksum set, oldest first; one that does not verify is an error (exit 3). */
  async list(): Promise<StoredChecksums[]> {
    const keys: string[] = [];
    for await (const o of this.repo.storage.list(checksumsPrefix)) if (parseChecksumKey(o.key)) keys.push(o.key);
    const out: StoredChecksums[] = [];
    for (const key of keys.sort()) out.push(decodeDocument(checksumSetDoc, await this.repo.storage.getBuffer(key), key, this.repo.publicKey));
    return out;
  }
}
