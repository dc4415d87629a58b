// `dbops verify`: needs no database. Checks the manifest signature, then every part:
// the stored hash always, and — with the private identity — decryption (age's AEAD),
// decompression and the raw hash, i.e. that the backup really opens.
import { pipeline } from 'node:stream/promises';
import type { Repository } from '../repo/repository.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import { openPartSource, checkStoredObject, describePart } from '../pipeline/part-download.js';
import { VerificationError, UsageError } from '../errors.js';

export interface PartCheck {
  key: string;
  what: string;
  ok: boolean;
  depth: 'stored-hash' | 'content';
  problem?: string;
}

export interface VerifyResult {
  backupId: string;
  depth: 'stored-hash' | 'content';
  parts: PartCheck[];
  ok: boolean;
}

export async function verifyBackup(repo: Repository, manifest: BackupManifest, identityFile: string | undefined): Promise<VerifyResult> {
  const depth = identityFile ? 'content' : 'stored-hash';
  const parts: PartCheck[] = [];
  for (const part of manifest.parts) {
    const what = describePart(part);
    try {
      if (identityFile) {
        const src = await openPartSource(repo.storage, part, identityFile);
        await Promise.all([
          pipeline(src.raw, async function* (s) {
            for await (const _ of s) {
              /* drain */
            }
          }).catch(() => undefined),
          src.done,
        ]);
      } else {
        await checkStoredObject(repo.storage, part);
      }
      parts.push({ key: part.key, what, ok: true, depth });
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (!(err instanceof VerificationError)) throw err;
      parts.push({ key: part.key, what, ok: false, depth, problem: err.message });
    }
  }
  return { backupId: manifest.id, depth, parts, ok: parts.every((p) => p.ok) };
}
