// `dbops verify`: needs no database. Checks the manifest signature, then every part:
// the stored hash always, and — with the private identity — decryption (age's AEAD),
// decompression and the raw hash, i.e. that the backup really opens. A physical backup's
// chain (the full and incrementals it applies on) must be whole, and with the identity its
// stream is extracted by mbstream into a temp dir (each chunk's CRC32; the stream's own LSN
// range against the manifest) and removed again. `--prepare` is not run: it costs what a
// restore costs, and is what a restore test does.
import { pipeline } from 'node:stream/promises';
import type { Repository } from '../repo/repository.js';
import type { BackupManifest } from '../manifest/backup-manifest.js';
import { openPartSource, checkStoredObject, describePart } from '../pipeline/part-download.js';
import { tmpdir } from 'node:os';
import { backupManifestKey } from '../storage/layout.js';
import { physicalChain } from '../physical/chain.js';
import { checkPhysicalStream } from '../restore/physical-restore.js';
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
  /** A physical backup: the chain it restores with (full first), or why it cannot be restored. */
  chain?: { ok: boolean; ids: string[]; problem?: string };
  ok: boolean;
}

export interface VerifyOptions {
  /** Physical, with an identity: also extract the stream (needs its raw size in free space under os.tmpdir()). Default true. */
  extract?: boolean;
}

/** `onProgress(done, total)`: raw bytes decrypted (content depth) or stored bytes checked (stored-hash depth). */
export async function verifyBackup(repo: Repository, manifest: BackupManifest, identityFile: string | undefined, onProgress?: (done: number, total: number) => void, verifyOptions: VerifyOptions = {}): Promise<VerifyResult> {
  const depth = identityFile ? 'content' : 'stored-hash';
  const parts: PartCheck[] = [];
  let chain: VerifyResult['chain'];
  if (manifest.kind === 'physical') {
    try {
      chain = { ok: true, ids: (await physicalChain(repo, manifest)).map((m) => m.id) };
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      chain = { ok: false, ids: [], problem: err.message };
      parts.push({ key: backupManifestKey(manifest.id), what: 'the chain it applies on', ok: false, depth, problem: err.message });
    }
  }
  const extract = manifest.kind === 'physical' && identityFile !== undefined && (verifyOptions.extract ?? true);
  const size = (p: BackupManifest['parts'][number]): number => (identityFile ? p.rawBytes : p.storedBytes);
  const total = manifest.parts.reduce((n, p) => n + size(p), 0);
  let before = 0;
  for (const part of manifest.parts) {
    let seen = 0;
    const what = describePart(part);
    try {
      if (identityFile && extract) {
        await checkPhysicalStream(repo, manifest, identityFile, tmpdir(), (n) => onProgress?.(before + n, total));
      } else if (identityFile) {
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
  return { backupId: manifest.id, depth, parts, ...(chain ? { chain } : {}), ok: parts.every((p) => p.ok) };
}
