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

/** `onProgress(done, total)`: raw bytes decrypted (content depth) or stored bytes checked (stored-hash depth). */
export async function verifyBackup(repo: Repository, manifest: BackupManifest, identityFile: string | undefined, onProgress?: (done: number, total: number) => void): Promise<VerifyResult> {
  const depth = identityFile ? 'content' : 'stored-hash';
  const parts: PartCheck[] = [];
  const size = (p: BackupManifest['parts'][number]): number => (identityFile ? p.rawBytes : p.storedBytes);
  const total = manifest.parts.reduce((n, p) => n + size(p), 0);
  let before = 0;
  for (const part of manifest.parts) {
    let seen = 0;
    const what = describePart(part);
    try {
      if (identityFile) {
        const src = await openPartSource(repo.storage, part, identityFile);
        await Promise.all([
          pipeline(src.raw, async function* (s) {
            for await (const chunk of s) {
              seen += (chunk as Buffer).length;
              onProgress?.(before + seen, total);
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
    before += size(part);
    onProgress?.(before, total);
  }
  return { backupId: manifest.id, depth, parts, ok: parts.every((p) => p.ok) };
}
