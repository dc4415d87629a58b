// A repository is a storage location plus its repo.json. Opening one verifies repo.json;
// listing backups reads only manifests (the commit markers) and verifies each one, so
// data objects without a valid manifest never show up as a backup.
import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Storage } from '../storage/storage.js';
import { repoJsonKey, backupManifestKey } from '../storage/layout.js';
import { parseRepoConfig, REPO_FORMAT, REPO_VERSION, type RepoConfig } from './repo-config.js';
import { parseVerifiedManifest, type BackupManifest } from '../manifest/backup-manifest.js';
import { signDocument, type SigningKey } from '../crypto/signing.js';
import { recipientFingerprint } from '../crypto/age.js';
import { UsageError, VerificationError, isNotFound } from '../errors.js';
import { log } from '../util/logger.js';

export interface Repository {
  storage: Storage;
  config: RepoConfig;
  /** Key that manifests and reports must be signed with. */
  publicKey: KeyObject;
}

export async function initRepository(storage: Storage, signingKey: SigningKey, recipients: readonly string[]): Promise<RepoConfig> {
  if (await storage.stat(repoJsonKey)) {
    throw new UsageError(`a repository already exists at ${storage.location}; refusing to overwrite its repo.json (choose another storage URL)`);
  }
  const doc = signDocument(
    {
      format: REPO_FORMAT,
      version: REPO_VERSION,
      id: randomUUID(),
      created: new Date().toISOString(),
      signingPublicKey: signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      signingKeyId: signingKey.keyId,
      recipients: recipients.map((r) => ({ fingerprint: recipientFingerprint(r), recipient: r })),
    },
    signingKey,
  );
  await storage.put(repoJsonKey, Buffer.from(`${JSON.stringify(doc, null, 2)}\n`), { contentType: 'application/json' });
  return doc as RepoConfig;
}

/** Open and verify; `pinned` (an auditor's out-of-band key) overrides repo.json's own key. */
export async function openRepository(storage: Storage, pinned?: KeyObject): Promise<Repository> {
  let bytes: Buffer;
  try {
    bytes = await storage.getBuffer(repoJsonKey);
  } catch (err) {
    if (isNotFound(err)) throw new UsageError(`no repository at ${storage.location}: run "dbops init" first (or check DBOPS_STORAGE_URL)`);
    throw err;
  }
  const { repo, publicKey } = parseRepoConfig(bytes, pinned);
  return { storage, config: repo, publicKey };
}

/** Backup ids with a manifest object, oldest first (ids sort by time). */
export async function listBackupIds(repo: Repository): Promise<string[]> {
  const ids: string[] = [];
  for await (const obj of repo.storage.list('backups/')) {
    const m = /^backups\/([^/]+)\/manifest\.json$/.exec(obj.key);
    if (m) ids.push(m[1]!);
  }
  return ids.sort();
}

export async function readManifest(repo: Repository, id: string): Promise<BackupManifest> {
  const key = backupManifestKey(id);
  let bytes: Buffer;
  try {
    bytes = await repo.storage.getBuffer(key);
  } catch (err) {
    if (isNotFound(err)) throw new UsageError(`backup ${id} does not exist in ${repo.storage.location}; see "dbops list"`);
    throw err;
  }
  const manifest = parseVerifiedManifest(bytes, key, repo.publicKey);
  if (manifest.id !== id) throw new VerificationError(`${key} describes backup ${manifest.id}, not ${id}: manifest was moved or swapped`, key);
  if (manifest.repositoryId !== repo.config.id) throw new VerificationError(`${key} belongs to repository ${manifest.repositoryId}, not ${repo.config.id}`, key);
  return manifest;
}

export interface ListedBackup {
  manifest?: BackupManifest;
  id: string;
  /** Set when the manifest exists but does not verify. */
  problem?: string;
}

/** Every backup with its verified manifest; bad manifests are reported, not hidden. */
export async function listBackups(repo: Repository): Promise<ListedBackup[]> {
  const out: ListedBackup[] = [];
  for (const id of await listBackupIds(repo)) {
    try {
      out.push({ id, manifest: await readManifest(repo, id) });
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      log.warn({ id, err: err.message }, 'backup manifest does not verify; ignoring this backup');
      out.push({ id, problem: err.message });
    }
  }
  return out;
}

/**
 * Resolve `latest`, an id, or a unique id prefix to a verified manifest. Unknown ids are
 * usage errors (exit 2) that point at `dbops list`.
 */
export async function resolveBackup(repo: Repository, ref: string): Promise<BackupManifest> {
  const ids = await listBackupIds(repo);
  if (ref === 'latest') {
    for (const id of ids.reverse()) {
      try {
        return await readManifest(repo, id);
      } catch (err) {
        if (!(err instanceof VerificationError)) throw err;
        log.warn({ id, err: err.message }, 'skipping backup whose manifest does not verify');
      }
    }
    throw new UsageError(`no backup in ${repo.storage.location} yet: run "dbops backup" first`);
  }
  const matches = ids.filter((id) => id === ref || id.startsWith(ref));
  if (matches.length === 0) throw new UsageError(`backup ${ref} does not exist in ${repo.storage.location}; see "dbops list"`);
  if (matches.length > 1 && !matches.includes(ref)) throw new UsageError(`backup id prefix ${ref} is ambiguous (${matches.length} backups); give more characters`);
  return readManifest(repo, matches.includes(ref) ? ref : matches[0]!);
}
