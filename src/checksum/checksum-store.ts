// Signed source-checksum sets under checksums/<id>.json, read back verified.
import { z } from 'zod';
import type { Repository } from '../repo/repository.js';
import type { ChecksumSet } from './take-checksums.js';
import { signDocument, verifyDocument, type SigningKey } from '../crypto/signing.js';
import { newBackupId } from '../storage/layout.js';
import { VerificationError } from '../errors.js';

export const CHECKSUMS_PREFIX = 'checksums/';
export const CHECKSUM_FORMAT = 'horizn-dbops/source-checksums';

export function checksumKey(id: string): string {
  return `${CHECKSUMS_PREFIX}${id}.json`;
}

const storedSchema = z.object({
  format: z.literal(CHECKSUM_FORMAT),
  version: z.literal(1),
  id: z.string(),
  repositoryId: z.string(),
  takenAt: z.string(),
  source: z.object({ flavor: z.enum(['mysql', 'mariadb']), version: z.string(), serverUuid: z.string() }),
  point: z.object({ binlogFile: z.string(), binlogPosition: z.number(), gtidSet: z.string().nullable() }),
  tables: z.record(z.string(), z.record(z.string(), z.object({ rows: z.number(), checksum: z.string(), transactional: z.boolean() }))),
  seconds: z.number(),
  signature: z.object({ alg: z.literal('ed25519'), keyId: z.string(), value: z.string() }),
});
export type StoredChecksums = z.infer<typeof storedSchema>;

export async function saveChecksums(repo: Repository, set: ChecksumSet, key: SigningKey): Promise<StoredChecksums> {
  const id = newBackupId(new Date(set.takenAt));
  const doc = signDocument({ format: CHECKSUM_FORMAT, version: 1 as const, id, repositoryId: repo.config.id, ...set }, key) as StoredChecksums;
  await repo.storage.put(checksumKey(id), Buffer.from(`${JSON.stringify(doc, null, 2)}\n`), { contentType: 'application/json' });
  return doc;
}

/** Every stored checksum set that verifies, oldest first. */
export async function listChecksums(repo: Repository): Promise<StoredChecksums[]> {
  const out: StoredChecksums[] = [];
  const keys: string[] = [];
  for await (const o of repo.storage.list(CHECKSUMS_PREFIX)) if (o.key.endsWith('.json')) keys.push(o.key);
  for (const key of keys.sort()) {
    const json: unknown = JSON.parse((await repo.storage.getBuffer(key)).toString('utf8'));
    verifyDocument(json, repo.publicKey, key);
    const parsed = storedSchema.safeParse(json);
    if (!parsed.success) throw new VerificationError(`${key} is not a source-checksum set of format 1`, key);
    out.push(parsed.data);
  }
  return out;
}
