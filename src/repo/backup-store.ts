// Backups in a repository: a backup exists only through its manifest (the commit marker,
// written last and signed). Listing reads and verifies every manifest; a manifest that does
// not verify is reported with its problem, never hidden and never silently stepped over.
import type { Repository } from './repository.js';
import { backupManifestKey, backupsPrefix } from '../storage/layout.js';
import { backupManifestDoc, type BackupManifest, type UnsignedManifest } from '../manifest/backup-manifest.js';
import { decodeDocument, encodeDocument } from './signed-document.js';
import { UsageError, VerificationError, isNotFound } from '../errors.js';
import { log } from '../util/logger.js';

export interface ListedBackup {
  id: string;
  manifest?: BackupManifest;
  /** Set when the manifest exists but does not verify. */
  problem?: string;
}

export interface ResolveOptions {
  /** `latest` may step over backups whose manifest does not verify (and says so). */
  skipDamaged?: boolean;
}

export class BackupStore {
  constructor(private readonly repo: Repository) {}

  /** Ids with a manifest object, oldest first (ids sort by time). */
  async ids(): Promise<string[]> {
    const ids: string[] = [];
    for await (const obj of this.repo.storage.list(backupsPrefix)) {
      const m = /^backups\/([^/]+)\/manifest\.json$/.exec(obj.key);
      if (m) ids.push(m[1]!);
    }
    return ids.sort();
  }

  async read(id: string): Promise<BackupManifest> {
    const key = backupManifestKey(id);
    let bytes: Buffer;
    try {
      bytes = await this.repo.storage.getBuffer(key);
    } catch (err) {
      if (isNotFound(err)) throw new UsageError(`backup ${id} does not exist in ${this.repo.storage.location}; see "dbops list"`);
      throw err;
    }
    const manifest = decodeDocument(backupManifestDoc, bytes, key, this.repo.publicKey);
    if (manifest.id !== id) throw new VerificationError(`${key} describes backup ${manifest.id}, not ${id}: manifest was moved or swapped`, key);
    if (manifest.repositoryId !== this.repo.config.id) throw new VerificationError(`${key} belongs to repository ${manifest.repositoryId}, not ${this.repo.config.id}`, key);
    return manifest;
  }

  /** Every backup with its verified manifest; bad manifests are listed with their problem. */
  async list(): Promise<ListedBackup[]> {
    const out: ListedBackup[] = [];
    for (const id of await this.ids()) {
      try {
        out.push({ id, manifest: await this.read(id) });
      } catch (err) {
        if (!(err instanceof VerificationError)) throw err;
        out.push({ id, problem: err.message });
      }
    }
    return out;
  }

  /**
   * `latest`, an id, or a unique id prefix → its verified manifest. A `latest` whose
   * manifest does not verify is an integrity failure (exit 3) naming it, unless the caller
   * asked to skip damaged backups; unknown ids are usage errors pointing at `dbops list`.
   */
  async resolve(ref: string, options: ResolveOptions = {}): Promise<BackupManifest> {
    const ids = await this.ids();
    if (ref === 'latest') {
      if (ids.length === 0) throw new UsageError(`no backup in ${this.repo.storage.location} yet: run "dbops backup" first`);
      const skipped: string[] = [];
      for (const id of [...ids].reverse()) {
        try {
          const manifest = await this.read(id);
          if (skipped.length) log.warn({ using: id, skipped }, `--skip-damaged: using backup ${id}, the newest whose manifest verifies; skipped ${skipped.join(', ')}`);
          return manifest;
        } catch (err) {
          if (!(err instanceof VerificationError)) throw err;
          if (!options.skipDamaged) {
            throw new VerificationError(`the newest backup ${id} does not verify (${err.message}); investigate it, or pass --skip-damaged to use the newest backup that verifies`, err.object, { cause: err });
          }
          skipped.push(id);
        }
      }
      throw new VerificationError(`no backup in ${this.repo.storage.location} verifies (${skipped.length} damaged: ${skipped.join(', ')})`);
    }
    const matches = ids.filter((id) => id === ref || id.startsWith(ref));
    if (matches.length === 0) throw new UsageError(`backup ${ref} does not exist in ${this.repo.storage.location}; see "dbops list"`);
    if (matches.length > 1 && !matches.includes(ref)) throw new UsageError(`backup id prefix ${ref} is ambiguous (${matches.length} backups); give more characters`);
    return this.read(matches.includes(ref) ? ref : matches[0]!);
  }

  /** The commit point of a backup: sign and store its manifest. Before this put the backup does not exist. */
  async commit(unsigned: UnsignedManifest): Promise<BackupManifest> {
    const { doc, bytes } = encodeDocument(backupManifestDoc, unsigned, this.repo.signer());
    await this.repo.storage.put(backupManifestKey(doc.id), bytes, { contentType: 'application/json' });
    return doc;
  }
}
