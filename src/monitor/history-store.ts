// What database monitoring keeps in the repository, as signed documents through the one codec:
// one storage sample per source and day (the first look of the day writes it, create-only, so
// the daemon and a `dbops db report` racing for the day cannot both write it), and how far the
// daemon has read the server's error log (rewritten every look, so stored unlocked).
import { z } from 'zod';
import type { Repository } from '../repo/repository.js';
import { decodeDocument, documentType, encodeDocument, type SignedDoc } from '../repo/signed-document.js';
import { createIfAbsent } from '../storage/conditional-create.js';
import { errorLogPositionKey, parseStorageSampleKey, storageSampleKey, storageSamplesPrefix } from '../storage/layout.js';
import { VerificationError, isNotFound } from '../errors.js';

export const storageSampleDoc = documentType('horizn-dbops/storage-sample', 1, 'storage sample', {
  sourceId: z.string(),
  day: z.string(),
  takenAt: z.string(),
  databases: z.array(z.string()),
  /** Data + index bytes of every table below. */
  totalBytes: z.number(),
  tables: z.array(z.object({ schema: z.string(), table: z.string(), dataBytes: z.number(), indexBytes: z.number(), rows: z.number() })),
});
export type StorageSample = SignedDoc<typeof storageSampleDoc>;

export const errorLogPositionDoc = documentType('horizn-dbops/error-log-position', 1, 'error-log position', {
  sourceId: z.string(),
  lookedAt: z.string(),
  source: z.enum(['file', 'table']),
  /** file: its path, the byte offset read up to, and sha256 of its first bytes (a new file after rotation has other ones). */
  file: z.string().nullable(),
  offset: z.number().nullable(),
  head: z.string().nullable(),
  /** table (performance_schema.error_log): the LOGGED time of the newest entry read. */
  lastLogged: z.string().nullable(),
});
export type ErrorLogPosition = SignedDoc<typeof errorLogPositionDoc>;

/** Writes the day's sample unless one exists; true when this call wrote it. */
export async function recordStorageSample(repo: Repository, sample: Omit<StorageSample, 'signature' | 'format' | 'version'>): Promise<boolean> {
  const key = storageSampleKey(sample.sourceId, sample.day);
  if (await repo.storage.stat(key)) return false;
  const { bytes } = encodeDocument(storageSampleDoc, sample, repo.signer());
  return createIfAbsent(repo.storage, key, bytes, { contentType: 'application/json' });
}

/** Samples of `sourceId` from `sinceDay` on, oldest first; ones that do not verify are named, not used. */
export async function readStorageSamples(repo: Repository, sourceId: string, sinceDay: string): Promise<{ samples: StorageSample[]; problems: string[] }> {
  const keys: string[] = [];
  for await (const o of repo.storage.list(storageSamplesPrefix(sourceId))) {
    const k = parseStorageSampleKey(o.key);
    if (k && k.day >= sinceDay) keys.push(o.key);
  }
  const samples: StorageSample[] = [];
  const problems: string[] = [];
  for (const key of keys.sort()) {
    try {
      samples.push(decodeDocument(storageSampleDoc, await repo.storage.getBuffer(key), key, repo.publicKey));
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      problems.push(err.message);
    }
  }
  return { samples, problems };
}

export async function readErrorLogPosition(repo: Repository, sourceId: string): Promise<ErrorLogPosition | null> {
  const key = errorLogPositionKey(sourceId);
  try {
    return decodeDocument(errorLogPositionDoc, await repo.storage.getBuffer(key), key, repo.publicKey);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

export async function saveErrorLogPosition(repo: Repository, position: Omit<ErrorLogPosition, 'signature' | 'format' | 'version'>): Promise<void> {
  const { bytes } = encodeDocument(errorLogPositionDoc, position, repo.signer());
  await repo.storage.put(errorLogPositionKey(position.sourceId), bytes, { contentType: 'application/json', unlocked: true });
}
